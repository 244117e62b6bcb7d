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
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
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
	cfg Config
	m   *mapping.Mapping
	w   *pgwrite.Writer // writes the rows
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
	w := pgwrite.New(cfg.Mapping, pgwrite.Options{SoftDeleteColumn: cfg.SoftDeleteColumn, Logger: cfg.Logger})
	return &Engine{cfg: cfg, m: cfg.Mapping, w: w}, nil
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
	if err == nil || !pgwrite.Refused(err) {
		return st, err
	}
	e.cfg.Logger.Warn("a record could not be written; isolating it", "error", err.Error())
	if pgerr.Code(err) == "23503" {
		// A foreign key may have been added since the tables' order was
		// read: read it again before isolating the record.
		e.w.ForgetOrder()
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
	soft := make([]pgwrite.SoftDelete, len(pl.soft))
	for i, p := range pl.soft {
		soft[i] = softDelete(p)
	}
	if err := e.w.Write(ctx, tx, soft, pl.writes, careful); err != nil {
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
	writes  []pgwrite.ItemWrite
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
			w := pgwrite.ItemWrite{Keys: p.keys, Fresh: o.Fresh}
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
	refused, err := e.w.WriteItemsIsolated(ctx, tx, pl.writes)
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
	soft := make([]pgwrite.SoftDelete, len(pl.soft))
	for i, p := range pl.soft {
		soft[i] = softDelete(p)
	}
	refusedSoft, err := e.w.SoftDeletesIsolated(ctx, tx, soft)
	if err != nil {
		return Stats{}, err
	}
	for i, p := range pl.soft {
		if err, ok := refusedSoft[i]; ok {
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

// softDelete is what a TTL delete kept as a soft delete writes: the
// record's approximate time (now() when it has none).
func softDelete(p *prepared) pgwrite.SoftDelete {
	return pgwrite.SoftDelete{Keys: p.keys, At: p.rec.ApproxTime}
}
