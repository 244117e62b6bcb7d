// Package apply is the stream apply engine shared by the Lambda function and
// the poller: it writes a batch of DynamoDB Streams records into the mapped
// PostgreSQL tables through the same mapping and bookkeeping as the backfill.
//
// Per item, a record applies only when it is newer than what is applied
// (ledger.ClaimForStream); non-shared tables get the item's rows replaced as
// a set, shared tables are upserted, a REMOVE deletes the item's non-shared
// rows and leaves a tombstone. A batch is written in a few round trips per
// transaction (one claim statement, one pipelined batch, one COPY per
// table), in chunks committed in stream order, so a transient failure leaves
// a committed prefix and nothing after it.
package apply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/pgerr"
	"github.com/ddb2pg/ddb2pg/pkg/pgwrite"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

// TTLMode says what a delete made by DynamoDB's Time To Live does.
type TTLMode int

const (
	// TTLDelete treats it as any REMOVE: the item's rows are deleted.
	TTLDelete TTLMode = iota
	// TTLIgnore keeps the item's rows (PostgreSQL keeps expired items);
	// the item is still marked deleted in the bookkeeping.
	TTLIgnore
	// TTLSoft keeps the rows and sets the soft-delete column (a timestamptz
	// such as deleted_at) of every non-shared table that has it.
	TTLSoft
)

// ParseTTLMode reads "delete" (or ""), "ignore" or "soft".
func ParseTTLMode(s string) (TTLMode, error) {
	switch s {
	case "", "delete":
		return TTLDelete, nil
	case "ignore":
		return TTLIgnore, nil
	case "soft":
		return TTLSoft, nil
	}
	return 0, fmt.Errorf("TTL deletes %q: want delete, ignore or soft", s)
}

func (m TTLMode) String() string {
	switch m {
	case TTLIgnore:
		return "ignore"
	case TTLSoft:
		return "soft"
	}
	return "delete"
}

// Fetcher reads an item's current state with a strongly consistent read
// (KEYS_ONLY streams carry no image). found is false when the item is gone.
type Fetcher interface {
	GetItem(ctx context.Context, keys ddbitem.Item) (item ddbitem.Item, found bool, err error)
}

// DB is what the engine needs from a pool or connection.
type DB interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Config configures an Engine.
type Config struct {
	Mapping *mapping.Mapping
	Ledger  *ledger.Ledger
	TTL     TTLMode
	// SoftDeleteColumn names the column TTLSoft sets (required with TTLSoft).
	SoftDeleteColumn string
	// Fetcher serves KEYS_ONLY records; without it they fail the batch.
	Fetcher Fetcher
	// ChunkSize is the number of records per transaction (0: the whole batch).
	ChunkSize int
	Logger    *slog.Logger
}

// Engine applies batches. It is safe for concurrent use.
type Engine struct {
	cfg    Config
	m      *mapping.Mapping
	tables []*pgwrite.Table

	deleteSet []string // per non-shared table: pgwrite DeleteItems
	upsertSet []string // per shared table: pgwrite UpsertSet ("" when a column type has no array form)

	softOnce sync.Mutex
	soft     []bool // per table: has the soft-delete column (resolved once)

	logged atomic.Pointer[pgwrite.Order] // the tables' order last logged
}

// New checks cfg and builds the engine.
func New(cfg Config) (*Engine, error) {
	if cfg.Mapping == nil || cfg.Ledger == nil {
		return nil, errors.New("apply: Mapping and Ledger are required")
	}
	if cfg.TTL == TTLSoft && cfg.SoftDeleteColumn == "" {
		return nil, errors.New("TTL deletes \"soft\" needs the soft-delete column's name (DDB2PG_SOFT_DELETE_COLUMN or --soft-delete-column)")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg, m: cfg.Mapping, tables: pgwrite.For(cfg.Mapping)}
	e.deleteSet = make([]string, len(e.tables))
	e.upsertSet = make([]string, len(e.tables))
	for ti, rt := range e.tables {
		if !rt.T.Shared && len(rt.T.KeyColumns) > 0 {
			e.deleteSet[ti] = rt.DeleteItems
		}
		if rt.T.Shared {
			e.upsertSet[ti] = rt.UpsertSet
		}
	}
	return e, nil
}

// Stats counts what a batch did.
type Stats struct {
	Records  int // records handled (committed)
	Applied  int // records whose change is in PostgreSQL (including ones superseded in the same batch)
	Skipped  int // stale or duplicate records (already applied or older than what is)
	Rejected int // records recorded in the rejects table
	// TTLIgnored counts TTL deletes kept by TTLIgnore (also counted in Applied).
	TTLIgnored int
	// FirstSeq and LastSeq are the committed range; NewestTime is the latest
	// ApproximateCreationDateTime among committed records (zero if none had one).
	FirstSeq, LastSeq string
	NewestTime        time.Time
}

