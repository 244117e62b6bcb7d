package load

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
	"github.com/ddb2pg/ddb2pg/pkg/export"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/rowsql"
)

// maxRawValue bounds the raw value kept with a reject.
const maxRawValue = 64 << 10

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
	fl := &fileLoad{r: r, tx: tx, file: df, careful: careful,
		res: ledger.FileResult{TableRows: map[string]int64{}}, shared: make([]*sharedBuf, len(r.tables))}
	err = fl.read(ctx)
	if err == nil {
		err = fl.finish(ctx)
	}
	if err == nil {
		err = r.cfg.Ledger.MarkFileDone(ctx, tx, r.cfg.Export.ID(), df.Key, r.cfg.WorkerID, fl.res)
	}
	if err == nil {
		err = tx.Commit(ctx)
	}
	if err != nil {
		r.items.Add(-fl.processed)
		r.rejected.Add(-fl.res.Rejected)
		return nil, df.Key, err
	}
	for ti, sb := range fl.shared {
		if sb != nil {
			r.committed.add(ti, sb.seen)
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

// pendingItem is a mapped item waiting for its chunk's flush. The decoded
// item itself is not kept: memory per queued item is its rows only.
type pendingItem struct {
	key  string
	rows mapping.Rows
}

// sharedBuf collects one shared table's rows of a file, first writer wins.
type sharedBuf struct {
	seen    map[string]struct{}
	rows    [][]any
	stage   string // temp table name once created
	staged  int64
	spilled bool
}

type fileLoad struct {
	r         *run
	tx        pgx.Tx
	file      export.DataFile
	careful   bool
	chunk     []pendingItem
	shared    []*sharedBuf
	rejects   []ledger.Reject
	res       ledger.FileResult
	processed int64
	dec       ddbjson.Decoder // reused: its scratch space survives across lines
	// send hands a full chunk to the writer goroutine.
	send func([]pendingItem) error
}

// read streams the file: this goroutine decodes and maps lines into chunks
// while a writer goroutine sends the previous chunk to PostgreSQL, so Go's
// CPU work and the server's overlap. At most three chunks per file are in
// memory: one being filled, one queued, one being written. The writer is
// the only user of the transaction until read returns.
func (fl *fileLoad) read(ctx context.Context) error {
	wctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	chunks := make(chan []pendingItem, 1)
	done := make(chan error, 1)
	go func() {
		var werr error
		for c := range chunks {
			if werr == nil {
				if werr = fl.flush(wctx, c); werr != nil {
					cancel(werr)
				}
			}
		}
		done <- werr
	}()
	fl.send = func(c []pendingItem) error {
		select {
		case chunks <- c:
			return nil
		case <-wctx.Done():
			return context.Cause(wctx)
		}
	}
	err := fl.r.cfg.Export.ReadFile(wctx, fl.file, func(line int64, data []byte) error { return fl.handle(line, data) })
	if err == nil && len(fl.chunk) > 0 {
		err = fl.send(fl.chunk)
		fl.chunk = nil
	}
	close(chunks)
	if werr := <-done; werr != nil {
		return werr // the writer's failure is the cause of any read error
	}
	return err
}

func (fl *fileLoad) reject(line int64, key string, rej ledger.Reject) {
	rej.SourceTable = fl.r.cfg.Mapping.Source.Table
	rej.ItemKey = key
	rej.ExportID = fl.r.cfg.Export.ID()
	rej.FileKey = fl.file.Key
	rej.Line = line
	rej.Origin = fmt.Sprintf("export %s file %s line %d", rej.ExportID, fl.file.Key, line)
	if len(rej.RawValue) > maxRawValue {
		rej.RawValue = rej.RawValue[:maxRawValue] + "…(truncated)"
	}
	fl.rejects = append(fl.rejects, rej)
	fl.res.Rejected++
	fl.r.rejected.Add(1)
}

// handle takes one data line: decode, key, map; rejected items are recorded
// with their reason and origin, good ones are queued for the next flush.
func (fl *fileLoad) handle(line int64, data []byte) error {
	fl.processed++
	fl.r.items.Add(1)
	rec, err := fl.dec.DecodeExportLine(data)
	if err != nil {
		fl.reject(line, "", ledger.Reject{RawValue: string(data), Reason: "undecodable line: " + err.Error()})
		return nil
	}
	if rec.Item == nil {
		fl.reject(line, "", ledger.Reject{RawValue: string(data), Reason: `line has no "Item" (is this an incremental export?)`})
		return nil
	}
	m := fl.r.cfg.Mapping
	key, err := m.KeyOf(rec.Item)
	if err != nil {
		fl.reject(line, "", ledger.Reject{RawValue: rec.Item.String(), Reason: "reading the item's key: " + err.Error()})
		return nil
	}
	rows, rej := m.Rows(rec.Item)
	if rej != nil {
		fl.reject(line, string(key), ledger.Reject{PGTable: rej.Table, PGColumn: rej.Column, Path: rej.Path,
			RawValue: rej.Raw, Reason: rej.Reason})
		return nil
	}
	fl.chunk = append(fl.chunk, pendingItem{key: string(key), rows: rows})
	if len(fl.chunk) >= fl.r.cfg.ChunkItems {
		if err := fl.send(fl.chunk); err != nil {
			return err
		}
		fl.chunk = make([]pendingItem, 0, fl.r.cfg.ChunkItems)
	}
	if fl.processed%1024 == 0 {
		fl.r.report()
	}
	return nil
}

// flush writes the queued items whose export copy wins over what is applied.
func (fl *fileLoad) flush(ctx context.Context, chunk []pendingItem) error {
	if len(chunk) == 0 {
		return nil
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
	claim, err := fl.r.cfg.Ledger.ClaimForExport(ctx, fl.tx, fl.r.cfg.Mapping.Source.Table, fl.r.cfg.Export.ExportTime(), keys)
	if err != nil {
		return err
	}
	m := fl.r.cfg.Mapping
	var batch pgx.Batch
	for i, p := range chunk {
		fresh, won := claim.Won[p.key]
		if !won {
			fl.res.Skipped++
			continue
		}
		fl.res.Loaded++
		if last[p.key] != i || (fresh && !fl.careful) {
			continue
		}
		keyItem, err := m.KeyItem(ddbitem.Key(p.key))
		if err != nil {
			return fmt.Errorf("item %s: %w", p.key, err)
		}
		for _, rt := range fl.r.tables {
			if rt.T.Shared {
				continue
			}
			kv, ok, err := m.KeyValues(rt.T, keyItem)
			if err != nil {
				return fmt.Errorf("item %s: key columns of %s: %w", p.key, rt.T.Name, err)
			}
			if ok {
				batch.Queue(rt.DeleteItem, kv...)
			}
		}
	}
	if batch.Len() > 0 {
		if err := fl.tx.SendBatch(ctx, &batch).Close(); err != nil {
			return fmt.Errorf("deleting previous rows of re-loaded items: %w", err)
		}
	}
	for ti, rt := range fl.r.tables {
		if rt.T.Shared {
			if err := fl.addShared(ctx, chunk, ti, rt, claim, last); err != nil {
				return err
			}
			continue
		}
		var rows [][]any
		for i, p := range chunk {
			if _, won := claim.Won[p.key]; !won || last[p.key] != i {
				continue
			}
			for _, row := range p.rows[ti] {
				rows = append(rows, row)
			}
		}
		if len(rows) == 0 {
			continue
		}
		n, err := fl.tx.CopyFrom(ctx, rt.T.Ident, rt.Columns, pgx.CopyFromRows(rows))
		if err != nil {
			return fmt.Errorf("copying %d rows into %s: %w", len(rows), rt.T.Name, err)
		}
		fl.res.TableRows[rt.T.Name] += n
	}
	return nil
}

func (fl *fileLoad) addShared(ctx context.Context, chunk []pendingItem, ti int, rt *rowsql.Table, claim ledger.ExportClaim, last map[string]int) error {
	sb := fl.shared[ti]
	if sb == nil {
		sb = &sharedBuf{seen: map[string]struct{}{}}
		fl.shared[ti] = sb
	}
	for i, p := range chunk {
		if _, won := claim.Won[p.key]; !won || last[p.key] != i {
			continue
		}
		for _, row := range p.rows[ti] {
			pk := rt.T.PKString(row)
			if _, dup := sb.seen[pk]; dup || fl.r.committed.has(ti, pk) {
				continue
			}
			sb.seen[pk] = struct{}{}
			sb.rows = append(sb.rows, row)
		}
	}
	if len(sb.rows) >= fl.r.cfg.SharedSpillRows {
		return fl.spill(ctx, ti, rt)
	}
	return nil
}

// spill moves a shared table's buffered rows into the file's staging table,
// bounding memory; the dedupe set is kept, so it costs one string per row.
func (fl *fileLoad) spill(ctx context.Context, ti int, rt *rowsql.Table) error {
	sb := fl.shared[ti]
	if len(sb.rows) == 0 {
		return nil
	}
	if sb.stage == "" {
		sb.stage = fmt.Sprintf("ddb2pg_stage_%d", ti)
		cols := make([]string, len(rt.T.Columns))
		for i, c := range rt.T.Columns {
			cols[i] = pgx.Identifier{c.Name}.Sanitize() + " " + c.Type.Name
		}
		if _, err := fl.tx.Exec(ctx, "CREATE TEMP TABLE "+sb.stage+" (ddb2pg_ord bigserial, "+strings.Join(cols, ", ")+") ON COMMIT DROP"); err != nil {
			return fmt.Errorf("creating staging table for %s: %w", rt.T.Name, err)
		}
	}
	n, err := fl.tx.CopyFrom(ctx, pgx.Identifier{sb.stage}, rt.Columns, pgx.CopyFromRows(sb.rows))
	if err != nil {
		return fmt.Errorf("staging %d rows of %s: %w", len(sb.rows), rt.T.Name, err)
	}
	sb.staged += n
	sb.rows = sb.rows[:0]
	sb.spilled = true
	return nil
}

// finish writes the shared rows and the rejects, after the last chunk.
// Shared rows are written last, sorted by primary key, so concurrent workers
// lock them in one order and hold the locks only until their commit.
func (fl *fileLoad) finish(ctx context.Context) error {
	for ti, rt := range fl.r.tables {
		sb := fl.shared[ti]
		if sb == nil || (len(sb.rows) == 0 && !sb.spilled) {
			continue
		}
		if err := fl.spill(ctx, ti, rt); err != nil {
			return err
		}
		// The backfill never overwrites an existing shared row: a row the
		// stream wrote is newer than any export copy.
		tag, err := fl.tx.Exec(ctx, "INSERT INTO "+rt.Name+" ("+rt.QuotedColumns()+") SELECT "+rt.QuotedColumns()+
			" FROM "+sb.stage+" ORDER BY "+rt.PrimaryKey()+", ddb2pg_ord ON CONFLICT ("+rt.PrimaryKey()+") DO NOTHING")
		if err != nil {
			return fmt.Errorf("writing shared rows of %s: %w", rt.T.Name, err)
		}
		fl.res.TableRows[rt.T.Name] += tag.RowsAffected()
	}
	return fl.r.cfg.Ledger.InsertRejects(ctx, fl.tx, fl.rejects)
}
