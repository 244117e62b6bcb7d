package load

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/ddb2pg/ddb2pg/pkg/pgwrite"
)

// copyBatchBytes is how much COPY data a file's tables gather together
// across chunks before the biggest is sent. A batch is sent in primary key
// order: the table's index then takes keys in runs instead of in the
// export's random order, which on the bench costs PostgreSQL about a third
// less for a file's worth of rows. It also spares the server the setup of
// a COPY statement per chunk. The bound keeps memory flat however large an
// export file is, and however many tables the mapping has.
const copyBatchBytes = 8 << 20

// writeBuffers are a file's scratch space, reused by the files after it:
// grown anew for every file, the multi-MiB COPY batches and chunk buffers
// cost more in copying as they grew than they saved.
type writeBuffers struct {
	pending []pendingCopy // per table: COPY data not yet sent
	copyBuf []byte        // the writer's COPY data scratch space
	// lineBufs are the reader's chunk buffers (see fileLoad.read).
	lineBufs [][]byte
}

// getBuffers returns empty buffers for a file, reused when one is free.
func (r *run) getBuffers() *writeBuffers {
	var b *writeBuffers
	select {
	case b = <-r.buffers:
	default:
		b = &writeBuffers{pending: make([]pendingCopy, len(r.tables))}
	}
	for i := range b.pending {
		p := &b.pending[i]
		p.data, p.keys, p.rows = p.data[:0], p.keys[:0], p.rows[:0]
	}
	return b
}

// putBuffers hands a file's buffers back for the next file.
func (r *run) putBuffers(b *writeBuffers) {
	select {
	case r.buffers <- b:
	default:
	}
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

// queueRows adds rows to table ti's pending COPY data. Rows the text
// encoder cannot spell are sent at once through pgx, after what is pending.
func (fl *fileLoad) queueRows(ctx context.Context, ti int, rows [][]any) error {
	rt := fl.r.tables[ti]
	p := &fl.pending[ti]
	ct := fl.r.copies[ti]
	for i, row := range rows {
		d0, k0 := len(p.data), len(p.keys)
		b, err := ct.appendRows(p.data, rows[i:i+1])
		if errors.Is(err, errUnsupported) {
			p.data = b[:d0]
			if err := fl.sendThrough(ctx, ti); err != nil {
				return err
			}
			rest := rows[i:]
			n, err := copyRows(ctx, fl.tx, ct, rt.T.Ident, rt.Columns, rest, &fl.copyBuf)
			if err != nil {
				return fmt.Errorf("copying %d rows into %s: %w", len(rest), rt.T.Name, err)
			}
			fl.res.TableRows[rt.T.Name] += n
			return nil
		}
		if err != nil {
			return fmt.Errorf("encoding rows of %s: %w", rt.T.Name, err)
		}
		p.data = b
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

// sendPending sends every table's pending rows, parents first.
func (fl *fileLoad) sendPending(ctx context.Context) error {
	for _, ti := range fl.order.Insert {
		if err := fl.sendTable(ctx, ti); err != nil {
			return err
		}
	}
	return nil
}

// sendThrough sends table ti's pending rows after those of the tables
// written before it (its parents among them), so the user's foreign keys
// between the tables hold after each COPY.
func (fl *fileLoad) sendThrough(ctx context.Context, ti int) error {
	for _, t := range fl.order.Insert {
		if err := fl.sendTable(ctx, t); err != nil {
			return err
		}
		if t == ti {
			return nil
		}
	}
	return nil
}

// sendIfFull sends the pending rows once all tables' together reach
// copyBatchBytes, biggest table first (after the tables written before it)
// until they are under it: the bound holds per worker whatever the number
// of tables.
func (fl *fileLoad) sendIfFull(ctx context.Context) error {
	for {
		total, biggest := 0, -1
		for ti := range fl.pending {
			n := len(fl.pending[ti].data)
			total += n
			if biggest < 0 || n > len(fl.pending[biggest].data) {
				biggest = ti
			}
		}
		if total < copyBatchBytes || biggest < 0 {
			return nil
		}
		if err := fl.sendThrough(ctx, biggest); err != nil {
			return err
		}
	}
}

// sendTable sends table ti's pending rows in sort key order.
func (fl *fileLoad) sendTable(ctx context.Context, ti int) error {
	p := &fl.pending[ti]
	if len(p.rows) == 0 {
		return nil
	}
	slices.SortFunc(p.rows, func(a, b pendingRow) int {
		if c := bytes.Compare(p.keys[a.key[0]:a.key[1]], p.keys[b.key[0]:b.key[1]]); c != 0 {
			return c
		}
		return a.data[0] - b.data[0] // equal keys (a duplicate fails the COPY anyway) in queue order
	})
	out := slices.Grow(fl.copyBuf[:0], len(p.data))
	for _, r := range p.rows {
		out = append(out, p.data[r.data[0]:r.data[1]]...)
	}
	fl.copyBuf = out
	rt := fl.r.tables[ti]
	n, err := pgwrite.Send(ctx, fl.tx.Conn().PgConn(), fl.r.copies[ti].sql, out)
	if err != nil {
		return fmt.Errorf("copying %d rows into %s: %w", len(p.rows), rt.T.Name, err)
	}
	fl.res.TableRows[rt.T.Name] += n
	p.data, p.keys, p.rows = p.data[:0], p.keys[:0], p.rows[:0]
	if cap(fl.copyBuf) > 2*copyBatchBytes {
		fl.copyBuf = nil // an unusually large batch: do not keep its buffer
	}
	return nil
}