// Add accumulates o, the stats of a later batch, into s.
func (s *Stats) Add(o Stats) {
	s.Records += o.Records
	s.Applied += o.Applied
	s.Skipped += o.Skipped
	s.Rejected += o.Rejected
	s.TTLIgnored += o.TTLIgnored
	if s.FirstSeq == "" {
		s.FirstSeq = o.FirstSeq
	}
	if o.LastSeq != "" {
		s.LastSeq = o.LastSeq
	}
	if o.NewestTime.After(s.NewestTime) {
		s.NewestTime = o.NewestTime
	}
}

// Result is the outcome of Apply.
type Result struct {
	Stats
	// Committed is the number of leading records that are committed;
	// records[Committed:] are not (none of them is).
	Committed int
	// Err is why records[Committed] could not be committed: nil when all
	// were. Retryable(Err) tells a transient failure (retry from
	// records[Committed]) from a fatal one (configuration, schema).
	Err error
}

// Retryable reports whether err is a transient failure.
func Retryable(err error) bool {
	return pgerr.Classify(err) == pgerr.Retryable || errors.Is(err, errFetch)
}

var errFetch = errors.New("reading the item from DynamoDB")

// ErrNoImage says a record carries no new image. On a KEYS_ONLY stream
// without a Fetcher it fails the batch (the engine is misconfigured); on a
// stream that carries new images the record is rejected (its reason wraps
// this text).
var ErrNoImage = errors.New("record has no NewImage")

// Hook runs inside each chunk's transaction, after its records are written
// and before it commits, with the chunk's records (the poller saves its shard
// checkpoint there so both commit together).
type Hook func(ctx context.Context, tx pgx.Tx, chunk []stream.Record) error

// Apply writes records, in order, committing chunks of Config.ChunkSize
// records. It stops at the first chunk that cannot be committed.
func (e *Engine) Apply(ctx context.Context, db DB, records []stream.Record, hook Hook) Result {
	var res Result
	size := e.cfg.ChunkSize
	if size <= 0 {
		size = len(records)
	}
	for start := 0; start < len(records); start += size {
		end := min(start+size, len(records))
		st, err := e.applyChunk(ctx, db, records[start:end], hook)
		if err != nil {
			res.Err = err
			return res
		}
		res.Add(st)
		res.Committed = end
	}
	return res
}

// kind is what a record does to its item.
type kind int

const (
	kInvalid    kind = iota // unreadable record: reject only
	kWrite                  // new image -> rows
	kRejectImg              // new image the mapping rejects
	kRemove                 // delete the item's rows
	kTTLIgnore              // TTL delete kept
	kSoftDelete             // TTL delete -> soft-delete column
)

type prepared struct {
	rec   *stream.Record
	kind  kind
	key   string
	keys  ddbitem.Item // key attributes
	rows  mapping.Rows
	rej   *ledger.Reject
	index int
}

// reject records why the record p cannot be written (see ledger.NewReject).
func (e *Engine) reject(p *prepared, prob ledger.Problem) {
	rej := ledger.NewReject(ledger.Source{Table: e.m.Source.Table, Stream: true, ShardID: p.rec.ShardID, Seq: p.rec.Seq}, p.key, prob)
	p.rej = &rej
}

// prepare decides each record's effect; KEYS_ONLY images are read from
// DynamoDB (once per item: the last record of each item in the chunk).
func (e *Engine) prepare(ctx context.Context, recs []stream.Record) ([]prepared, error) {
	ps := make([]prepared, len(recs))
	lastOf := map[string]int{}
	for i := range recs {
		r := &recs[i]
		p := &ps[i]
		p.rec, p.index = r, i
		err := r.Err
		if err != nil && r.EventName == stream.Remove && r.Check() == nil {
			// A REMOVE needs no image: one whose old image (or another
			// part it does not need) is unreadable still deletes the item.
			err = nil
		}
		if err == nil {
			err = r.Check()
		}
		if err != nil {
			// Unreadable. When its item and its place in the stream are
			// known, it is the item's change all the same: handled as a
			// rejected image (the version advances, the old rows go).
			// Otherwise it is recorded and changes nothing.
			p.kind = kInvalid
			raw := imageText(r)
			if len(r.Keys) > 0 && stream.ValidSeq(r.Seq) == nil {
				if key, kerr := e.m.KeyOf(r.Keys); kerr == nil {
					p.kind, p.key, p.keys = kRejectImg, string(key), r.Keys
					lastOf[p.key] = i
				}
			}
			e.reject(p, ledger.Problem{Raw: raw, Reason: "unreadable stream record: " + err.Error()})
			continue
		}
		key, err := e.m.KeyOf(r.Keys)
		if err != nil {
			p.kind = kInvalid
			e.reject(p, ledger.Problem{Raw: r.Keys.String(), Reason: "reading the item's key: " + err.Error()})
			continue
		}
		p.key, p.keys = string(key), r.Keys
		lastOf[p.key] = i
		switch {
		case r.EventName == stream.Remove && r.TTL && e.cfg.TTL == TTLIgnore:
			p.kind = kTTLIgnore
		case r.EventName == stream.Remove && r.TTL && e.cfg.TTL == TTLSoft:
			p.kind = kSoftDelete
		case r.EventName == stream.Remove:
			p.kind = kRemove
		default:
			p.kind = kWrite
		}
	}
	var toConvert []conv
	for i := range ps {
		p := &ps[i]
		if p.kind != kWrite {
			continue
		}
		img := p.rec.NewImage
		if img == nil {
			if p.rec.StreamViewType != stream.ViewKeysOnly && p.rec.StreamViewType != "" {
				if p.rec.StreamViewType == stream.ViewOldImage {
					return nil, stream.ErrOldImageOnly
				}
				// The stream carries new images but this record has none:
				// the item's change is unreadable, a rejected image.
				p.kind = kRejectImg
				e.reject(p, ledger.Problem{Raw: imageText(p.rec),
					Reason: fmt.Sprintf("unreadable stream record: %v (stream view type %q)", ErrNoImage, p.rec.StreamViewType)})
				continue
			}
			if lastOf[p.key] != i {
				continue // superseded in this chunk: the item is read once, for its last record
			}
			if e.cfg.Fetcher == nil {
				return nil, fmt.Errorf("%s: %w and no DynamoDB client to read it (KEYS_ONLY stream)", p.rec, ErrNoImage)
			}
			item, found, err := e.cfg.Fetcher.GetItem(ctx, p.keys)
			if err != nil {
				return nil, fmt.Errorf("%w %s: %w", errFetch, p.key, err)
			}
			if !found {
				p.kind = kRemove // deleted since: the REMOVE record follows
				continue
			}
			img = item
		}
		toConvert = append(toConvert, conv{i, img})
	}
	e.convert(ps, toConvert)
	return ps, nil
}

