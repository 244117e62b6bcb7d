package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ExportClaim is the outcome of claiming a batch of items for an export copy.
type ExportClaim struct {
	// Won maps each item key the export may write to whether the item had no
	// ledger row before (fresh: it has no rows in the tables yet, so they can
	// be inserted without deleting first).
	Won map[string]bool
}

// ClaimForExport records, inside tx, that the export copy (taken at
// exportTime) is now the applied version of each of keys, and returns which
// keys it won. A key is lost when the stream already applied any version of
// the item (its change, or its delete, is newer than or equal to what the
// export saw and the stream will deliver the rest) or when a newer export
// already wrote it. The row locks taken here serialise the export with a
// concurrent stream applier touching the same items. keys must be distinct.
func (l *Ledger) ClaimForExport(ctx context.Context, tx pgx.Tx, sourceTable string, exportTime time.Time, keys []string) (ExportClaim, error) {
	claim := ExportClaim{Won: make(map[string]bool, len(keys))}
	if len(keys) == 0 {
		return claim, nil
	}
	rows, err := tx.Query(ctx, `INSERT INTO `+l.T("items")+` AS i (source_table, item_key, origin, export_time)
		SELECT $1, k, 'export', $2 FROM unnest($3::text[]) AS k
		ON CONFLICT (source_table, item_key) DO UPDATE SET export_time = excluded.export_time, applied_at = now()
			WHERE i.origin = 'export' AND NOT i.deleted AND i.export_time <= excluded.export_time
		RETURNING item_key, xmax = 0`, sourceTable, exportTime, keys)
	if err != nil {
		return claim, fmt.Errorf("claiming %d items for the export: %w", len(keys), err)
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var fresh bool
		if err := rows.Scan(&k, &fresh); err != nil {
			return claim, fmt.Errorf("claiming items for the export: %w", err)
		}
		claim.Won[k] = fresh
	}
	if err := rows.Err(); err != nil {
		return claim, fmt.Errorf("claiming %d items for the export: %w", len(keys), err)
	}
	return claim, nil
}

// ItemVersion is the applied version of one item.
type ItemVersion struct {
	Origin     string
	ExportTime time.Time
	Seq        string // decimal text, stream only
	ShardID    string
	Deleted    bool
}
