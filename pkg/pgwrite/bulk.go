package pgwrite

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
)

// copyBatchBytes is how much COPY data a transaction's tables gather
// together before the biggest is sent. A batch is sent in primary key
// order: the table's index then takes keys in runs instead of in the
// export's random order, which on the bench costs PostgreSQL about a third
// less for a file's worth of rows. It also spares the server the setup of
// a COPY statement per chunk. The bound keeps memory flat however large an
// export file is, and however many tables the mapping has.
const copyBatchBytes = 8 << 20

// Bulk is the first-load path of a Writer: rows appended to the tables with
// COPY in PostgreSQL's text format, batched per table and sent in primary
// key order, parents before children (the Order given to Reset), and a
// shared table's rows staged in a temporary table and inserted if absent.
// Nothing is idempotent: COPY fails on a row whose primary key exists.
//
// A Bulk serves one transaction at a time (it is not safe for concurrent
// use); Reset starts the next one and keeps its buffers, so a worker reuses
// one Bulk file after file. Rows queued but not yet sent are lost with the
// transaction; Flush sends them. Every method takes the transaction to
// write in; the caller owns it (begins, commits, rolls back).
type Bulk struct {
	wr      *Writer
	ord     *Order
	counts  map[string]int64
	pending []pendingCopy // per table: COPY data not yet sent
	stages  []*stage      // per shared table: its staging table, once created
	copyBuf []byte        // COPY data scratch space
}

// NewBulk returns an empty Bulk for wr's tables; call Reset before use.
func (wr *Writer) NewBulk() *Bulk {
	return &Bulk{wr: wr, pending: make([]pendingCopy, len(wr.tables)), stages: make([]*stage, len(wr.tables))}
}

// Reset forgets what was queued or staged (a rolled back transaction or
// savepoint, or the next file) and writes the next rows in ord's order,
// adding the rows each table receives to counts (by table name).
func (b *Bulk) Reset(ord *Order, counts map[string]int64) {
	b.ord, b.counts = ord, counts
	for i := range b.pending {
		p := &b.pending[i]
		p.data, p.keys, p.rows = p.data[:0], p.keys[:0], p.rows[:0]
	}
	clear(b.stages)
}

// pendingCopy is a table's COPY data not yet sent: rows encoded back to
// back, each with its sort key.
type pendingCopy struct {
	data []byte
	keys []byte
	rows []pendingRow
}

type pendingRow struct {
	key, data [2]int // [start, end) in keys and data
}

// Queue adds rows to non-shared table ti's pending COPY data; rows the text
// encoder cannot spell are sent at once through pgx's binary COPY, after
// what is pending for the tables written before ti. Queued rows are sent
// by Flush, FlushIfFull, or when a later write needs them in.
func (b *Bulk) Queue(ctx context.Context, tx pgx.Tx, ti int, rows [][]any) error {
	rt := b.wr.tables[ti]
	p := &b.pending[ti]
	ct := b.wr.copies[ti]
	for i, row := range rows {
		d0, k0 := len(p.data), len(p.keys)
		out, err := ct.appendRows(p.data, rows[i:i+1])
		if errors.Is(err, errUnsupported) {
			p.data = out[:d0]
			if err := b.sendThrough(ctx, tx, ti); err != nil {
				return err
			}
			rest := rows[i:]
			n, err := copyRows(ctx, tx, ct, rt.T.Ident, rt.Columns, rest, &b.copyBuf)
			if err != nil {
				return fmt.Errorf("copying %d rows into %s: %w", len(rest), rt.T.Name, err)
			}
			b.counts[rt.T.Name] += n
			return nil
		}
		if err != nil {
			return fmt.Errorf("encoding rows of %s: %w", rt.T.Name, err)
		}
		p.data = out
		p.keys = appendSortKey(p.keys, row, rt.T.PKIndexes, ct)
		p.rows = append(p.rows, pendingRow{key: [2]int{k0, len(p.keys)}, data: [2]int{d0, len(p.data)}})
	}
	return nil
}