type conv struct {
	i   int
	img ddbitem.Item
}

// convert maps the images to rows, on several cores for large batches.
func (e *Engine) convert(ps []prepared, toConvert []conv) {
	one := func(c conv) {
		p := &ps[c.i]
		rows, rej := e.m.Rows(c.img)
		if rej != nil {
			p.kind = kRejectImg
			e.reject(p, ledger.FromMapping(rej))
			return
		}
		p.rows = rows
	}
	workers := min(runtime.GOMAXPROCS(0), len(toConvert)/64)
	if workers < 2 {
		for _, c := range toConvert {
			one(c)
		}
		return
	}
	var wg sync.WaitGroup
	per := (len(toConvert) + workers - 1) / workers
	for w := 0; w < len(toConvert); w += per {
		part := toConvert[w:min(w+per, len(toConvert))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, c := range part {
				one(c)
			}
		}()
	}
	wg.Wait()
}

// errClass sorts a write error: retryable (stop, retry later), record-level
// (isolate the record that caused it and reject it), or fatal.
type errClass int

const (
	classRetry errClass = iota
	classRecord
	classFatal
)

func classify(err error) errClass {
	switch pgerr.Classify(err) {
	case pgerr.Retryable:
		return classRetry
	case pgerr.Canceled:
		return classRetry
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 {
		switch pgErr.Code[:2] {
		case "22", "23", "54": // data exception, integrity constraint, program limit (row too big)
			return classRecord
		}
		return classFatal
	}
	// Not from the server: a value pgx could not encode.
	return classRecord
}

// applyChunk writes one chunk in one transaction.
func (e *Engine) applyChunk(ctx context.Context, db DB, recs []stream.Record, hook Hook) (Stats, error) {
	ps, err := e.prepare(ctx, recs)
	if err != nil {
		return Stats{}, err
	}
	st, err := e.inTx(ctx, db, func(tx pgx.Tx) (Stats, error) {
		st, err := e.write(ctx, tx, ps, false)
		if err == nil && hook != nil {
			err = hook(ctx, tx, recs)
		}
		return st, err
	})
	if err == nil || classify(err) != classRecord {
		return st, err
	}
	e.cfg.Logger.Warn("a record could not be written; isolating it", "error", err.Error())
	if pgerr.Code(err) == "23503" {
		// A foreign key may have been added since the tables' order was
		// read: read it again before isolating the record.
		pgwrite.ForgetOrder(e.tables)
	}
	// Careful pass: one savepoint per record, so the records that fail are
	// recorded as rejected and the rest applies.
	return e.inTx(ctx, db, func(tx pgx.Tx) (Stats, error) {
		var total Stats
		for _, g := range groups(ps) {
			st, err := e.writeGroupCareful(ctx, tx, g)
			if err != nil {
				return total, err
			}
			total.Add(st)
		}
		if hook != nil {
			if err := hook(ctx, tx, recs); err != nil {
				return total, err
			}
		}
		return total, nil
	})
}

// imageText is the record's item as read, for a reject: the new image, or
// the keys ("" when it has neither).
func imageText(r *stream.Record) string {
	if r.NewImage != nil {
		return r.NewImage.String()
	}
	if r.Keys != nil {
		return r.Keys.String()
	}
	return ""
}

func (e *Engine) inTx(ctx context.Context, db DB, fn func(tx pgx.Tx) (Stats, error)) (Stats, error) {
	tx, err := db.Begin(ctx)
	if err != nil {
		return Stats{}, fmt.Errorf("starting the batch transaction: %w", err)
	}
	st, err := fn(tx)
	if err != nil {
		_ = tx.Rollback(context.WithoutCancel(ctx))
		return Stats{}, err
	}
	if err := tx.Commit(ctx); err != nil {
		return Stats{}, fmt.Errorf("committing the batch: %w", err)
	}
	return st, nil
}

// write applies prepared records inside tx, group by group (see groups).
func (e *Engine) write(ctx context.Context, tx pgx.Tx, ps []prepared, careful bool) (Stats, error) {
	var total Stats
	for _, g := range groups(ps) {
		st, err := e.writeGroup(ctx, tx, g, careful)
		if err != nil {
			return total, err
		}
		total.Add(st)
	}
	return total, nil
}

// groups cuts prepared records into the groups written one after the
// other. Records of one item collapse to the last one, except a TTL delete
// that keeps the rows (ignore, soft): it must see the state written before
// it, so the chunk is cut there.
func groups(ps []prepared) [][]prepared {
	var out [][]prepared
	start := 0
	keys := map[string]bool{}
	for i := range ps {
		p := &ps[i]
		if (p.kind == kTTLIgnore || p.kind == kSoftDelete) && keys[p.key] {
			out = append(out, ps[start:i])
			start = i
			clear(keys)
		}
		if p.kind != kInvalid {
			keys[p.key] = true
		}
	}
	return append(out, ps[start:])
}

// writeGroup applies prepared records inside tx: claim, then deletes and
// shared upserts in one pipelined batch, then one COPY per non-shared table.
// careful always deletes before inserting (no trust in "fresh").
func (e *Engine) writeGroup(ctx context.Context, tx pgx.Tx, ps []prepared, careful bool) (Stats, error) {
	pl, err := e.plan(ctx, tx, ps)
	if err != nil {
		return pl.st, err
	}
	var batch pgx.Batch
	for _, p := range pl.soft {
		if err := e.queueSoftDelete(ctx, tx, &batch, p); err != nil {
			return pl.st, err
		}
	}
	if err := e.writeItems(ctx, tx, &batch, pl.writes, careful); err != nil {
		return pl.st, err
	}
	if err := e.recordRejects(ctx, tx, pl.rejects, &pl.st); err != nil {
		return pl.st, err
	}
	return pl.st, nil
}

// recordRejects records a group's rejects. An unreadable record delivered
// again is recorded once (see ledger.InsertRejects): its repeats count as
// skipped in st. (A rejected image delivered again loses its claim.)
func (e *Engine) recordRejects(ctx context.Context, tx pgx.Tx, rejects []ledger.Reject, st *Stats) error {
	n, err := e.cfg.Ledger.InsertRejects(ctx, tx, rejects)
	if err != nil {
		return err
	}
	st.Rejected -= len(rejects) - n
	st.Skipped += len(rejects) - n
	return nil
}

// planned is what a group's claim decided: the stats, the rejects to
// record, the items to write and the TTL soft deletes.
type planned struct {
	st      Stats
	rejects []ledger.Reject
	writes  []ItemWrite
	owners  []*prepared // per write: its record
	soft    []*prepared
}

// plan claims the group's items in the bookkeeping (in key order) and
// decides what each record does.
func (e *Engine) plan(ctx context.Context, tx pgx.Tx, ps []prepared) (planned, error) {
	var pl planned
	st := &pl.st
	// The winner of each key is its record with the highest sequence number.
	winner := map[string]int{}
	for i := range ps {
		p := &ps[i]
		if p.kind == kInvalid {
			continue
		}
		if w, ok := winner[p.key]; !ok || stream.CompareSeq(p.rec.Seq, ps[w].rec.Seq) > 0 {
			winner[p.key] = i
		}
	}
	claims := make([]ledger.StreamClaim, 0, len(winner))
	for k, i := range winner {
		p := &ps[i]
		claims = append(claims, ledger.StreamClaim{Key: k, Seq: stream.CanonicalSeq(p.rec.Seq), ShardID: p.rec.ShardID,
			Deleted: p.kind == kRemove || p.kind == kTTLIgnore || p.kind == kSoftDelete})
	}
	sort.Slice(claims, func(a, b int) bool { return claims[a].Key < claims[b].Key })
	out, err := e.cfg.Ledger.ClaimForStream(ctx, tx, e.m.Source.Table, claims)
	if err != nil {
		return pl, err
	}
	seen := map[string]map[string]bool{} // key -> seqs seen (duplicates in the chunk)
	for i := range ps {
		p := &ps[i]
		st.Records++
		if st.FirstSeq == "" {
			st.FirstSeq = p.rec.Seq
		}
		st.LastSeq = p.rec.Seq
		if p.rec.ApproxTime.After(st.NewestTime) {
			st.NewestTime = p.rec.ApproxTime
		}
		if p.kind == kInvalid {
			st.Rejected++
			pl.rejects = append(pl.rejects, *p.rej)
			continue
		}
		o := out[p.key]
		canon := stream.CanonicalSeq(p.rec.Seq)
		if seen[p.key] == nil {
			seen[p.key] = map[string]bool{}
		}
		dup := seen[p.key][canon]
		seen[p.key][canon] = true
		if !o.Won || dup || (o.PrevOrigin == "stream" && stream.CompareSeq(p.rec.Seq, o.PrevSeq) <= 0) {
			st.Skipped++
			continue
		}
		switch p.kind {
		case kRejectImg:
			st.Rejected++
			pl.rejects = append(pl.rejects, *p.rej)
		case kTTLIgnore:
			st.Applied++
			st.TTLIgnored++
		default:
			st.Applied++
		}
		if winner[p.key] != i {
			continue // superseded by a later record of the same item in this chunk
		}
		switch p.kind {
		case kWrite, kRejectImg, kRemove:
			w := ItemWrite{Keys: p.keys, Fresh: o.Fresh}
			if p.kind == kWrite {
				w.Rows = p.rows
			}
			pl.writes = append(pl.writes, w)
			pl.owners = append(pl.owners, p)
		case kSoftDelete:
			pl.soft = append(pl.soft, p)
		}
	}
	return pl, nil
}

// writeGroupCareful is writeGroup record by record, for a group in which
// PostgreSQL refused something: the records it refuses are recorded as
// rejected (their item's rows deleted, their version advanced) and the rest
// applies (see WriteItemsIsolated). Concurrent invocations (Lambda's
// parallelization factor: other items, the same shared rows) lock shared
// rows in one order, as in the fast path, so they do not deadlock.
func (e *Engine) writeGroupCareful(ctx context.Context, tx pgx.Tx, ps []prepared) (Stats, error) {
	pl, err := e.plan(ctx, tx, ps)
	if err != nil {
		return Stats{}, err
	}
	refused, err := e.WriteItemsIsolated(ctx, tx, pl.writes)
	if err != nil {
		return Stats{}, err
	}
	st := pl.st
	rejects := pl.rejects
	for _, i := range slices.Sorted(maps.Keys(refused)) {
		why := refused[i]
		p := *pl.owners[i]
		if p.kind == kRejectImg {
			continue // rejected already; its old rows could not be deleted
		}
		reason := "PostgreSQL refused the item's rows: "
		if p.kind == kRemove {
			reason = "PostgreSQL refused deleting the item's rows: "
		}
		e.reject(&p, ledger.Problem{Raw: imageText(p.rec), Reason: reason + why.Error()})
		rejects = append(rejects, *p.rej)
		st.Applied--
		st.Rejected++
	}
	for _, p := range pl.soft {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return Stats{}, err
		}
		var batch pgx.Batch
		if err := e.queueSoftDelete(ctx, sp, &batch, p); err != nil {
			_ = sp.Rollback(ctx)
			return Stats{}, err
		}
		err = sp.SendBatch(ctx, &batch).Close()
		if err == nil {
			err = sp.Commit(ctx)
		}
		if err != nil {
			_ = sp.Rollback(ctx)
			if classify(err) != classRecord {
				return Stats{}, err
			}
			q := *p
			e.reject(&q, ledger.Problem{Raw: imageText(q.rec), Reason: "PostgreSQL refused marking the item's rows deleted: " + err.Error()})
			rejects = append(rejects, *q.rej)
			st.Applied--
			st.Rejected++
		}
	}
	if err := e.recordRejects(ctx, tx, rejects, &st); err != nil {
		return Stats{}, err
	}
	return st, nil
}

