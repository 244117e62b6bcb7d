package pgwrite

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// Writer writes items' rows into the tables of one mapping. Build it once
// per mapping (New) and share it: it is safe for concurrent use, and it
// reads the tables' write order from the catalog once (again after
// ForgetOrder). Every method writes inside the caller's transaction and
// neither commits nor rolls it back; on an error the caller rolls back.
type Writer struct {
	m      *mapping.Mapping
	tables []*Table
	logger *slog.Logger

	copies    []*copyText      // per table: its COPY statement (Bulk)
	kinds     [][]mapping.Kind // per table: its columns' kinds (set upserts)
	keyKinds  [][]mapping.Kind // per non-shared table: its key columns' kinds (set deletes)
	deleteSet []string         // per non-shared table: DeleteItems
	upsertSet []string         // per shared table: UpsertSet ("" when a column type has no array form)

	softColumn string
	softOnce   sync.Mutex
	soft       []bool // per table: has the soft-delete column (resolved once)

	logged atomic.Pointer[Order] // the tables' order last logged
}

// Options configures a Writer.
type Options struct {
	// SoftDeleteColumn names the timestamptz column SoftDelete sets.
	SoftDeleteColumn string
	// Logger receives the tables' order when it is (re)read; nil discards.
	Logger *slog.Logger
}

// New builds the writer of m's tables.
func New(m *mapping.Mapping, opts Options) *Writer {
	wr := &Writer{m: m, tables: For(m), logger: opts.Logger, softColumn: opts.SoftDeleteColumn}
	if wr.logger == nil {
		wr.logger = slog.New(slog.DiscardHandler)
	}
	wr.deleteSet = make([]string, len(wr.tables))
	wr.upsertSet = make([]string, len(wr.tables))
	for ti, rt := range wr.tables {
		wr.copies = append(wr.copies, newCopyText(rt.Name, rt.Columns, rt.T.Columns))
		var kinds, keyKinds []mapping.Kind
		for _, c := range rt.T.Columns {
			kinds = append(kinds, c.Type.Kind)
		}
		for _, ci := range rt.T.KeyColumns {
			keyKinds = append(keyKinds, rt.T.Columns[ci].Type.Kind)
		}
		wr.kinds, wr.keyKinds = append(wr.kinds, kinds), append(wr.keyKinds, keyKinds)
		if !rt.T.Shared && len(rt.T.KeyColumns) > 0 {
			wr.deleteSet[ti] = rt.DeleteItems
		}
		if rt.T.Shared {
			wr.upsertSet[ti] = rt.UpsertSet
		}
	}
	return wr
}

// Tables returns the statements of the mapping's tables, in mapping order.
func (wr *Writer) Tables() []*Table { return wr.tables }

// ForgetOrder makes the next write read the tables' order from the catalog
// again (after a foreign key violation: a foreign key may have been added).
func (wr *Writer) ForgetOrder() { ForgetOrder(wr.tables) }