// appendSortKey appends an ordering key of row's primary key: text as its
// bytes, integers so that bytes order as numbers, anything else as its COPY
// text. Only locality depends on it (PostgreSQL's collation may order text
// otherwise), never correctness.
func appendSortKey(b []byte, row []any, pk []int, ct *copyText) []byte {
	for _, ci := range pk {
		switch x := row[ci].(type) {
		case string:
			b = append(b, x...)
		case int16:
			b = binary.BigEndian.AppendUint64(b, uint64(int64(x))^1<<63)
		case int32:
			b = binary.BigEndian.AppendUint64(b, uint64(int64(x))^1<<63)
		case int64:
			b = binary.BigEndian.AppendUint64(b, uint64(x)^1<<63)
		default:
			b, _ = appendCopyValue(b, x, ct.kinds[ci])
		}
		b = append(b, 0)
	}
	return b
}

// Flush sends every table's pending rows, parents first.
func (b *Bulk) Flush(ctx context.Context, tx pgx.Tx) error {
	for _, ti := range b.ord.Insert {
		if err := b.sendTable(ctx, tx, ti); err != nil {
			return err
		}
	}
	return nil
}

// sendThrough sends table ti's pending rows after those of the tables
// written before it (its parents among them), so the user's foreign keys
// between the tables hold after each COPY.
func (b *Bulk) sendThrough(ctx context.Context, tx pgx.Tx, ti int) error {
	for _, t := range b.ord.Insert {
		if err := b.sendTable(ctx, tx, t); err != nil {
			return err
		}
		if t == ti {
			return nil
		}
	}
	return nil
}

// FlushIfFull sends pending rows once all tables' together reach
// copyBatchBytes, biggest table first (after the tables written before it)
// until they are under it: the bound holds whatever the number of tables.
func (b *Bulk) FlushIfFull(ctx context.Context, tx pgx.Tx) error {
	for {
		total, biggest := 0, -1
		for ti := range b.pending {
			n := len(b.pending[ti].data)
			total += n
			if biggest < 0 || n > len(b.pending[biggest].data) {
				biggest = ti
			}
		}
		if total < copyBatchBytes || biggest < 0 {
			return nil
		}
		if err := b.sendThrough(ctx, tx, biggest); err != nil {
			return err
		}
	}
}

// sendTable sends table ti's pending rows in sort key order.
func (b *Bulk) sendTable(ctx context.Context, tx pgx.Tx, ti int) error {
	p := &b.pending[ti]
	if len(p.rows) == 0 {
		return nil
	}
	slices.SortFunc(p.rows, func(x, y pendingRow) int {
		if c := bytes.Compare(p.keys[x.key[0]:x.key[1]], p.keys[y.key[0]:y.key[1]]); c != 0 {
			return c
		}
		return x.data[0] - y.data[0] // equal keys (a duplicate fails the COPY anyway) in queue order
	})
	out := slices.Grow(b.copyBuf[:0], len(p.data))
	for _, r := range p.rows {
		out = append(out, p.data[r.data[0]:r.data[1]]...)
	}
	b.copyBuf = out
	rt := b.wr.tables[ti]
	n, err := Send(ctx, tx.Conn().PgConn(), b.wr.copies[ti].sql, out)
	if err != nil {
		return fmt.Errorf("copying %d rows into %s: %w", len(p.rows), rt.T.Name, err)
	}
	b.counts[rt.T.Name] += n
	p.data, p.keys, p.rows = p.data[:0], p.keys[:0], p.rows[:0]
	if cap(b.copyBuf) > 2*copyBatchBytes {
		b.copyBuf = nil // an unusually large batch: do not keep its buffer
	}
	return nil
}

// CopyShared appends rows, distinct new rows of shared table ti, with one
// COPY in primary key order (cheaper for the index; concurrent writers
// lock keys in one order). It fails when a row's key exists: use it only
// for keys no one else can have written (a first load's claimed keys).
// It sorts rows in place.
func (b *Bulk) CopyShared(ctx context.Context, tx pgx.Tx, ti int, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	rt := b.wr.tables[ti]
	keys := make([]string, len(rows))
	for i, row := range rows {
		keys[i] = rt.SharedKey(row)
	}
	sort.Sort(byPK{rows, keys})
	n, err := copyRows(ctx, tx, b.wr.copies[ti], rt.T.Ident, rt.Columns, rows, &b.copyBuf)
	if err != nil {
		return fmt.Errorf("copying %d shared rows into %s: %w", len(rows), rt.T.Name, err)
	}
	b.counts[rt.T.Name] += n
	return nil
}