// WriteItemsIsolated writes items inside tx as WriteItems does, isolating
// the ones PostgreSQL refuses (a user's constraint, a value out of range:
// SQLSTATE classes 22, 23, 54): it returns why, by index in items. A
// refused item's rows are left out and its previous rows deleted (when
// even that is refused, they stay); the others are written. The shared
// rows of all items are upserted first, in table and key order, so that
// concurrent writers lock them in one order; then each item's own rows in
// a savepoint of its own. A refused item writes no shared rows: when one
// had some, the items are written again from the start without it (each
// round refuses at least one more item, so the rounds end). Other errors
// are returned as they are; tx is then unusable.
func (e *Engine) WriteItemsIsolated(ctx context.Context, tx pgx.Tx, items []ItemWrite) (map[int]error, error) {
	refused := map[int]error{}
	for {
		round, err := tx.Begin(ctx)
		if err != nil {
			return nil, err
		}
		again, err := e.carefulRound(ctx, round, items, refused)
		if err != nil {
			_ = round.Rollback(ctx)
			return nil, err
		}
		if !again {
			return refused, round.Commit(ctx)
		}
		if err := round.Rollback(ctx); err != nil {
			return nil, err
		}
	}
}

// carefulRound writes items inside tx, leaving out the rows of the
// refused ones (their old rows are only deleted). It adds the items
// PostgreSQL refuses to refused, and returns again when the round must be
// rolled back and written anew because a newly refused item had shared rows
// in it.
func (e *Engine) carefulRound(ctx context.Context, tx pgx.Tx, writes []ItemWrite, refused map[int]error) (again bool, err error) {
	ord, err := e.order(ctx, tx)
	if err != nil {
		return false, err
	}
	// Shared rows first, in table and key order: one batch, or one
	// savepoint per row to find the ones PostgreSQL refuses.
	var shared []int // writes whose shared rows go in this round
	for i, w := range writes {
		if _, bad := refused[i]; !bad && w.Rows != nil {
			shared = append(shared, i)
		}
	}
	rows := e.sharedRows(ord, writes, shared)
	if len(rows) > 0 {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return false, err
		}
		var batch pgx.Batch
		for _, r := range rows {
			batch.Queue(e.sharedSQL(r.table, writes[r.owner]), r.row...)
		}
		err = sp.SendBatch(ctx, &batch).Close()
		if err == nil {
			err = sp.Commit(ctx)
		}
		if err != nil {
			_ = sp.Rollback(ctx)
			if classify(err) != classRecord {
				return false, err
			}
			for _, r := range rows {
				sp, err := tx.Begin(ctx)
				if err != nil {
					return false, err
				}
				_, err = sp.Exec(ctx, e.sharedSQL(r.table, writes[r.owner]), r.row...)
				if err == nil {
					err = sp.Commit(ctx)
				}
				if err != nil {
					_ = sp.Rollback(ctx)
					if classify(err) != classRecord {
						return false, err
					}
					if _, known := refused[r.owner]; !known {
						refused[r.owner] = err
						again = true
					}
				}
			}
			if again {
				return true, nil
			}
		}
	}
	// Then each item's own rows, in a savepoint of its own.
	for i, w := range writes {
		_, bad := refused[i]
		if bad {
			w.Rows = nil
		}
		for {
			sp, err := tx.Begin(ctx)
			if err != nil {
				return false, err
			}
			var batch pgx.Batch
			e.queueDeletes(&batch, ord, []ItemWrite{w}, true)
			err = e.writeRows(ctx, sp, &batch, ord, []ItemWrite{w}, true, false)
			if err == nil {
				err = sp.Commit(ctx)
			}
			if err == nil {
				break
			}
			_ = sp.Rollback(ctx)
			if classify(err) != classRecord {
				return false, err
			}
			if !bad {
				refused[i] = err
				again = again || e.hasShared(w.Rows)
			}
			if w.Rows == nil {
				break // even the delete fails: the old rows stay
			}
			w.Rows, bad = nil, true // its old rows still go
		}
	}
	return again, nil
}

