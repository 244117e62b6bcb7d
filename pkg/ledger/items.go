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
// export saw, and the stream will deliver the rest) or when a newer export
// (full, or an incremental export's change or delete) already wrote it.
// keys must be distinct.
//
// Keys the ledger has never seen are written with COPY, the bulk of a first
// load. The primary key still serialises this with a concurrent stream
// applier: if the stream inserts one of those keys first, the COPY waits for
// it and then fails with a unique violation (SQLSTATE 23505), and the caller
// retries the file, which then sees the stream's row and skips the item.
func (l *Ledger) ClaimForExport(ctx context.Context, tx pgx.Tx, sourceTable string, exportTime time.Time, keys []string) (ExportClaim, error) {
	claim := ExportClaim{Won: make(map[string]bool, len(keys))}
	if len(keys) == 0 {
		return claim, nil
	}
	seen := make(map[string]bool, 16)
	rows, err := tx.Query(ctx, `SELECT item_key FROM `+l.T("items")+` WHERE source_table = $1 AND item_key = ANY($2::text[])`,
		sourceTable, keys)
	if err != nil {
		return claim, fmt.Errorf("reading the versions of %d items: %w", len(keys), err)
	}
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return claim, fmt.Errorf("reading item versions: %w", err)
		}
		seen[k] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return claim, fmt.Errorf("reading the versions of %d items: %w", len(keys), err)
	}
	fresh := make([][]any, 0, len(keys)-len(seen))
	var known []string
	for _, k := range keys {
		if seen[k] {
			known = append(known, k)
			continue
		}
		fresh = append(fresh, []any{sourceTable, k, "export", exportTime})
	}
	if len(fresh) > 0 {
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{l.name, "items"}, []string{"source_table", "item_key", "origin", "export_time"},
			pgx.CopyFromRows(fresh)); err != nil {
			return claim, fmt.Errorf("recording %d new items: %w", len(fresh), err)
		}
		for _, r := range fresh {
			claim.Won[r[1].(string)] = true
		}
	}
	if len(known) == 0 {
		return claim, nil
	}
	// Known items: only an older (or the same) export-origin version gives
	// way, deleted or not: a full export taken after an incremental export's
	// delete may hold the re-created item, one taken before must not
	// resurrect it. The WHERE is re-checked under the row lock, so a stream
	// write that landed since the SELECT wins.
	up, err := tx.Query(ctx, `UPDATE `+l.T("items")+` SET export_time = $2, deleted = false, applied_at = now()
		WHERE source_table = $1 AND item_key = ANY($3::text[]) AND origin = 'export' AND export_time <= $2
		RETURNING item_key`, sourceTable, exportTime, known)
	if err != nil {
		return claim, fmt.Errorf("claiming %d known items for the export: %w", len(known), err)
	}
	defer up.Close()
	for up.Next() {
		var k string
		if err := up.Scan(&k); err != nil {
			return claim, fmt.Errorf("claiming known items: %w", err)
		}
		claim.Won[k] = false
	}
	if err := up.Err(); err != nil {
		return claim, fmt.Errorf("claiming %d known items for the export: %w", len(known), err)
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
