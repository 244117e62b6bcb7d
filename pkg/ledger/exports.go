package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Export is what the ledger records of an export a backfill loads.
type Export struct {
	ID                 string
	SourceTable        string
	URI                string
	Type               string
	Format             string
	ExportTime         time.Time
	ItemCount          int64
	Files              []ExportFile
	MappingFingerprint string
	// ExportTable is the table the export's manifest names, when it
	// differs from SourceTable (a renamed table the operator vouched for);
	// "" otherwise.
	ExportTable string
}

// ExportFile is one data file of an export.
type ExportFile struct {
	Key       string
	Index     int
	ItemCount int64
}

// MismatchError says that an export is already registered with different
// facts (another mapping, another table): loading it again would mix them.
type MismatchError struct {
	ExportID string
	Field    string
	Stored   string
	Given    string
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("export %s was already loaded with %s %q, now %q: use a fresh database or bookkeeping schema, or the same %s",
		e.ExportID, e.Field, e.Stored, e.Given, e.Field)
}

// RegisterExport records the export and its files as pending, once. Many
// processes may call it for the same export: the first one's rows stand and
// the others check they agree with them.
func (l *Ledger) RegisterExport(ctx context.Context, db interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}, e Export) error {
	tx, err := db.Begin(ctx)
	if err != nil {
		return fmt.Errorf("registering export %s: %w", e.ID, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck
	var exportTime any
	if !e.ExportTime.IsZero() {
		exportTime = e.ExportTime
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+l.T("exports")+`
		(export_id, source_table, export_uri, export_type, output_format, export_time, item_count, file_count, mapping_fingerprint, export_table)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (export_id) DO NOTHING`,
		e.ID, e.SourceTable, e.URI, e.Type, e.Format, exportTime, e.ItemCount, len(e.Files), e.MappingFingerprint,
		nullable(e.ExportTable)); err != nil {
		return fmt.Errorf("registering export %s: %w", e.ID, err)
	}
	var table, fp string
	if err := tx.QueryRow(ctx, `SELECT source_table, mapping_fingerprint FROM `+l.T("exports")+` WHERE export_id = $1 FOR UPDATE`,
		e.ID).Scan(&table, &fp); err != nil {
		return fmt.Errorf("reading export %s: %w", e.ID, err)
	}
	if table != e.SourceTable {
		return &MismatchError{e.ID, "source table", table, e.SourceTable}
	}
	if fp != e.MappingFingerprint {
		return &MismatchError{e.ID, "mapping", fp, e.MappingFingerprint}
	}
	keys := make([]string, len(e.Files))
	idx := make([]int32, len(e.Files))
	counts := make([]int64, len(e.Files))
	for i, f := range e.Files {
		keys[i], idx[i], counts[i] = f.Key, int32(f.Index), f.ItemCount
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+l.T("export_files")+` (export_id, file_key, file_index, item_count)
		SELECT $1, k, i, c FROM unnest($2::text[], $3::int[], $4::bigint[]) AS f(k, i, c)
		ON CONFLICT (export_id, file_key) DO NOTHING`, e.ID, keys, idx, counts); err != nil {
		return fmt.Errorf("registering files of export %s: %w", e.ID, err)
	}
	return tx.Commit(ctx)
}

// ClaimedFile is a data file a worker holds the lock of.
type ClaimedFile struct {
	Key       string
	Index     int
	ItemCount int64
	Attempts  int
}

// ClaimFile locks the next data file of the export that is not done and not
// in skip, inside tx. The row lock is held until tx ends, so no other worker
// or process takes the same file; if the process dies, the lock goes with
// its connection and the file is claimable again. ok is false when no file
// is claimable right now (all done, skipped, or held by others).
func (l *Ledger) ClaimFile(ctx context.Context, tx pgx.Tx, exportID string, skip []string) (f ClaimedFile, ok bool, err error) {
	if skip == nil {
		skip = []string{}
	}
	err = tx.QueryRow(ctx, `SELECT file_key, file_index, item_count, attempts FROM `+l.T("export_files")+`
		WHERE export_id = $1 AND status <> 'done' AND NOT (file_key = ANY($2))
		ORDER BY file_index LIMIT 1 FOR UPDATE SKIP LOCKED`, exportID, skip).
		Scan(&f.Key, &f.Index, &f.ItemCount, &f.Attempts)
	if errors.Is(err, pgx.ErrNoRows) {
		return ClaimedFile{}, false, nil
	}
	if err != nil {
		return ClaimedFile{}, false, fmt.Errorf("claiming a file of export %s: %w", exportID, err)
	}
	return f, true, nil
}

// FileResult is what loading one data file did.
type FileResult struct {
	Loaded    int64            // items whose rows were written
	Skipped   int64            // items the stream already has a newer version of
	Rejected  int64            // items recorded in rejects
	TableRows map[string]int64 // rows written per PostgreSQL table
}

// MarkFileDone records, inside the transaction that wrote the file's rows,
// that the file is loaded.
func (l *Ledger) MarkFileDone(ctx context.Context, tx pgx.Tx, exportID, fileKey, worker string, r FileResult) error {
	_, err := tx.Exec(ctx, `UPDATE `+l.T("export_files")+` SET status = 'done', loaded_items = $3, skipped_items = $4,
		rejected_items = $5, table_rows = $6, worker = $7, attempts = attempts + 1, error = NULL, done_at = now()
		WHERE export_id = $1 AND file_key = $2`,
		exportID, fileKey, r.Loaded, r.Skipped, r.Rejected, r.TableRows, worker)
	if err != nil {
		return fmt.Errorf("marking file %s done: %w", fileKey, err)
	}
	return nil
}

// MarkFileFailed records why a file could not be loaded, in its own
// transaction (the file's rows were rolled back). A later run retries it.
func (l *Ledger) MarkFileFailed(ctx context.Context, db Execer, exportID, fileKey, worker string, cause error) error {
	_, err := db.Exec(ctx, `UPDATE `+l.T("export_files")+` SET status = 'failed', worker = $3,
		attempts = attempts + 1, error = $4 WHERE export_id = $1 AND file_key = $2 AND status <> 'done'`,
		exportID, fileKey, worker, cause.Error())
	if err != nil {
		return fmt.Errorf("marking file %s failed: %w", fileKey, err)
	}
	return nil
}

// ExportStatus sums up the files of an export.
type ExportStatus struct {
	Files, Done, Failed, Pending int
	ManifestItems                int64
	Loaded, Skipped, Rejected    int64
	TableRows                    map[string]int64
	// TableRejects counts rejected items by the table whose column refused
	// them ("" for items rejected before mapping: undecodable, no key).
	TableRejects map[string]int64
	FailedFiles  map[string]string // file -> last error
}

// Complete reports whether every file is done and the item accounting adds up
// to the manifest's count.
func (s ExportStatus) Complete() bool {
	return s.Done == s.Files && s.Loaded+s.Skipped+s.Rejected == s.ManifestItems
}

// Status reads the export's accounting.
func (l *Ledger) Status(ctx context.Context, db Execer, exportID string) (ExportStatus, error) {
	s := ExportStatus{TableRows: map[string]int64{}, TableRejects: map[string]int64{}, FailedFiles: map[string]string{}}
	if err := db.QueryRow(ctx, `SELECT item_count FROM `+l.T("exports")+` WHERE export_id = $1`, exportID).
		Scan(&s.ManifestItems); err != nil {
		return s, fmt.Errorf("reading export %s: %w", exportID, err)
	}
	rows, err := db.Query(ctx, `SELECT file_key, status, coalesce(loaded_items, 0), coalesce(skipped_items, 0),
		coalesce(rejected_items, 0), table_rows, coalesce(error, '') FROM `+l.T("export_files")+` WHERE export_id = $1`, exportID)
	if err != nil {
		return s, fmt.Errorf("reading files of export %s: %w", exportID, err)
	}
	defer rows.Close()
	for rows.Next() {
		var key, status, ferr string
		var loaded, skipped, rejected int64
		var tr map[string]int64
		if err := rows.Scan(&key, &status, &loaded, &skipped, &rejected, &tr, &ferr); err != nil {
			return s, fmt.Errorf("reading files of export %s: %w", exportID, err)
		}
		s.Files++
		switch status {
		case "done":
			s.Done++
			s.Loaded += loaded
			s.Skipped += skipped
			s.Rejected += rejected
			for t, n := range tr {
				s.TableRows[t] += n
			}
		case "failed":
			s.Failed++
			s.FailedFiles[key] = ferr
		default:
			s.Pending++
		}
	}
	if err := rows.Err(); err != nil {
		return s, err
	}
	rej, err := db.Query(ctx, `SELECT coalesce(pg_table, ''), count(*) FROM `+l.T("rejects")+` r
		WHERE export_id = $1 AND EXISTS (SELECT 1 FROM `+l.T("export_files")+` f
			WHERE f.export_id = r.export_id AND f.file_key = r.file_key AND f.status = 'done')
		GROUP BY 1`, exportID)
	if err != nil {
		return s, fmt.Errorf("counting rejects of export %s: %w", exportID, err)
	}
	defer rej.Close()
	for rej.Next() {
		var table string
		var n int64
		if err := rej.Scan(&table, &n); err != nil {
			return s, fmt.Errorf("counting rejects of export %s: %w", exportID, err)
		}
		s.TableRejects[table] = n
	}
	return s, rej.Err()
}

// MarkExportFinished stamps the export as completely loaded.
func (l *Ledger) MarkExportFinished(ctx context.Context, db Execer, exportID string) error {
	_, err := db.Exec(ctx, `UPDATE `+l.T("exports")+` SET finished_at = coalesce(finished_at, now()) WHERE export_id = $1`, exportID)
	if err != nil {
		return fmt.Errorf("marking export %s finished: %w", exportID, err)
	}
	return nil
}