// ItemWrite is one item's new state for WriteItems.
type ItemWrite struct {
	Keys ddbitem.Item // the item's key attributes
	// Rows are the item's mapped rows; nil when the item is deleted (or its
	// image rejected): its non-shared rows go and none are written.
	Rows mapping.Rows
	// Fresh: the item has no rows in the tables yet (no ledger row before
	// the claim), so deleting them first is skipped.
	Fresh bool
	// SharedIfAbsent: the item's shared rows are inserted when absent and
	// never update an existing row (an export's change: the row the stream
	// wrote may be newer). Otherwise they are upserted (the stream's).
	SharedIfAbsent bool
}

// WriteItems writes, inside tx, the new state of items whose version the
// caller has just claimed in the bookkeeping, the way the stream applies a
// change: each item's rows in non-shared tables are replaced as a set (a
// deleted item's are deleted), shared tables are upserted (the last item's
// row per primary key wins; an item with SharedIfAbsent only inserts rows
// that are absent), in a few round trips. Items must be distinct.
// careful deletes before inserting even for fresh items and inserts row by
// row (no COPY), so a failure can be traced to one item.
//
// Tables are written in the order of the user's foreign keys between them
// (pgwrite.OrderOf: read from the catalog once per engine, again after a
// foreign key violation): rows are deleted children first and written
// parents first; shared rows in primary key order, so that concurrent
// writers lock them in one order.
func (e *Engine) WriteItems(ctx context.Context, tx pgx.Tx, items []ItemWrite, careful bool) error {
	var batch pgx.Batch
	return e.writeItems(ctx, tx, &batch, items, careful)
}

