package ledger

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Reject is one rejected item as recorded: what, why and where from.
type Reject struct {
	SourceTable string
	ItemKey     string // "" when the key itself could not be read
	PGTable     string
	PGColumn    string
	Path        string
	RawValue    string
	Reason      string
	Origin      string // human-readable: "export <id> file <key> line <n>" or "stream <shard> seq <n>"
	ExportID    string
	FileKey     string
	Line        int64
	ShardID     string
	Seq         string // decimal text
}

var rejectColumns = []string{"source_table", "item_key", "pg_table", "pg_column", "path", "raw_value",
	"reason", "origin", "export_id", "file_key", "line", "shard_id", "seq"}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// InsertRejects records rejects inside tx (COPY, so a file with many bad
// items costs one round trip).
func (l *Ledger) InsertRejects(ctx context.Context, tx pgx.Tx, rs []Reject) error {
	if len(rs) == 0 {
		return nil
	}
	rows := make([][]any, len(rs))
	for i, r := range rs {
		var line any
		if r.Line > 0 {
			line = r.Line
		}
		rows[i] = []any{r.SourceTable, nullable(r.ItemKey), nullable(r.PGTable), nullable(r.PGColumn), nullable(r.Path),
			nullable(r.RawValue), r.Reason, r.Origin, nullable(r.ExportID), nullable(r.FileKey), line,
			nullable(r.ShardID), nullable(r.Seq)}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{l.name, "rejects"}, rejectColumns, pgx.CopyFromRows(rows)); err != nil {
		return fmt.Errorf("recording %d rejected items: %w", len(rs), err)
	}
	return nil
}

// ReplaceFileRejects records the rejects of one export data file inside the
// transaction that loads it, replacing any an earlier load of the same file
// recorded: loading a file again (an operator reset it, or a newer run of
// the same export) never lists an item twice.
func (l *Ledger) ReplaceFileRejects(ctx context.Context, tx pgx.Tx, exportID, fileKey string, rs []Reject) error {
	if _, err := tx.Exec(ctx, `DELETE FROM `+l.T("rejects")+` WHERE export_id = $1 AND file_key = $2`, exportID, fileKey); err != nil {
		return fmt.Errorf("clearing earlier rejects of file %s: %w", fileKey, err)
	}
	return l.InsertRejects(ctx, tx, rs)
}