// byPK sorts rows with their primary key strings.
type byPK struct {
	rows [][]any
	pks  []string
}

func (b byPK) Len() int           { return len(b.rows) }
func (b byPK) Less(i, j int) bool { return b.pks[i] < b.pks[j] }
func (b byPK) Swap(i, j int) {
	b.rows[i], b.rows[j] = b.rows[j], b.rows[i]
	b.pks[i], b.pks[j] = b.pks[j], b.pks[i]
}

// stage is a shared table's staging table in one transaction.
type stage struct {
	raw  string    // the temp table's name
	name string    // quoted
	ord  string    // its own column (quoted): the order rows were staged in
	copy *copyText // COPY into it
}

// Stage copies rows of shared table ti into the transaction's staging
// table for it (a temporary table dropped at commit, created on first use),
// to be written by InsertStaged; it returns the rows staged. Staging bounds
// a caller's memory: it need not hold the rows until the end.
func (b *Bulk) Stage(ctx context.Context, tx pgx.Tx, ti int, rows [][]any) (int64, error) {
	rt := b.wr.tables[ti]
	st := b.stages[ti]
	if st == nil {
		name := fmt.Sprintf("ddb2pg_stage_%d", ti)
		st = &stage{raw: name, name: pgx.Identifier{name}.Sanitize(), ord: pgx.Identifier{stagingOrdColumn(rt)}.Sanitize()}
		cols := make([]string, len(rt.T.Columns))
		for i, c := range rt.T.Columns {
			cols[i] = pgx.Identifier{c.Name}.Sanitize() + " " + c.Type.Name
		}
		if _, err := tx.Exec(ctx, "CREATE TEMP TABLE "+st.name+" ("+st.ord+" bigserial, "+strings.Join(cols, ", ")+") ON COMMIT DROP"); err != nil {
			return 0, fmt.Errorf("creating staging table for %s: %w", rt.T.Name, err)
		}
		st.copy = newCopyText(st.name, rt.Columns, rt.T.Columns)
		b.stages[ti] = st
	}
	if len(rows) == 0 {
		return 0, nil
	}
	n, err := copyRows(ctx, tx, st.copy, pgx.Identifier{st.raw}, rt.Columns, rows, &b.copyBuf)
	if err != nil {
		return 0, fmt.Errorf("staging %d rows of %s: %w", len(rows), rt.T.Name, err)
	}
	return n, nil
}

// InsertStaged inserts the rows staged for shared table ti whose primary
// key is absent, in primary key order (the first staged row per key wins),
// and never updates an existing row: idempotent. A no-op when nothing was
// staged.
func (b *Bulk) InsertStaged(ctx context.Context, tx pgx.Tx, ti int) error {
	st := b.stages[ti]
	if st == nil {
		return nil
	}
	rt := b.wr.tables[ti]
	tag, err := tx.Exec(ctx, "INSERT INTO "+rt.Name+" ("+rt.QuotedColumns()+") SELECT "+rt.QuotedColumns()+
		" FROM "+st.name+" ORDER BY "+rt.PrimaryKey()+", "+st.ord+" ON CONFLICT ("+rt.PrimaryKey()+") DO NOTHING")
	if err != nil {
		return fmt.Errorf("writing shared rows of %s: %w", rt.T.Name, err)
	}
	b.counts[rt.T.Name] += tag.RowsAffected()
	return nil
}

// stagingOrdColumn names the staging table's own column: ddb2pg_ord, or
// with as many underscores appended as it takes to differ from every column
// of the table (a mapped table may have any column names).
func stagingOrdColumn(rt *Table) string {
	name := "ddb2pg_ord"
	for slices.Contains(rt.Columns, name) {
		name += "_"
	}
	return name
}