// writeItems is WriteItems after what batch already holds: deletes and
// shared upserts join batch (one pipelined round trip), then one COPY per
// non-shared table.
func (e *Engine) writeItems(ctx context.Context, tx pgx.Tx, batch *pgx.Batch, items []ItemWrite, careful bool) error {
	ord, err := e.order(ctx, tx)
	if err != nil {
		return err
	}
	e.queueDeletes(batch, ord, items, careful)
	return e.writeRows(ctx, tx, batch, ord, items, careful, true)
}

// order returns the tables' write order, logging it when it was (re)read.
func (e *Engine) order(ctx context.Context, tx pgx.Tx) (*pgwrite.Order, error) {
	ord, err := pgwrite.OrderOf(ctx, tx, e.tables)
	if err != nil {
		return nil, err
	}
	if e.logged.Swap(ord) != ord {
		if msg := ord.Describe(e.tables); len(ord.Cycle) > 0 {
			e.cfg.Logger.Warn("foreign keys between the mapped tables", "order", msg)
		} else if msg != "" {
			e.cfg.Logger.Info("foreign keys between the mapped tables", "order", msg)
		}
	}
	return ord, nil
}

// queueDeletes queues the deletes of the items' rows in non-shared tables,
// children first: one statement per table for the whole set. Fresh items
// have none, unless careful.
func (e *Engine) queueDeletes(batch *pgx.Batch, ord *pgwrite.Order, items []ItemWrite, careful bool) {
	for _, ti := range ord.Delete {
		rt := e.tables[ti]
		if rt.T.Shared {
			continue
		}
		var kvs [][]any // key values of items whose rows go
		for i := range items {
			w := &items[i]
			if w.Fresh && !careful {
				continue
			}
			if kv, ok := e.keyValues(rt.T, w.Keys); ok {
				kvs = append(kvs, kv)
			}
		}
		e.queueDeleteSet(batch, ti, kvs)
	}
}

