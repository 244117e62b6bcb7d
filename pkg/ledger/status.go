package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// RejectsByTable counts sourceTable's recorded rejects by PostgreSQL table
// ("" for items rejected before any table was mapped). It reads nothing
// when the rejects table does not exist yet.
func (l *Ledger) RejectsByTable(ctx context.Context, db Execer, sourceTable string) (map[string]int64, error) {
	out := map[string]int64{}
	ok, err := l.HasTable(ctx, db, "rejects")
	if err != nil || !ok {
		return out, err
	}
	rows, err := db.Query(ctx, `SELECT coalesce(pg_table, ''), count(*) FROM `+l.T("rejects")+`
		WHERE source_table = $1 GROUP BY 1`, sourceTable)
	if err != nil {
		return nil, fmt.Errorf("counting the rejects of %s by table: %w", sourceTable, err)
	}
	defer rows.Close()
	for rows.Next() {
		var t string
		var n int64
		if err := rows.Scan(&t, &n); err != nil {
			return nil, fmt.Errorf("counting the rejects of %s by table: %w", sourceTable, err)
		}
		out[t] = n
	}
	return out, rows.Err()
}

// LastStreamApply returns when a stream record (from the Lambda or the
// poller) last changed an item of sourceTable, nil if none ever did.
func (l *Ledger) LastStreamApply(ctx context.Context, db Execer, sourceTable string) (*time.Time, error) {
	ok, err := l.HasTable(ctx, db, "items")
	if err != nil || !ok {
		return nil, err
	}
	var t pgtype.Timestamptz
	if err := db.QueryRow(ctx, `SELECT max(applied_at) FROM `+l.T("items")+`
		WHERE source_table = $1 AND origin = 'stream'`, sourceTable).Scan(&t); err != nil {
		return nil, fmt.Errorf("reading the last stream apply of %s: %w", sourceTable, err)
	}
	if !t.Valid {
		return nil, nil
	}
	u := t.Time.UTC()
	return &u, nil
}
