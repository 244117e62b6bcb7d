package pgwrite

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// DeleteItems deletes, inside tx, the rows of the items whose key
// attributes are keys from every non-shared table, children first (ord),
// in one pipelined round trip. Shared rows stay. Idempotent. An item whose
// key columns cannot be computed fails the call.
func (wr *Writer) DeleteItems(ctx context.Context, tx pgx.Tx, ord *Order, keys []ddbitem.Item) error {
	var batch pgx.Batch
	if err := wr.queueItemDeletes(&batch, ord, keys); err != nil {
		return err
	}
	if batch.Len() == 0 {
		return nil
	}
	return tx.SendBatch(ctx, &batch).Close()
}

// queueItemDeletes queues the deletes of DeleteItems, one statement per
// item and table.
func (wr *Writer) queueItemDeletes(batch *pgx.Batch, ord *Order, keys []ddbitem.Item) error {
	for _, ti := range ord.Delete {
		rt := wr.tables[ti]
		if rt.T.Shared {
			continue
		}
		for _, keyItem := range keys {
			kv, ok, err := wr.m.KeyValues(rt.T, keyItem)
			if err != nil {
				return fmt.Errorf("item %s: key columns of %s: %w", keyItem, rt.T.Name, err)
			}
			if ok {
				batch.Queue(rt.DeleteItem, kv...)
			}
		}
	}
	return nil
}

// WriteItem writes one item's non-shared rows inside a savepoint of tx: its
// previous rows deleted first (children first) when replace, then rows
// (nil: none) inserted parents first (a table referencing itself in one
// COPY, checked once all its rows are in). On success it adds the rows
// written to counts (by table name); on an error the savepoint is rolled
// back and tx stays usable (see Refused). Shared rows are left to the
// caller (Bulk.Stage, InsertStaged).
func (wr *Writer) WriteItem(ctx context.Context, tx pgx.Tx, ord *Order, keys ddbitem.Item, rows mapping.Rows, replace bool, counts map[string]int64) error {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	err = wr.writeItemIn(ctx, sp, ord, keys, rows, replace, counts)
	if err == nil {
		err = sp.Commit(ctx)
	}
	if err != nil {
		_ = sp.Rollback(ctx)
	}
	return err
}

func (wr *Writer) writeItemIn(ctx context.Context, sp pgx.Tx, ord *Order, keys ddbitem.Item, rows mapping.Rows, replace bool, counts map[string]int64) error {
	var b pgx.Batch
	if replace {
		if err := wr.queueItemDeletes(&b, ord, []ddbitem.Item{keys}); err != nil {
			return err
		}
	}
	send := func() error {
		if b.Len() == 0 {
			return nil
		}
		err := sp.SendBatch(ctx, &b).Close()
		b = pgx.Batch{}
		return err
	}
	written := map[string]int64{}
	for _, ti := range ord.Insert {
		rt := wr.tables[ti]
		if rt.T.Shared || rows == nil || len(rows[ti]) == 0 {
			continue
		}
		written[rt.T.Name] += int64(len(rows[ti]))
		if ord.SelfRef[ti] {
			if err := send(); err != nil {
				return err
			}
			all := make([][]any, len(rows[ti]))
			for i, r := range rows[ti] {
				all[i] = r
			}
			if _, err := sp.CopyFrom(ctx, rt.T.Ident, rt.Columns, pgx.CopyFromRows(all)); err != nil {
				return err
			}
			continue
		}
		for _, r := range rows[ti] {
			b.Queue(rt.Insert, r...)
		}
	}
	if err := send(); err != nil {
		return err
	}
	for t, n := range written {
		counts[t] += n
	}
	return nil
}

// DeferSharedFKs prepares tx for writing shared rows after the rows that
// reference them (a full export's first load writes shared rows at the end
// of each file): every foreign key from a non-shared to a shared table
// that is DEFERRABLE INITIALLY IMMEDIATE is deferred for the transaction;
// one that is NOT DEFERRABLE is an error naming the fix.
func (wr *Writer) DeferSharedFKs(ctx context.Context, tx pgx.Tx, ord *Order) error {
	var deferNow []string
	for _, fk := range ord.FKs {
		child, parent := wr.tables[fk.Child].T, wr.tables[fk.Parent].T
		if child.Shared || !parent.Shared || fk.Deferred {
			continue
		}
		if !fk.Deferrable {
			return fmt.Errorf("the foreign key %s from %s to the shared table %s is NOT DEFERRABLE, but the backfill writes shared rows "+
				"at the end of each file, after the rows that reference them: make it deferrable "+
				"(ALTER TABLE %s ALTER CONSTRAINT %s DEFERRABLE INITIALLY DEFERRED)",
				fk.Name, child.Name, parent.Name, child.Ident.Sanitize(), pgx.Identifier{fk.Constraint}.Sanitize())
		}
		deferNow = append(deferNow, fk.Name)
	}
	if len(deferNow) > 0 {
		if _, err := tx.Exec(ctx, "SET CONSTRAINTS "+strings.Join(deferNow, ", ")+" DEFERRED"); err != nil {
			return fmt.Errorf("deferring the foreign keys to shared tables: %w", err)
		}
	}
	return nil
}