// writeRows writes the items' rows after what batch holds, table by table
// in ord.Insert order: shared upserts join the batch, which is sent before
// the COPY (or, careful, the inserts) of each non-shared table. Without
// withShared the shared tables are left alone.
func (e *Engine) writeRows(ctx context.Context, tx pgx.Tx, batch *pgx.Batch, ord *pgwrite.Order, items []ItemWrite, careful, withShared bool) error {
	send := func() error {
		if batch.Len() == 0 {
			return nil
		}
		err := tx.SendBatch(ctx, batch).Close()
		*batch = pgx.Batch{}
		return err
	}
	for _, ti := range ord.Insert {
		rt := e.tables[ti]
		if rt.T.Shared {
			if withShared {
				e.queueShared(batch, ti, items)
			}
			continue
		}
		var rows [][]any
		for i := range items {
			if items[i].Rows == nil {
				continue
			}
			for _, r := range items[i].Rows[ti] {
				rows = append(rows, r)
			}
		}
		if len(rows) == 0 {
			continue
		}
		if err := send(); err != nil {
			return err
		}
		if (careful || len(rows) < 4) && !ord.SelfRef[ti] {
			var b pgx.Batch
			for _, r := range rows {
				b.Queue(rt.Insert, r...)
			}
			if err := tx.SendBatch(ctx, &b).Close(); err != nil {
				return err
			}
			continue
		}
		// One COPY: a table referencing itself is checked once its rows
		// are all in.
		if _, err := tx.CopyFrom(ctx, rt.T.Ident, rt.Columns, pgx.CopyFromRows(rows)); err != nil {
			return err
		}
	}
	return send()
}

// queueShared queues the upsert of table ti's rows of items: the last
// item's row per primary key, in key order.
func (e *Engine) queueShared(batch *pgx.Batch, ti int, items []ItemWrite) {
	rt := e.tables[ti]
	byPK := map[string][]any{}
	ifAbsent := map[string]bool{} // the row's item has SharedIfAbsent
	anyIfAbsent := false
	for i := range items {
		if items[i].Rows == nil {
			continue
		}
		for _, row := range items[i].Rows[ti] {
			pk := pkString(rt.T, row)
			byPK[pk] = row
			ifAbsent[pk] = items[i].SharedIfAbsent
			anyIfAbsent = anyIfAbsent || items[i].SharedIfAbsent
		}
	}
	pks := make([]string, 0, len(byPK))
	for pk := range byPK {
		pks = append(pks, pk)
	}
	sort.Strings(pks)
	rows := make([][]any, len(pks))
	for i, pk := range pks {
		rows[i] = byPK[pk]
	}
	// One statement for the set, when the primary keys deduplicated above
	// are in a canonical form (two spellings of one numeric would make the
	// statement update a row twice).
	if len(rows) > 2 && e.upsertSet[ti] != "" && canonicalPKs(rt.T, rows) && !anyIfAbsent {
		if arrays, ok := typedArrays(rows); ok {
			batch.Queue(e.upsertSet[ti], arrays...)
			return
		}
	}
	for i, row := range rows {
		if ifAbsent[pks[i]] {
			batch.Queue(rt.InsertIfAbsent, row...)
			continue
		}
		batch.Queue(rt.Upsert, row...)
	}
}

// sharedSQL is the statement writing a shared row of table ti for w.
func (e *Engine) sharedSQL(ti int, w ItemWrite) string {
	if w.SharedIfAbsent {
		return e.tables[ti].InsertIfAbsent
	}
	return e.tables[ti].Upsert
}

// sharedRow is a shared table's row with the write it comes from.
type sharedRow struct {
	table, owner int
	row          []any
}

// sharedRows lists the shared rows of writes[which...] as queueShared
// writes them: table by table in ord.Insert order, the last write's row per
// primary key, in key order.
func (e *Engine) sharedRows(ord *pgwrite.Order, writes []ItemWrite, which []int) []sharedRow {
	var out []sharedRow
	for _, ti := range ord.Insert {
		rt := e.tables[ti]
		if !rt.T.Shared {
			continue
		}
		byPK := map[string]sharedRow{}
		for _, i := range which {
			for _, row := range writes[i].Rows[ti] {
				byPK[pkString(rt.T, row)] = sharedRow{table: ti, owner: i, row: row}
			}
		}
		pks := make([]string, 0, len(byPK))
		for pk := range byPK {
			pks = append(pks, pk)
		}
		sort.Strings(pks)
		for _, pk := range pks {
			out = append(out, byPK[pk])
		}
	}
	return out
}

