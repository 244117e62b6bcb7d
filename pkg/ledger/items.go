package ledger

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/pkg/pgwrite"
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
	fresh := make([]string, 0, len(keys)-len(seen))
	var known []string
	for _, k := range keys {
		if seen[k] {
			known = append(known, k)
			continue
		}
		fresh = append(fresh, k)
	}
	if err := l.copyFresh(ctx, tx, sourceTable, exportTime, fresh); err != nil {
		return claim, err
	}
	for _, k := range fresh {
		claim.Won[k] = true
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

// RecordFreshForExport records keys as written by the export without first
// looking them up: the caller knows the ledger held no row for this source
// table when its run began (a first load), so every key is won and fresh.
// If a key has a row after all (a stream applier started meanwhile, or the
// export repeats an item), the COPY fails with a unique violation (SQLSTATE
// 23505) and the caller retries with ClaimForExport; nothing is ever
// overwritten on this path. keys must be distinct; they are sorted in
// place, as the primary key index takes keys in order at half the cost of
// keys in the export's (random) order.
func (l *Ledger) RecordFreshForExport(ctx context.Context, tx pgx.Tx, sourceTable string, exportTime time.Time, keys []string) error {
	slices.Sort(keys)
	return l.copyFresh(ctx, tx, sourceTable, exportTime, keys)
}

// copyFresh writes new export-origin rows with COPY in text format.
func (l *Ledger) copyFresh(ctx context.Context, tx pgx.Tx, sourceTable string, exportTime time.Time, keys []string) error {
	if len(keys) == 0 {
		return nil
	}
	ts := exportTime.UTC().Format("2006-01-02 15:04:05.999999Z07:00")
	prefix := pgwrite.AppendText(nil, sourceTable)
	b := make([]byte, 0, len(keys)*(len(prefix)+len(ts)+48))
	for _, k := range keys {
		b = append(b, prefix...)
		b = append(b, '\t')
		b = pgwrite.AppendText(b, k)
		b = append(b, "\texport\t"...)
		b = append(b, ts...)
		b = append(b, '\n')
	}
	if _, err := pgwrite.Send(ctx, tx.Conn().PgConn(), "COPY "+l.T("items")+" (source_table, item_key, origin, export_time) FROM STDIN", b); err != nil {
		return fmt.Errorf("recording %d new items: %w", len(keys), err)
	}
	return nil
}

// HasItems reports whether the ledger holds any item of the source table.
func (l *Ledger) HasItems(ctx context.Context, db Execer, sourceTable string) (bool, error) {
	var any bool
	if err := db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM `+l.T("items")+` WHERE source_table = $1)`, sourceTable).Scan(&any); err != nil {
		return false, fmt.Errorf("reading the bookkeeping of %s: %w", sourceTable, err)
	}
	return any, nil
}

// ItemVersion is the applied version of one item.
type ItemVersion struct {
	Origin     string
	ExportTime time.Time
	Seq        string // decimal text, stream only
	ShardID    string
	Deleted    bool
}
