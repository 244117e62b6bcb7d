package ledger

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// LagRetention is how long lag samples are kept: older ones are deleted
// as new ones are recorded.
const LagRetention = 14 * 24 * time.Hour

// LagSample is one shard's replication lag as a poller measured it.
type LagSample struct {
	StreamARN string    `json:"stream_arn"`
	ShardID   string    `json:"shard_id"`
	At        time.Time `json:"at"`
	Lag       float64   `json:"lag_seconds"`
}

// EnsureLagHistory creates the stream_lag table (lag samples for `ddb2pg
// status`) in the existing bookkeeping schema; safe to call from many
// processes at once.
func (l *Ledger) EnsureLagHistory(ctx context.Context, conn interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("creating %s: %w", l.T("stream_lag"), err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('ddb2pg.ledger:' || $1))`, l.name); err != nil {
		return fmt.Errorf("locking bookkeeping schema %s: %w", l.name, err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS `+l.T("stream_lag")+` (
	stream_arn  text NOT NULL,
	shard_id    text NOT NULL,
	at          timestamptz NOT NULL DEFAULT clock_timestamp(),
	lag_seconds double precision NOT NULL CHECK (lag_seconds >= 0),
	PRIMARY KEY (stream_arn, shard_id, at)
)`); err != nil {
		return fmt.Errorf("creating %s: %w", l.T("stream_lag"), err)
	}
	return tx.Commit(ctx)
}

// RecordLag stores one lag sample of a shard, timed by the database's
// clock, and deletes that shard's samples older than LagRetention.
func (l *Ledger) RecordLag(ctx context.Context, db Execer, streamARN, shardID string, lag time.Duration) error {
	if _, err := db.Exec(ctx, `WITH gone AS (DELETE FROM `+l.T("stream_lag")+`
		WHERE stream_arn = $1 AND shard_id = $2 AND at < now() - $4::interval)
		INSERT INTO `+l.T("stream_lag")+` (stream_arn, shard_id, lag_seconds) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`,
		streamARN, shardID, max(lag, 0).Seconds(), fmt.Sprintf("%d seconds", int64(LagRetention.Seconds()))); err != nil {
		return fmt.Errorf("recording the lag of shard %s: %w", shardID, err)
	}
	return nil
}

// LagHistory returns the lag samples of sourceTable's streams taken since
// since, oldest first; none when no poller has recorded any.
func (l *Ledger) LagHistory(ctx context.Context, db Execer, sourceTable string, since time.Time) ([]LagSample, error) {
	ok, err := l.HasTable(ctx, db, "stream_lag")
	if err != nil || !ok {
		return nil, err
	}
	rows, err := db.Query(ctx, `SELECT stream_arn, shard_id, at, lag_seconds FROM `+l.T("stream_lag")+`
		WHERE strpos(stream_arn, ':table/' || $1 || '/stream/') > 0 AND at >= $2
		ORDER BY at, stream_arn, shard_id`, sourceTable, since)
	if err != nil {
		return nil, fmt.Errorf("reading the lag history of %s: %w", sourceTable, err)
	}
	defer rows.Close()
	var out []LagSample
	for rows.Next() {
		var s LagSample
		if err := rows.Scan(&s.StreamARN, &s.ShardID, &s.At, &s.Lag); err != nil {
			return nil, fmt.Errorf("reading the lag history of %s: %w", sourceTable, err)
		}
		s.At = s.At.UTC()
		out = append(out, s)
	}
	return out, rows.Err()
}