// hasShared reports whether rows hold a row of a shared table.
func (e *Engine) hasShared(rows mapping.Rows) bool {
	for ti, rt := range e.tables {
		if rt.T.Shared && ti < len(rows) && len(rows[ti]) > 0 {
			return true
		}
	}
	return false
}

// queueDeleteSet deletes the rows of the items whose key values are kvs
// from table ti: one statement for the whole set (key values sent as typed
// arrays) when there are several, one per item otherwise.
func (e *Engine) queueDeleteSet(b *pgx.Batch, ti int, kvs [][]any) {
	rt := e.tables[ti]
	if len(kvs) == 0 {
		return
	}
	if len(kvs) > 2 {
		if arrays, ok := typedArrays(kvs); ok {
			b.Queue(e.deleteSet[ti], arrays...)
			return
		}
	}
	for _, kv := range kvs {
		b.Queue(rt.DeleteItem, kv...)
	}
}

// typedArrays turns rows of key values into one typed slice per column
// (pgx encodes []string as text[], []int64 as bigint[], ...); ok is false
// for a value type it does not handle.
func typedArrays(kvs [][]any) ([]any, bool) {
	out := make([]any, len(kvs[0]))
	for c := range out {
		switch kvs[0][c].(type) {
		case string:
			out[c] = column[string](kvs, c)
		case int16:
			out[c] = column[int16](kvs, c)
		case int32:
			out[c] = column[int32](kvs, c)
		case int64:
			out[c] = column[int64](kvs, c)
		case pgtype.Numeric:
			out[c] = column[pgtype.Numeric](kvs, c)
		case pgtype.UUID:
			out[c] = column[pgtype.UUID](kvs, c)
		case time.Time:
			out[c] = column[time.Time](kvs, c)
		case []byte:
			out[c] = column[[]byte](kvs, c)
		case bool:
			out[c] = column[bool](kvs, c)
		case float64:
			out[c] = column[float64](kvs, c)
		case float32:
			out[c] = column[float32](kvs, c)
		default:
			return nil, false
		}
		if out[c] == nil {
			return nil, false
		}
	}
	return out, true
}

func column[T any](kvs [][]any, c int) any {
	s := make([]T, len(kvs))
	for i, kv := range kvs {
		v, ok := kv[c].(T)
		if !ok {
			return nil
		}
		s[i] = v
	}
	return s
}

// canonicalPKs reports whether every primary key value is of a type whose
// Go value is canonical (equal values print equal).
func canonicalPKs(t *mapping.Table, rows [][]any) bool {
	for _, r := range rows {
		for _, i := range t.PKIndexes {
			switch r[i].(type) {
			case string, int16, int32, int64, bool, pgtype.UUID:
			default:
				return false
			}
		}
	}
	return true
}

// keyValues returns the values of t's key columns for the item, and false
// when the item cannot have rows in t (see mapping.KeyValues: a shared table,
// a key that does not convert, a `when` on a key attribute that fails).
func (e *Engine) keyValues(t *mapping.Table, keys ddbitem.Item) ([]any, bool) {
	kv, ok, err := e.m.KeyValues(t, keys)
	if err != nil || !ok {
		return nil, false
	}
	return kv, true
}

func (e *Engine) queueSoftDelete(ctx context.Context, tx pgx.Tx, b *pgx.Batch, p *prepared) error {
	if err := e.resolveSoft(ctx, tx); err != nil {
		return err
	}
	at := p.rec.ApproxTime
	var atv any
	if !at.IsZero() {
		atv = at
	}
	for ti, rt := range e.tables {
		if rt.T.Shared || !e.soft[ti] {
			continue
		}
		kv, ok := e.keyValues(rt.T, p.keys)
		if !ok {
			continue
		}
		b.Queue(rt.SoftDeleteItem(e.cfg.SoftDeleteColumn), append(kv, atv)...)
	}
	return nil
}

// resolveSoft finds, once, which non-shared tables have the soft-delete column.
func (e *Engine) resolveSoft(ctx context.Context, tx pgx.Tx) error {
	e.softOnce.Lock()
	defer e.softOnce.Unlock()
	if e.soft != nil {
		return nil
	}
	soft := make([]bool, len(e.tables))
	found := false
	for ti, rt := range e.tables {
		if rt.T.Shared {
			continue
		}
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1)
			AND attname = $2 AND attnum > 0 AND NOT attisdropped)`, rt.Name, e.cfg.SoftDeleteColumn).Scan(&soft[ti]); err != nil {
			return fmt.Errorf("looking for the soft-delete column %q in %s: %w", e.cfg.SoftDeleteColumn, rt.T.Name, err)
		}
		found = found || soft[ti]
	}
	if !found {
		return fmt.Errorf("TTL deletes are soft but no mapped table has the column %q: add it (e.g. ALTER TABLE ... ADD COLUMN %s timestamptz)",
			e.cfg.SoftDeleteColumn, e.cfg.SoftDeleteColumn)
	}
	e.soft = soft
	return nil
}

// pkString is a dedupe key for a row's primary key values.
func pkString(t *mapping.Table, row []any) string {
	var sb strings.Builder
	for _, i := range t.PKIndexes {
		fmt.Fprintf(&sb, "%v\x00", row[i])
	}
	return sb.String()
}
