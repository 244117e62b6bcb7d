package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// IncrementalClaim asks to make one change of an incremental export the
// applied version of an item.
type IncrementalClaim struct {
	Key       string
	WriteTime time.Time // the change's WriteTimestampMicros
	Deleted   bool      // the change deletes the item (tombstone)
}

// IncrementalOutcome is what ClaimForIncremental found and did for one key.
type IncrementalOutcome struct {
	// Won: the change is now the item's applied version; its rows must be
	// written in the same transaction.
	Won bool
	// Fresh: the item had no ledger row, so it has no rows in the tables.
	Fresh bool
	// PrevOrigin is "", "export" or "stream"; PrevTime the stored
	// export_time ("export" only), as the statement saw them.
	PrevOrigin string
	PrevTime   time.Time
}

// ClaimForIncremental is the guard of incremental exports, next to
// ClaimForExport and ClaimForStream. An incremental export's change of an
// item, written at WriteTime, becomes the item's applied version when the
// item has no ledger row, or its row has origin 'export' with an
// export_time strictly older than WriteTime (the same change applied again
// is a no-op; a full export taken at or after WriteTime already reflects
// it). A stream-applied row always wins: the stream replays everything after
// its start. A winning change is recorded with origin 'export' and
// export_time = WriteTime (microseconds), deleted for a delete. Keys must be
// distinct; they are locked in key order.
func (l *Ledger) ClaimForIncremental(ctx context.Context, tx pgx.Tx, sourceTable string, claims []IncrementalClaim) (map[string]IncrementalOutcome, error) {
	out := make(map[string]IncrementalOutcome, len(claims))
	if len(claims) == 0 {
		return out, nil
	}
	keys := make([]string, len(claims))
	times := make([]time.Time, len(claims))
	dels := make([]bool, len(claims))
	for i, c := range claims {
		keys[i], times[i], dels[i] = c.Key, c.WriteTime.Truncate(time.Microsecond), c.Deleted
	}
	items := l.T("items")
	var b pgx.Batch
	b.Queue(`SELECT i.item_key, i.origin, i.export_time FROM unnest($2::text[]) AS k
		JOIN `+items+` i ON i.source_table = $1 AND i.item_key = k`, sourceTable, keys)
	b.Queue(`INSERT INTO `+items+` AS i (source_table, item_key, origin, export_time, deleted)
		SELECT $1, k, 'export', t, d
		FROM unnest($2::text[], $3::timestamptz[], $4::bool[]) AS u(k, t, d) ORDER BY k
		ON CONFLICT (source_table, item_key) DO UPDATE
			SET export_time = excluded.export_time, deleted = excluded.deleted, applied_at = now()
			WHERE i.origin = 'export' AND (i.export_time IS NULL OR i.export_time < excluded.export_time)
		RETURNING i.item_key, (i.xmax = 0)`, sourceTable, keys, times, dels)
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	fail := func(err error) (map[string]IncrementalOutcome, error) {
		return nil, fmt.Errorf("claiming %d items for an incremental export: %w", len(claims), err)
	}
	rows, err := br.Query()
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var k string
		var o IncrementalOutcome
		var et *time.Time
		if err := rows.Scan(&k, &o.PrevOrigin, &et); err != nil {
			rows.Close()
			return fail(err)
		}
		if et != nil && o.PrevOrigin == "export" {
			o.PrevTime = *et
		}
		out[k] = o
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	rows, err = br.Query()
	if err != nil {
		return fail(err)
	}
	for rows.Next() {
		var k string
		var fresh bool
		if err := rows.Scan(&k, &fresh); err != nil {
			rows.Close()
			return fail(err)
		}
		o := out[k]
		o.Won, o.Fresh = true, fresh
		out[k] = o
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fail(err)
	}
	if err := br.Close(); err != nil {
		return fail(err)
	}
	return out, nil
}