// Refused reports whether err is PostgreSQL (or pgx) refusing the values of
// a row rather than failing the statement or the session: a data exception,
// an integrity constraint, a program limit (pgerr.IsDataRefused), or a value
// pgx could not encode. Another item's rows may well be accepted; the
// transaction is unusable after it all the same (use a savepoint).
func Refused(err error) bool {
	switch pgerr.Classify(err) {
	case pgerr.Retryable, pgerr.Canceled:
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && len(pgErr.Code) == 5 {
		return pgerr.IsDataRefused(err)
	}
	// Not from the server: a value pgx could not encode.
	return true
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
func (wr *Writer) WriteItemsIsolated(ctx context.Context, tx pgx.Tx, items []ItemWrite) (map[int]error, error) {
	refused := map[int]error{}
	for {
		round, err := tx.Begin(ctx)
		if err != nil {
			return nil, err
		}
		again, err := wr.carefulRound(ctx, round, items, refused)
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
func (wr *Writer) carefulRound(ctx context.Context, tx pgx.Tx, writes []ItemWrite, refused map[int]error) (again bool, err error) {
	ord, err := wr.Order(ctx, tx)
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
	rows := wr.sharedRows(ord, writes, shared)
	if len(rows) > 0 {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return false, err
		}
		var batch pgx.Batch
		for _, r := range rows {
			batch.Queue(wr.sharedSQL(r.table, writes[r.owner]), r.row...)
		}
		err = sp.SendBatch(ctx, &batch).Close()
		if err == nil {
			err = sp.Commit(ctx)
		}
		if err != nil {
			_ = sp.Rollback(ctx)
			if !Refused(err) {
				return false, err
			}
			for _, r := range rows {
				sp, err := tx.Begin(ctx)
				if err != nil {
					return false, err
				}
				_, err = sp.Exec(ctx, wr.sharedSQL(r.table, writes[r.owner]), r.row...)
				if err == nil {
					err = sp.Commit(ctx)
				}
				if err != nil {
					_ = sp.Rollback(ctx)
					if !Refused(err) {
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
			wr.queueDeletes(&batch, ord, []ItemWrite{w}, true)
			err = wr.writeRows(ctx, sp, &batch, ord, []ItemWrite{w}, true, false)
			if err == nil {
				err = sp.Commit(ctx)
			}
			if err == nil {
				break
			}
			_ = sp.Rollback(ctx)
			if !Refused(err) {
				return false, err
			}
			if !bad {
				refused[i] = err
				again = again || wr.hasShared(w.Rows)
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
// row per primary key wins, keys compared as PostgreSQL does: see
// Table.SharedKey; an item with SharedIfAbsent only inserts rows that are
// absent), in a few round trips. Idempotent for the same items. Items must
// be distinct.
// careful deletes before inserting even for fresh items and inserts row by
// row (no COPY), so a failure can be traced to one item.
//
// Tables are written in the order of the user's foreign keys between them
// (OrderOf: read from the catalog once per writer, again after a
// foreign key violation): rows are deleted children first and written
// parents first; shared rows in the order of their SharedKey (the order
// the backfill's Bulk.CopyShared writes them in), so that concurrent
// writers lock them in one order.
func (wr *Writer) WriteItems(ctx context.Context, tx pgx.Tx, items []ItemWrite, careful bool) error {
	var batch pgx.Batch
	return wr.writeItems(ctx, tx, &batch, items, careful)
}

// writeItems is WriteItems after what batch already holds: deletes and
// shared upserts join batch (one pipelined round trip), then one COPY per
// non-shared table.
func (wr *Writer) writeItems(ctx context.Context, tx pgx.Tx, batch *pgx.Batch, items []ItemWrite, careful bool) error {
	ord, err := wr.Order(ctx, tx)
	if err != nil {
		return err
	}
	wr.queueDeletes(batch, ord, items, careful)
	return wr.writeRows(ctx, tx, batch, ord, items, careful, true)
}

// Order returns the tables' write order (OrderOf), logging it when it was
// (re)read.
func (wr *Writer) Order(ctx context.Context, tx pgx.Tx) (*Order, error) {
	ord, err := OrderOf(ctx, tx, wr.tables)
	if err != nil {
		return nil, err
	}
	if wr.logged.Swap(ord) != ord {
		if msg := ord.Describe(wr.tables); len(ord.Cycle) > 0 {
			wr.logger.Warn("foreign keys between the mapped tables", "order", msg)
		} else if msg != "" {
			wr.logger.Info("foreign keys between the mapped tables", "order", msg)
		}
	}
	return ord, nil
}

// queueDeletes queues the deletes of the items' rows in non-shared tables,
// children first: one statement per table for the whole set. Fresh items
// have none, unless careful.
func (wr *Writer) queueDeletes(batch *pgx.Batch, ord *Order, items []ItemWrite, careful bool) {
	for _, ti := range ord.Delete {
		rt := wr.tables[ti]
		if rt.T.Shared {
			continue
		}
		var kvs [][]any // key values of items whose rows go
		for i := range items {
			w := &items[i]
			if w.Fresh && !careful {
				continue
			}
			if kv, ok := wr.keyValues(rt.T, w.Keys); ok {
				kvs = append(kvs, kv)
			}
		}
		wr.queueDeleteSet(batch, ti, kvs)
	}
}

// writeRows writes the items' rows after what batch holds, table by table
// in ord.Insert order: shared upserts join the batch, which is sent before
// the COPY (or, careful, the inserts) of each non-shared table. Without
// withShared the shared tables are left alone.
func (wr *Writer) writeRows(ctx context.Context, tx pgx.Tx, batch *pgx.Batch, ord *Order, items []ItemWrite, careful, withShared bool) error {
	send := func() error {
		if batch.Len() == 0 {
			return nil
		}
		err := tx.SendBatch(ctx, batch).Close()
		*batch = pgx.Batch{}
		return err
	}
	for _, ti := range ord.Insert {
		rt := wr.tables[ti]
		if rt.T.Shared {
			if withShared {
				wr.queueShared(batch, ti, items)
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
func (wr *Writer) queueShared(batch *pgx.Batch, ti int, items []ItemWrite) {
	rt := wr.tables[ti]
	byPK := map[string][]any{}
	ifAbsent := map[string]bool{} // the row's item has SharedIfAbsent
	anyIfAbsent := false
	for i := range items {
		if items[i].Rows == nil {
			continue
		}
		for _, row := range items[i].Rows[ti] {
			pk := rt.SharedKey(row)
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
	// One statement for the set: the rows' keys are distinct as PostgreSQL
	// compares them (SharedKey), so it updates no row twice.
	if len(rows) > 2 && wr.upsertSet[ti] != "" && !anyIfAbsent {
		if arrays, ok := typedArrays(wr.kinds[ti], rows); ok {
			batch.Queue(wr.upsertSet[ti], arrays...)
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
func (wr *Writer) sharedSQL(ti int, w ItemWrite) string {
	if w.SharedIfAbsent {
		return wr.tables[ti].InsertIfAbsent
	}
	return wr.tables[ti].Upsert
}

// sharedRow is a shared table's row with the write it comes from.
type sharedRow struct {
	table, owner int
	row          []any
}

// sharedRows lists the shared rows of writes[which...] as queueShared
// writes them: table by table in ord.Insert order, the last write's row per
// primary key, in key order.
func (wr *Writer) sharedRows(ord *Order, writes []ItemWrite, which []int) []sharedRow {
	var out []sharedRow
	for _, ti := range ord.Insert {
		rt := wr.tables[ti]
		if !rt.T.Shared {
			continue
		}
		byPK := map[string]sharedRow{}
		for _, i := range which {
			for _, row := range writes[i].Rows[ti] {
				byPK[rt.SharedKey(row)] = sharedRow{table: ti, owner: i, row: row}
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
func (wr *Writer) hasShared(rows mapping.Rows) bool {
	for ti, rt := range wr.tables {
		if rt.T.Shared && ti < len(rows) && len(rows[ti]) > 0 {
			return true
		}
	}
	return false
}

// queueDeleteSet deletes the rows of the items whose key values are kvs
// from table ti: one statement for the whole set (key values sent as typed
// arrays) when there are several, one per item otherwise.
func (wr *Writer) queueDeleteSet(b *pgx.Batch, ti int, kvs [][]any) {
	rt := wr.tables[ti]
	if len(kvs) == 0 {
		return
	}
	if len(kvs) > 2 {
		if arrays, ok := typedArrays(wr.keyKinds[ti], kvs); ok {
			b.Queue(wr.deleteSet[ti], arrays...)
			return
		}
	}
	for _, kv := range kvs {
		b.Queue(rt.DeleteItem, kv...)
	}
}

// typedArrays turns rows of values of columns of the given kinds into one
// typed slice per column (pgx encodes []string as text[], []int64 as
// bigint[], ...); ok is false for a kind without a flat array form (jsonb)
// or a value that is not its kind's Go type (NULL).
func typedArrays(kinds []mapping.Kind, kvs [][]any) ([]any, bool) {
	out := make([]any, len(kinds))
	for c, k := range kinds {
		switch k {
		case mapping.KindText, mapping.KindVarchar:
			out[c] = column[string](kvs, c)
		case mapping.KindInt2:
			out[c] = column[int16](kvs, c)
		case mapping.KindInt4:
			out[c] = column[int32](kvs, c)
		case mapping.KindInt8:
			out[c] = column[int64](kvs, c)
		case mapping.KindNumeric:
			out[c] = column[pgtype.Numeric](kvs, c)
		case mapping.KindUUID:
			out[c] = column[pgtype.UUID](kvs, c)
		case mapping.KindTimestamptz, mapping.KindTimestamp, mapping.KindDate:
			out[c] = column[time.Time](kvs, c)
		case mapping.KindBytea:
			out[c] = column[[]byte](kvs, c)
		case mapping.KindBool:
			out[c] = column[bool](kvs, c)
		case mapping.KindFloat8:
			out[c] = column[float64](kvs, c)
		case mapping.KindFloat4:
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

// keyValues returns the values of t's key columns for the item, and false
// when the item cannot have rows in t (see mapping.KeyValues: a shared table,
// a key that does not convert, a `when` on a key attribute that fails).
func (wr *Writer) keyValues(t *mapping.Table, keys ddbitem.Item) ([]any, bool) {
	kv, ok, err := wr.m.KeyValues(t, keys)
	if err != nil || !ok {
		return nil, false
	}
	return kv, true
}

// SoftDelete marks one item's rows deleted instead of deleting them.
type SoftDelete struct {
	Keys ddbitem.Item // the item's key attributes
	// At is the time set; zero sets now().
	At time.Time
}

// Write is WriteItems after soft deletes: the soft deletes (see
// SoftDeletes) join the first pipelined round trip of the items' writes.
// soft and items must not share an item.
func (wr *Writer) Write(ctx context.Context, tx pgx.Tx, soft []SoftDelete, items []ItemWrite, careful bool) error {
	var batch pgx.Batch
	for _, sd := range soft {
		if err := wr.queueSoftDelete(ctx, tx, &batch, sd); err != nil {
			return err
		}
	}
	return wr.writeItems(ctx, tx, &batch, items, careful)
}

// SoftDeletesIsolated sets, inside tx, the soft-delete column
// (Options.SoftDeleteColumn) of the rows of each item of soft in every
// non-shared table that has the column, each item in a savepoint of its
// own: it returns why PostgreSQL refused some (see Refused), by index in
// soft; their rows stay as they were. Idempotent but for the time set.
// Other errors are returned as they are; tx is then unusable. It fails
// when no mapped table has the column.
func (wr *Writer) SoftDeletesIsolated(ctx context.Context, tx pgx.Tx, soft []SoftDelete) (map[int]error, error) {
	refused := map[int]error{}
	for i, sd := range soft {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return nil, err
		}
		var batch pgx.Batch
		if err := wr.queueSoftDelete(ctx, sp, &batch, sd); err != nil {
			_ = sp.Rollback(ctx)
			return nil, err
		}
		err = sp.SendBatch(ctx, &batch).Close()
		if err == nil {
			err = sp.Commit(ctx)
		}
		if err != nil {
			_ = sp.Rollback(ctx)
			if !Refused(err) {
				return nil, err
			}
			refused[i] = err
		}
	}
	return refused, nil
}

func (wr *Writer) queueSoftDelete(ctx context.Context, tx pgx.Tx, b *pgx.Batch, sd SoftDelete) error {
	if err := wr.resolveSoft(ctx, tx); err != nil {
		return err
	}
	var atv any
	if !sd.At.IsZero() {
		atv = sd.At
	}
	for ti, rt := range wr.tables {
		if rt.T.Shared || !wr.soft[ti] {
			continue
		}
		kv, ok := wr.keyValues(rt.T, sd.Keys)
		if !ok {
			continue
		}
		b.Queue(rt.SoftDeleteItem(wr.softColumn), append(kv, atv)...)
	}
	return nil
}

// resolveSoft finds, once, which non-shared tables have the soft-delete column.
func (wr *Writer) resolveSoft(ctx context.Context, tx pgx.Tx) error {
	wr.softOnce.Lock()
	defer wr.softOnce.Unlock()
	if wr.soft != nil {
		return nil
	}
	soft := make([]bool, len(wr.tables))
	found := false
	for ti, rt := range wr.tables {
		if rt.T.Shared {
			continue
		}
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass($1)
			AND attname = $2 AND attnum > 0 AND NOT attisdropped)`, rt.Name, wr.softColumn).Scan(&soft[ti]); err != nil {
			return fmt.Errorf("looking for the soft-delete column %q in %s: %w", wr.softColumn, rt.T.Name, err)
		}
		found = found || soft[ti]
	}
	if !found {
		return fmt.Errorf("TTL deletes are soft but no mapped table has the column %q: add it (wr.g. ALTER TABLE ... ADD COLUMN %s timestamptz)",
			wr.softColumn, wr.softColumn)
	}
	wr.soft = soft
	return nil
}
