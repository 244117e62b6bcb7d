package backfill

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
	"github.com/ddb2pg/ddb2pg/pkg/decode"
	"github.com/ddb2pg/ddb2pg/pkg/export"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/pgwrite"
)

// loadOne claims one file and loads it in one transaction. It returns the
// file's key with any error once a file was claimed, and (nil, "", nil) when
// nothing is claimable.
func (r *run) loadOne(ctx context.Context, careful bool) (*ledger.FileResult, string, error) {
	tx, err := r.cfg.Pool.Begin(ctx)
	if err != nil {
		return nil, "", fmt.Errorf("starting a file transaction: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	claimed, ok, err := r.cfg.Ledger.ClaimFile(ctx, tx, r.cfg.Export.ID(), r.skipList())
	if err != nil || !ok {
		return nil, "", err
	}
	df, known := r.files[claimed.Key]
	if !known {
		return nil, claimed.Key, fmt.Errorf("file %s is in the bookkeeping but not in the export's manifest", claimed.Key)
	}
	if careful {
		// A careful retry may follow a foreign key violation: a key added
		// since the tables' order was read. Read it again.
		r.writer.ForgetOrder()
	}
	ord, err := r.writeOrder(ctx, tx)
	if err != nil {
		return nil, df.Key, err
	}
	bufs := r.getBuffers()
	defer r.putBuffers(bufs)
	fl := &fileLoad{r: r, tx: tx, file: df, careful: careful, order: ord,
		res: ledger.FileResult{TableRows: map[string]int64{}}, shared: make([]*sharedBuf, len(r.tables)),
		writeBuffers: bufs, claimed: make([][]pkHash, len(r.tables))}
	fl.bulk.Reset(ord, fl.res.TableRows)
	err = fl.load(ctx)
	if err == nil {
		err = r.cfg.Ledger.MarkFileDone(ctx, tx, r.cfg.Export.ID(), df.Key, r.cfg.WorkerID, fl.res)
	}
	if err == nil {
		err = tx.Commit(ctx)
	}
	if err != nil {
		r.items.Add(-fl.processed)
		r.rejected.Add(-fl.res.Rejected)
		for ti, pks := range fl.claimed {
			r.claims.release(ti, pks)
		}
		return nil, df.Key, err
	}
	for ti, sb := range fl.shared {
		switch {
		case fl.claimed[ti] != nil:
			// Only the rows this file wrote: others it skipped may still
			// be in flight in another file.
			r.committed.add(ti, keysIn(fl.claimed[ti]))
			r.claims.release(ti, fl.claimed[ti])
		case sb != nil:
			r.committed.add(ti, keysOf(sb.seen))
		}
	}
	r.filesDone.Add(1)
	r.loadedByMe.Add(1)
	r.myItems.Add(fl.processed)
	r.report()
	r.cfg.Logger.Info("file loaded", "file", df.Key, "items", df.ItemCount, "loaded", fl.res.Loaded,
		"skipped", fl.res.Skipped, "rejected", fl.res.Rejected)
	return &fl.res, df.Key, nil
}

// load reads and writes the file inside a savepoint of the file's
// transaction. When PostgreSQL refuses a row (a user's CHECK constraint or
// unique index, a value out of a column's range: see refusal), the
// savepoint is rolled back and the file is loaded again item by item
// (isolate): the items PostgreSQL refuses are recorded as rejected and
// their rows left out, the others load.
func (fl *fileLoad) load(ctx context.Context) error {
	outer := fl.tx
	defer func() { fl.tx = outer }()
	for {
		sp, err := outer.Begin(ctx)
		if err != nil {
			return err
		}
		fl.tx = sp
		err = fl.read(ctx)
		if err == nil {
			err = fl.finish(ctx)
		}
		if err == nil {
			return sp.Commit(ctx)
		}
		_ = sp.Rollback(ctx)
		if fl.isolate || !fl.refusal(err) {
			return err
		}
		fl.r.cfg.Logger.Warn("PostgreSQL refused a row; loading the file item by item", "file", fl.file.Key, "err", err)
		fl.restart()
		fl.isolate = true
	}
}

// refusal reports whether err is PostgreSQL refusing an item's rows
// (SQLSTATE classes 22 data exception, 23 integrity constraint, 54 program
// limit): the file can be loaded item by item, rejecting the items refused.
// Outside careful mode a unique or foreign key violation is left to the
// careful retry instead: it usually means a concurrent writer.
func (fl *fileLoad) refusal(err error) bool {
	code := pgerr.Code(err)
	if len(code) != 5 {
		return false
	}
	if (code == "23505" || code == "23503") && !fl.careful {
		return false
	}
	switch code[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

// restart forgets what a rolled back pass over the file did.
func (fl *fileLoad) restart() {
	fl.r.items.Add(-fl.processed)
	fl.r.rejected.Add(-fl.res.Rejected)
	for ti, pks := range fl.claimed {
		fl.r.claims.release(ti, pks)
	}
	fl.processed = 0
	fl.res = ledger.FileResult{TableRows: map[string]int64{}}
	fl.rejects = nil
	fl.shared = make([]*sharedBuf, len(fl.r.tables))
	fl.claimed = make([][]pkHash, len(fl.r.tables))
	fl.freshKeys = fl.freshKeys[:0]
	fl.bulk.Reset(fl.order, fl.res.TableRows)
}

// pendingItem is a mapped item waiting for its chunk's flush. The decoded
// item itself is not kept: memory per queued item is its rows only.
type pendingItem struct {
	key  string
	rows mapping.Rows
	// pks are the hashed primary keys of the item's shared rows, table by
	// table: computed by the mapper while the rows are in its cache.
	pks  []pkHash
	chg  *change // an incremental export's change (incremental.go)
	line int64   // the data file's line it was read from
	// rej is set when the item's copy (or change) is rejected: rows is
	// nil, and if the copy is the item's newest its rows go and rej is
	// recorded.
	rej *ledger.Reject
}

// sharedBuf collects one shared table's rows of a file, first writer wins.
type sharedBuf struct {
	seen    map[pkHash]struct{}
	rows    [][]any
	pks     []pkHash // rows' keys
	spilled bool     // rows were staged (Bulk.Stage)
}

type fileLoad struct {
	r         *run
	tx        pgx.Tx
	file      export.DataFile
	careful   bool
	isolate   bool           // write item by item, rejecting what PostgreSQL refuses (see load)
	order     *pgwrite.Order // the tables' write order (writeOrder)
	shared    []*sharedBuf
	rejects   []ledger.Reject
	res       ledger.FileResult
	processed int64
	*writeBuffers
	freshKeys []string   // a first load's keys not yet in the ledger
	claimed   [][]pkHash // per table: shared keys claimed (sharedClaims)
}

// mappersPerFile is how many goroutines decode and map one file's lines.
// Decoding and mapping cost several times what sending the rows does, so
// one mapper per file would leave the writer, and the server, waiting.
const mappersPerFile = 2

// lineChunk is a run of a file's lines on its way through the pipeline:
// the reader fills lines, a mapper turns them into items and rejects, the
// writer flushes the items. done is closed once mapped.
type lineChunk struct {
	buf     []byte // the lines' bytes, back to back
	lines   []lineRef
	items   []pendingItem
	rejects []ledger.Reject
	done    chan struct{}
}

type lineRef struct {
	no       int64
	off, end int
}

// read streams the file through three stages: this goroutine reads
// (gunzips and splits) lines into chunks, mappersPerFile goroutines decode
// and map chunks, and a writer goroutine flushes them to PostgreSQL in file
// order, so Go's CPU work and the server's overlap. A bounded number of
// chunks is in memory per file (see inFlight). The writer is the only user
// of the transaction until read returns.
func (fl *fileLoad) read(ctx context.Context) error {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	// Chunks queued for the writer, in file order: at most inFlight
	// between the reader and the end of the writer's flush.
	const inFlight = mappersPerFile
	order := make(chan *lineChunk, inFlight)
	jobs := make(chan *lineChunk, inFlight)
	free := make(chan []byte, inFlight+1) // line buffers to reuse
	for _, b := range fl.lineBufs {       // the previous file's, grown already
		free <- b
	}
	fl.lineBufs = fl.lineBufs[:0]
	var wg sync.WaitGroup
	for range mappersPerFile {
		wg.Go(func() {
			dec := fl.r.newDecoder() // reused: its scratch space survives across lines
			for c := range jobs {
				fl.mapChunk(dec, c)
				select {
				case free <- c.buf[:0]:
				default:
				}
				c.buf, c.lines = nil, nil
				close(c.done)
			}
		})
	}
	done := make(chan error, 1)
	go func() {
		var werr error
		for c := range order {
			<-c.done
			if werr == nil {
				if werr = fl.take(wctx, c); werr != nil {
					cancel(werr)
				}
			}
		}
		done <- werr
	}()
	send := func(c *lineChunk) error {
		select {
		case order <- c:
		case <-wctx.Done():
			return context.Cause(wctx)
		}
		jobs <- c // never blocks for long: it holds no more than order
		return nil
	}
	newChunk := func() *lineChunk {
		c := &lineChunk{lines: make([]lineRef, 0, fl.r.cfg.ChunkItems), done: make(chan struct{})}
		select {
		case c.buf = <-free:
		default:
		}
		return c
	}
	cur := newChunk()
	err := fl.r.cfg.Export.ReadFile(wctx, fl.file, func(line int64, data []byte) error {
		fl.processed++
		fl.r.items.Add(1)
		off := len(cur.buf)
		cur.buf = append(cur.buf, data...)
		cur.lines = append(cur.lines, lineRef{no: line, off: off, end: len(cur.buf)})
		if len(cur.lines) >= fl.r.cfg.ChunkItems {
			if err := send(cur); err != nil {
				return err
			}
			cur = newChunk()
		}
		if fl.processed%1024 == 0 {
			fl.r.report()
		}
		return nil
	})
	if err == nil && len(cur.lines) > 0 {
		err = send(cur)
	}
	close(jobs)
	close(order)
	werr := <-done
	wg.Wait()
	for len(free) > 0 {
		fl.lineBufs = append(fl.lineBufs, <-free)
	}
	if werr != nil {
		return werr // the writer's failure is the cause of any read error
	}
	return err
}

// take merges a mapped chunk's rejects into the file's and flushes its items.
func (fl *fileLoad) take(ctx context.Context, c *lineChunk) error {
	for _, rej := range c.rejects {
		fl.addReject(rej)
	}
	return fl.flush(ctx, c.items)
}

// addReject records rej with the file's rows and counts it.
func (fl *fileLoad) addReject(rej ledger.Reject) {
	fl.rejects = append(fl.rejects, rej)
	fl.res.Rejected++
	fl.r.rejected.Add(1)
}

// mapChunk decodes and maps a chunk's lines.
func (fl *fileLoad) mapChunk(dec decode.LineDecoder, c *lineChunk) {
	c.items = make([]pendingItem, 0, len(c.lines))
	for _, l := range c.lines {
		fl.handle(dec, c, l.no, c.buf[l.off:l.end])
	}
}

// newReject is the reject of the data line line, naming key ("" unknown).
func (fl *fileLoad) newReject(line int64, key string, p ledger.Problem) ledger.Reject {
	return ledger.NewReject(ledger.Source{Table: fl.r.cfg.Mapping.Source.Table, ExportID: fl.r.cfg.Export.ID(),
		FileKey: fl.file.Key, Line: line}, key, p)
}

// reject records a line that names no version of an item: it is recorded
// whatever the bookkeeping holds, and changes no rows.
func (fl *fileLoad) reject(c *lineChunk, line int64, key string, p ledger.Problem) {
	c.rejects = append(c.rejects, fl.newReject(line, key, p))
}

// rejectCopy queues a full export's copy of the item key that cannot be
// written: like a good copy it claims the item's version (if newer than
// what is applied), and then the item's rows go and the reject is recorded
// (see flush), as the stream does with a rejected new image.
func (fl *fileLoad) rejectCopy(c *lineChunk, line int64, key string, p ledger.Problem) {
	rej := fl.newReject(line, key, p)
	c.items = append(c.items, pendingItem{key: key, rej: &rej, line: line})
}

// salvage reads the item's key (and a change's write time) of a line that
// does not decode, when readable (DynamoDB JSON only): key "" otherwise.
func (fl *fileLoad) salvage(data []byte) (key string, sv ddbjson.Salvaged) {
	if f := fl.r.cfg.Export.Format(); f != export.FormatDynamoDBJSON && f != "" {
		return "", sv
	}
	m := fl.r.cfg.Mapping
	sv = ddbjson.Salvage(data, m.Source.Key)
	if sv.Keys == nil {
		return "", sv
	}
	k, err := m.KeyOf(sv.Keys)
	if err != nil {
		return "", sv
	}
	return string(k), sv
}

// handle takes one data line: decode, key, map; rejected items are recorded
// with their reason and origin, good ones are queued for the chunk's flush.
func (fl *fileLoad) handle(dec decode.LineDecoder, c *lineChunk, line int64, data []byte) {
	rec, err := dec.DecodeExportLine(data)
	if err != nil {
		p := ledger.Problem{Raw: string(data), Reason: "undecodable line: " + err.Error()}
		key, sv := fl.salvage(data)
		switch {
		case key != "" && !fl.r.incremental:
			// A full export's copy of a known item: rejected as a copy.
			fl.rejectCopy(c, line, key, p)
		case key != "" && sv.WriteTimeMicros > 0:
			// An incremental export's change of a known item at a known
			// time: a rejected change (see handleChange).
			rej := fl.newReject(line, key, p)
			c.items = append(c.items, pendingItem{key: key, rej: &rej, line: line,
				chg: &change{keys: sv.Keys, writeTime: time.UnixMicro(sv.WriteTimeMicros).UTC()}})
		default:
			fl.reject(c, line, key, p)
		}
		return
	}
	if fl.r.incremental || rec.Incremental {
		fl.handleChange(c, line, data, rec) // incremental.go
		return
	}
	if rec.Item == nil {
		fl.reject(c, line, "", ledger.Problem{Raw: string(data), Reason: `line has no "Item" (is this an incremental export?)`})
		return
	}
	if r, ok := dec.(decode.Recycler); ok {
		// Neither the queued rows nor a reject keep the item's maps.
		defer r.RecycleLast()
	}
	m := fl.r.cfg.Mapping
	key, err := m.KeyOf(rec.Item)
	if err != nil {
		fl.reject(c, line, "", ledger.Problem{Raw: rec.Item.String(), Reason: "reading the item's key: " + err.Error()})
		return
	}
	rows, rej := m.Rows(rec.Item)
	if rej != nil {
		fl.rejectCopy(c, line, string(key), ledger.FromMapping(rej))
		return
	}
	c.items = append(c.items, pendingItem{key: string(key), rows: rows, pks: fl.sharedPKs(rows), line: line})
}

// flush writes the queued items whose export copy wins over what is applied.
func (fl *fileLoad) flush(ctx context.Context, chunk []pendingItem) error {
	if len(chunk) == 0 {
		return nil
	}
	if fl.r.incremental {
		return fl.flushChanges(ctx, chunk) // incremental.go
	}
	// A key twice in one chunk: the later line is the item's state.
	last := make(map[string]int, len(chunk))
	for i, p := range chunk {
		last[p.key] = i
	}
	keys := make([]string, 0, len(last))
	for i, p := range chunk {
		if last[p.key] == i {
			keys = append(keys, p.key)
		}
	}
	var claim ledger.ExportClaim
	if fl.r.freshLedger.Load() && !fl.careful {
		// A first load: no item can have a version yet, so skip looking;
		// the keys are recorded once per file (see recordFresh).
		claim.Won = make(map[string]bool, len(keys))
		for _, k := range keys {
			claim.Won[k] = true
		}
		fl.freshKeys = append(fl.freshKeys, keys...)
		if len(fl.freshKeys) >= maxFreshKeys {
			if err := fl.recordFresh(ctx); err != nil {
				return err
			}
		}
	} else {
		var err error
		claim, err = fl.r.cfg.Ledger.ClaimForExport(ctx, fl.tx, fl.r.cfg.Mapping.Source.Table, fl.r.cfg.Export.ExportTime(), keys)
		if err != nil {
			return err
		}
	}
	if fl.isolate {
		return fl.flushIsolated(ctx, chunk, claim, last)
	}
	m := fl.r.cfg.Mapping
	var gone []ddbitem.Item // items whose previous rows go
	for i, p := range chunk {
		fresh, won := claim.Won[p.key]
		if !won {
			fl.res.Skipped++
			continue
		}
		if p.rej != nil {
			fl.addReject(*p.rej)
		} else {
			fl.res.Loaded++
		}
		if last[p.key] != i || (fresh && !fl.careful) {
			continue
		}
		keyItem, err := m.KeyItem(ddbitem.Key(p.key))
		if err != nil {
			return fmt.Errorf("item %s: %w", p.key, err)
		}
		gone = append(gone, keyItem)
	}
	if len(gone) > 0 {
		// Rows of earlier chunks go first: a delete here may be of an item
		// that an earlier chunk of this file wrote.
		if err := fl.bulk.Flush(ctx, fl.tx); err != nil {
			return err
		}
		if err := fl.r.writer.DeleteItems(ctx, fl.tx, fl.order, gone); err != nil {
			return fmt.Errorf("deleting previous rows of re-loaded items: %w", err)
		}
	}
	for _, ti := range fl.order.Insert {
		rt := fl.r.tables[ti]
		if rt.T.Shared {
			if err := fl.addShared(ctx, chunk, ti, rt, lastCopy(last)); err != nil {
				return err
			}
			continue
		}
		var rows [][]any
		for i, p := range chunk {
			if _, won := claim.Won[p.key]; !won || last[p.key] != i || p.rows == nil {
				continue
			}
			for _, row := range p.rows[ti] {
				rows = append(rows, row)
			}
		}
		if len(rows) == 0 {
			continue
		}
		if err := fl.bulk.Queue(ctx, fl.tx, ti, rows); err != nil {
			return err
		}
	}
	return fl.bulk.FlushIfFull(ctx, fl.tx)
}

// addShared buffers the shared rows of table ti of the chunk's items that
// take accepts (and that map), for insert-if-absent at the file's end.
// Every copy that maps contributes, whether it won its item or the item
// holds a newer version (the stream's, a newer export's): shared rows are
// never deleted with an item, so the rows an older copy referenced are
// there whatever order the backfill and the stream ran in. A row that
// exists is never overwritten.
func (fl *fileLoad) addShared(ctx context.Context, chunk []pendingItem, ti int, rt *pgwrite.Table, take func(i int, p *pendingItem) bool) error {
	sb := fl.shared[ti]
	if sb == nil {
		sb = &sharedBuf{seen: map[pkHash]struct{}{}}
		fl.shared[ti] = sb
	}
	committed := fl.r.committed.view(ti)
	defer committed.done()
	for i := range chunk {
		p := &chunk[i]
		if p.rows == nil || !take(i, p) {
			continue
		}
		off := sharedOffset(fl.r.tables, p.rows, ti)
		for j, row := range p.rows[ti] {
			pk := p.pks[off+j]
			// Committed first: most repeats of a shared row are its first
			// in this file, and a committed one is then a single lookup.
			if committed.has(pk) {
				continue
			}
			if _, dup := sb.seen[pk]; dup {
				continue
			}
			sb.seen[pk] = struct{}{}
			sb.rows = append(sb.rows, row)
			sb.pks = append(sb.pks, pk)
		}
	}
	if len(sb.rows) >= fl.r.cfg.SharedSpillRows {
		return fl.spill(ctx, ti)
	}
	return nil
}

// spill moves a shared table's buffered rows into the file's staging table
// (Bulk.Stage), bounding memory; the dedupe set is kept, so it costs one
// string per row.
func (fl *fileLoad) spill(ctx context.Context, ti int) error {
	sb := fl.shared[ti]
	if len(sb.rows) == 0 {
		return nil
	}
	if _, err := fl.bulk.Stage(ctx, fl.tx, ti, sb.rows); err != nil {
		return err
	}
	sb.rows, sb.pks = sb.rows[:0], sb.pks[:0]
	sb.spilled = true
	return nil
}

// lastCopy takes each item's last copy in a chunk (last: key -> index).
func lastCopy(last map[string]int) func(i int, p *pendingItem) bool {
	return func(i int, p *pendingItem) bool { return last[p.key] == i }
}

// finish writes the shared rows and the rejects, after the last chunk.
// Shared rows are written last, sorted by primary key, so concurrent workers
// lock them in one order and hold the locks only until their commit; the
// shared tables in the order of the foreign keys between them.
func (fl *fileLoad) finish(ctx context.Context) error {
	if err := fl.bulk.Flush(ctx, fl.tx); err != nil {
		return err
	}
	for _, ti := range fl.order.Insert {
		sb := fl.shared[ti]
		if sb == nil || (len(sb.rows) == 0 && !sb.spilled) {
			continue
		}
		if fl.r.freshLedger.Load() && !fl.careful && !sb.spilled {
			if err := fl.copyShared(ctx, ti, sb); err != nil {
				return err
			}
			continue
		}
		if err := fl.spill(ctx, ti); err != nil {
			return err
		}
		// The backfill never overwrites an existing shared row: a row the
		// stream wrote is newer than any export copy.
		if err := fl.bulk.InsertStaged(ctx, fl.tx, ti); err != nil {
			return err
		}
	}
	if err := fl.recordFresh(ctx); err != nil {
		return err
	}
	return fl.r.cfg.Ledger.ReplaceFileRejects(ctx, fl.tx, fl.r.cfg.Export.ID(), fl.file.Key, fl.rejects)
}

// copyShared writes a first load's new shared rows of one table with a
// plain COPY, in primary key order (cheaper for the index), skipping rows
// committed or claimed by other files of this process (see sharedClaims).
func (fl *fileLoad) copyShared(ctx context.Context, ti int, sb *sharedBuf) error {
	committed := fl.r.committed.view(ti)
	rows, pks := fl.r.claims.claim(ti, sb.rows, sb.pks, committed)
	committed.done()
	if pks == nil {
		pks = []pkHash{} // claimed nothing, but this file decides its keys
	}
	fl.claimed[ti] = pks
	if err := fl.bulk.CopyShared(ctx, fl.tx, ti, rows); err != nil {
		return err
	}
	sb.rows, sb.pks = sb.rows[:0], sb.pks[:0]
	return nil
}

// sharedPKs hashes the primary keys of an item's shared rows, table by
// table (see sharedOffset).
func (fl *fileLoad) sharedPKs(rows mapping.Rows) []pkHash {
	n := 0
	for ti, rt := range fl.r.tables {
		if rt.T.Shared {
			n += len(rows[ti])
		}
	}
	if n == 0 {
		return nil
	}
	pks := make([]pkHash, 0, n)
	for ti, rt := range fl.r.tables {
		if !rt.T.Shared {
			continue
		}
		for _, row := range rows[ti] {
			pks = append(pks, hashPK(rt.SharedKey(row)))
		}
	}
	return pks
}

// sharedOffset is where table ti's keys start in an item's pks.
func sharedOffset(tables []*pgwrite.Table, rows mapping.Rows, ti int) int {
	off := 0
	for tj := range ti {
		if tables[tj].T.Shared {
			off += len(rows[tj])
		}
	}
	return off
}

// maxFreshKeys bounds the item keys a first load holds per file before
// recording them in the ledger.
const maxFreshKeys = 1 << 17

// recordFresh records a first load's pending item keys in the ledger. One
// sorted COPY per file costs the ledger's index half what a COPY per chunk
// does; a stream write to one of the items meanwhile still fails the file's
// transaction with a unique violation before it commits.
func (fl *fileLoad) recordFresh(ctx context.Context) error {
	if len(fl.freshKeys) == 0 {
		return nil
	}
	err := fl.r.cfg.Ledger.RecordFreshForExport(ctx, fl.tx, fl.r.cfg.Mapping.Source.Table, fl.r.cfg.Export.ExportTime(), fl.freshKeys)
	fl.freshKeys = fl.freshKeys[:0]
	return err
}

// writeOrder returns the tables' write order (read from the catalog once
// per run, again after ForgetOrder) and prepares tx for the foreign keys
// from non-shared to shared tables: a full export's shared rows are written
// at the end of each file, after the rows that reference them (see
// pgwrite.Writer.DeferSharedFKs).
func (r *run) writeOrder(ctx context.Context, tx pgx.Tx) (*pgwrite.Order, error) {
	ord, err := r.writer.Order(ctx, tx)
	if err != nil {
		return nil, err
	}
	if r.incremental {
		return ord, nil // an incremental export writes shared rows first
	}
	if err := r.writer.DeferSharedFKs(ctx, tx, ord); err != nil {
		return nil, err
	}
	return ord, nil
}

// flushIsolated is flush item by item, each in a savepoint: an item whose
// rows PostgreSQL refuses is recorded as rejected, its previous rows
// deleted (its claimed version stays: an older copy cannot come back), and
// its shared rows left out.
func (fl *fileLoad) flushIsolated(ctx context.Context, chunk []pendingItem, claim ledger.ExportClaim, last map[string]int) error {
	m := fl.r.cfg.Mapping
	refused := map[string]bool{} // items whose rows PostgreSQL refused: their shared rows are left out
	for i, p := range chunk {
		fresh, won := claim.Won[p.key]
		if !won {
			fl.res.Skipped++
			continue
		}
		if p.rej != nil {
			fl.addReject(*p.rej)
		} else {
			fl.res.Loaded++
		}
		if last[p.key] != i {
			continue
		}
		keyItem, err := m.KeyItem(ddbitem.Key(p.key))
		if err != nil {
			return fmt.Errorf("item %s: %w", p.key, err)
		}
		replace := !fresh || fl.careful
		if p.rej != nil {
			// A rejected copy: the item's previous rows go.
			if replace {
				if err := fl.writeItem(ctx, keyItem, nil, true); err != nil && !fl.refusal(err) {
					return err
				}
			}
			continue
		}
		err = fl.writeItem(ctx, keyItem, p.rows, replace)
		if err == nil {
			continue
		}
		if !fl.refusal(err) {
			return err
		}
		refused[p.key] = true
		fl.res.Loaded--
		fl.addReject(fl.newReject(p.line, p.key, ledger.Problem{Reason: "PostgreSQL refused the item's rows: " + err.Error()}))
		if replace {
			if err := fl.writeItem(ctx, keyItem, nil, true); err != nil && !fl.refusal(err) {
				return err
			}
		}
	}
	for _, ti := range fl.order.Insert {
		if rt := fl.r.tables[ti]; rt.T.Shared {
			take := func(i int, p *pendingItem) bool { return last[p.key] == i && !refused[p.key] }
			if err := fl.addShared(ctx, chunk, ti, rt, take); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeItem writes an item's non-shared rows in a savepoint (see
// pgwrite.Writer.WriteItem).
func (fl *fileLoad) writeItem(ctx context.Context, keyItem ddbitem.Item, rows mapping.Rows, replace bool) error {
	return fl.r.writer.WriteItem(ctx, fl.tx, fl.order, keyItem, rows, replace, fl.res.TableRows)
}
