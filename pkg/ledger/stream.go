package ledger

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// streamDDL creates the stream applier's bookkeeping: one checkpoint per
// shard of a stream (the poller's; Lambda keeps its own position). Each
// statement is idempotent. Ensure does not run it yet: EnsureStream does.
func (l *Ledger) streamDDL() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + l.T("stream_shards") + ` (
	stream_arn       text NOT NULL,
	shard_id         text NOT NULL,
	parent_shard_id  text,
	last_seq         numeric(40,0),
	last_record_time timestamptz,
	closed           boolean NOT NULL DEFAULT false,
	updated_at       timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (stream_arn, shard_id)
)`,
		l.streamStartDDL()[0],
	}
}

// EnsureStream is Ensure: one bookkeeping schema serves backfill, stream
// and verify, and Ensure creates all of it. Kept so stream code reads as
// what it needs.
func (l *Ledger) EnsureStream(ctx context.Context, conn interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}) error {
	return l.Ensure(ctx, conn)
}

// StreamClaim asks to make one stream record the applied version of an item.
type StreamClaim struct {
	Key     string
	Seq     string // decimal integer text
	ShardID string
	Deleted bool // the record removes the item (tombstone)
}

// StreamOutcome is what ClaimForStream found and did for one key.
type StreamOutcome struct {
	// Won: the record is now the item's applied version; its rows must be
	// written in the same transaction.
	Won bool
	// Fresh: the item had no ledger row, so it has no rows in the tables.
	Fresh bool
	// PrevOrigin is "", "export" or "stream"; PrevSeq the stored sequence
	// number ("" unless PrevOrigin is "stream"), as the statement saw them.
	PrevOrigin string
	PrevSeq    string
}

// ClaimForStream is the stream's guard, the counterpart of ClaimForExport:
// inside tx, a record becomes the item's applied version when the item has no
// ledger row, or its row was written by an export (the stream delivers
// everything after the export's snapshot, so its state is newer or equal), or
// its row's sequence number is lower (numeric compare). A record with an equal
// sequence number is a duplicate and a lower one is stale: both lose. The row
// locks taken here serialise stream appliers and backfill workers touching the
// same item. Keys must be distinct; they are locked in key order.
func (l *Ledger) ClaimForStream(ctx context.Context, tx pgx.Tx, sourceTable string, claims []StreamClaim) (map[string]StreamOutcome, error) {
	out := make(map[string]StreamOutcome, len(claims))
	if len(claims) == 0 {
		return out, nil
	}
	keys := make([]string, len(claims))
	seqs := make([]string, len(claims))
	shards := make([]*string, len(claims))
	dels := make([]bool, len(claims))
	for i, c := range claims {
		keys[i], seqs[i], dels[i] = c.Key, c.Seq, c.Deleted
		if c.ShardID != "" {
			s := c.ShardID
			shards[i] = &s
		}
	}
	items := l.T("items")
	// Two statements in one round trip: what is stored (for the caller's
	// accounting of stale and duplicate records), then the guarded upsert,
	// which alone decides who wins (it sees rows committed meanwhile).
	var b pgx.Batch
	// (A join on unnest: "item_key = ANY($2)" scans the index once per
	// array element and is several times slower for large batches.)
	b.Queue(`SELECT i.item_key, i.origin, coalesce(i.seq::text, '') FROM unnest($2::text[]) AS k
		JOIN `+items+` i ON i.source_table = $1 AND i.item_key = k`, sourceTable, keys)
	b.Queue(`INSERT INTO `+items+` AS i (source_table, item_key, origin, seq, shard_id, deleted)
		SELECT $1, k, 'stream', s::numeric(40,0), sh, d
		FROM unnest($2::text[], $3::text[], $4::text[], $5::bool[]) AS u(k, s, sh, d) ORDER BY k
		ON CONFLICT (source_table, item_key) DO UPDATE
			SET origin = 'stream', seq = excluded.seq, shard_id = excluded.shard_id,
				deleted = excluded.deleted, applied_at = now()
			WHERE i.origin = 'export' OR i.seq IS NULL OR i.seq < excluded.seq
		RETURNING i.item_key, (i.xmax = 0)`, sourceTable, keys, seqs, shards, dels)
	br := tx.SendBatch(ctx, &b)
	defer br.Close()
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("claiming %d items for the stream: %w", len(claims), err)
	}
	for rows.Next() {
		var k string
		var o StreamOutcome
		if err := rows.Scan(&k, &o.PrevOrigin, &o.PrevSeq); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claiming items for the stream: %w", err)
		}
		if o.PrevOrigin != "stream" {
			o.PrevSeq = ""
		}
		out[k] = o
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claiming %d items for the stream: %w", len(claims), err)
	}
	rows, err = br.Query()
	if err != nil {
		return nil, fmt.Errorf("claiming %d items for the stream: %w", len(claims), err)
	}
	for rows.Next() {
		var k string
		var fresh bool
		if err := rows.Scan(&k, &fresh); err != nil {
			rows.Close()
			return nil, fmt.Errorf("claiming items for the stream: %w", err)
		}
		o := out[k]
		o.Won, o.Fresh = true, fresh
		out[k] = o
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claiming %d items for the stream: %w", len(claims), err)
	}
	if err := br.Close(); err != nil {
		return nil, fmt.Errorf("claiming %d items for the stream: %w", len(claims), err)
	}
	return out, nil
}

// ItemVersionOf reads the applied version of one item (ok false: none).
func (l *Ledger) ItemVersionOf(ctx context.Context, db Execer, sourceTable, key string) (v ItemVersion, ok bool, err error) {
	var et *time.Time
	var seq, shard *string
	err = db.QueryRow(ctx, `SELECT origin, export_time, seq::text, shard_id, deleted FROM `+l.T("items")+`
		WHERE source_table = $1 AND item_key = $2`, sourceTable, key).Scan(&v.Origin, &et, &seq, &shard, &v.Deleted)
	if err == pgx.ErrNoRows {
		return v, false, nil
	}
	if err != nil {
		return v, false, fmt.Errorf("reading the version of item %s: %w", key, err)
	}
	if et != nil {
		v.ExportTime = *et
	}
	if seq != nil {
		v.Seq = *seq
	}
	if shard != nil {
		v.ShardID = *shard
	}
	return v, true, nil
}

// minSeqDigits is the shortest sequence number the Streams API accepts.
const minSeqDigits = 21

// ShardCheckpoint is the poller's position in one shard.
type ShardCheckpoint struct {
	StreamARN      string
	ShardID        string
	ParentShardID  string
	LastSeq        string // "" when nothing applied yet
	LastRecordTime time.Time
	Closed         bool // every record of the closed shard is applied
}

// SaveCheckpoint records, inside the transaction that applied the records it
// covers, the shard's last applied sequence number. It never moves a
// checkpoint backwards.
func (l *Ledger) SaveCheckpoint(ctx context.Context, db Execer, c ShardCheckpoint) error {
	var seq, parent any
	var rt any
	if c.LastSeq != "" {
		seq = c.LastSeq
	}
	if c.ParentShardID != "" {
		parent = c.ParentShardID
	}
	if !c.LastRecordTime.IsZero() {
		rt = c.LastRecordTime
	}
	_, err := db.Exec(ctx, `INSERT INTO `+l.T("stream_shards")+` AS s
		(stream_arn, shard_id, parent_shard_id, last_seq, last_record_time, closed)
		VALUES ($1, $2, $3, $4::text::numeric(40,0), $5, $6)
		ON CONFLICT (stream_arn, shard_id) DO UPDATE SET
			parent_shard_id = coalesce(s.parent_shard_id, excluded.parent_shard_id),
			last_seq = CASE WHEN s.last_seq IS NULL OR excluded.last_seq > s.last_seq THEN excluded.last_seq ELSE s.last_seq END,
			last_record_time = coalesce(excluded.last_record_time, s.last_record_time),
			closed = s.closed OR excluded.closed,
			updated_at = now()`,
		c.StreamARN, c.ShardID, parent, seq, rt, c.Closed)
	if err != nil {
		return fmt.Errorf("saving the checkpoint of shard %s: %w", c.ShardID, err)
	}
	return nil
}

// Checkpoints reads every shard checkpoint of a stream, by shard id.
func (l *Ledger) Checkpoints(ctx context.Context, db Execer, streamARN string) (map[string]ShardCheckpoint, error) {
	rows, err := db.Query(ctx, `SELECT shard_id, coalesce(parent_shard_id, ''), coalesce(last_seq::text, ''),
		last_record_time, closed FROM `+l.T("stream_shards")+` WHERE stream_arn = $1`, streamARN)
	if err != nil {
		return nil, fmt.Errorf("reading the checkpoints of stream %s: %w", streamARN, err)
	}
	defer rows.Close()
	out := map[string]ShardCheckpoint{}
	for rows.Next() {
		c := ShardCheckpoint{StreamARN: streamARN}
		var rt *time.Time
		if err := rows.Scan(&c.ShardID, &c.ParentShardID, &c.LastSeq, &rt, &c.Closed); err != nil {
			return nil, fmt.Errorf("reading the checkpoints of stream %s: %w", streamARN, err)
		}
		if rt != nil {
			c.LastRecordTime = *rt
		}
		// numeric drops leading zeros; the Streams API wants at least 21
		// digits back (DynamoDB Local zero-pads its sequence numbers).
		if c.LastSeq != "" && len(c.LastSeq) < minSeqDigits {
			c.LastSeq = strings.Repeat("0", minSeqDigits-len(c.LastSeq)) + c.LastSeq
		}
		out[c.ShardID] = c
	}
	return out, rows.Err()
}

// streamStartDDL creates stream_starts: where a poller first began reading
// each stream (the lasting start position). Idempotent.
func (l *Ledger) streamStartDDL() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS ` + l.T("stream_starts") + ` (
	stream_arn    text PRIMARY KEY,
	from_position text NOT NULL CHECK (from_position IN ('trim-horizon', 'latest')),
	started_at    timestamptz NOT NULL,
	shards        jsonb NOT NULL,
	created_at    timestamptz NOT NULL DEFAULT now()
)`,
	}
}

// StartShard is one shard as DescribeStream listed it when a poller first
// started on the stream. EndSeq is "" for a shard that was open then.
type StartShard struct {
	ShardID       string `json:"shard_id"`
	ParentShardID string `json:"parent_shard_id,omitempty"`
	StartSeq      string `json:"start_seq,omitempty"`
	EndSeq        string `json:"end_seq,omitempty"`
}

// StreamStart is the lasting start position of a stream: the time the first
// poller run began, the position it was asked to start from, and the shards
// the stream had then. It never changes once recorded (until ForgetStream).
type StreamStart struct {
	StreamARN string
	From      string // "trim-horizon" or "latest"
	StartedAt time.Time
	Shards    []StartShard
}

// RecordStreamStart stores s unless a start is already recorded for the
// stream, and returns the recorded start (the first one wins, also between
// concurrent pollers) and whether it is s.
func (l *Ledger) RecordStreamStart(ctx context.Context, db Execer, s StreamStart) (StreamStart, bool, error) {
	shards, err := json.Marshal(s.Shards)
	if err != nil {
		return StreamStart{}, false, fmt.Errorf("recording the start of stream %s: %w", s.StreamARN, err)
	}
	tag, err := db.Exec(ctx, `INSERT INTO `+l.T("stream_starts")+` (stream_arn, from_position, started_at, shards)
		VALUES ($1, $2, $3, $4::text::jsonb) ON CONFLICT (stream_arn) DO NOTHING`, s.StreamARN, s.From, s.StartedAt, string(shards))
	if err != nil {
		return StreamStart{}, false, fmt.Errorf("recording the start of stream %s: %w", s.StreamARN, err)
	}
	got, ok, err := l.StreamStartOf(ctx, db, s.StreamARN)
	if err == nil && !ok {
		err = fmt.Errorf("recording the start of stream %s: the row is missing after the insert", s.StreamARN)
	}
	return got, tag.RowsAffected() == 1, err
}

// StreamStartOf reads the recorded start of a stream (ok false: none).
func (l *Ledger) StreamStartOf(ctx context.Context, db Execer, streamARN string) (s StreamStart, ok bool, err error) {
	var shards string
	err = db.QueryRow(ctx, `SELECT from_position, started_at, shards::text FROM `+l.T("stream_starts")+`
		WHERE stream_arn = $1`, streamARN).Scan(&s.From, &s.StartedAt, &shards)
	if err == pgx.ErrNoRows {
		return StreamStart{}, false, nil
	}
	if err != nil {
		return StreamStart{}, false, fmt.Errorf("reading the start of stream %s: %w", streamARN, err)
	}
	s.StreamARN = streamARN
	if err := json.Unmarshal([]byte(shards), &s.Shards); err != nil {
		return StreamStart{}, false, fmt.Errorf("reading the start of stream %s: %w", streamARN, err)
	}
	return s, true, nil
}

// StreamsOfTable lists the streams of a DynamoDB table that have a recorded
// start or checkpoints, found by the table name in their ARN
// (arn:...:table/NAME/stream/LABEL), with the newest record time applied
// from each (zero when none).
func (l *Ledger) StreamsOfTable(ctx context.Context, db Execer, table string) (map[string]time.Time, error) {
	rows, err := db.Query(ctx, `SELECT stream_arn, max(t) FROM (
			SELECT stream_arn, last_record_time AS t FROM `+l.T("stream_shards")+`
			UNION ALL SELECT stream_arn, NULL FROM `+l.T("stream_starts")+`) s
		WHERE strpos(stream_arn, ':table/' || $1 || '/stream/') > 0
		GROUP BY stream_arn ORDER BY stream_arn`, table)
	if err != nil {
		return nil, fmt.Errorf("reading the streams of table %s: %w", table, err)
	}
	defer rows.Close()
	out := map[string]time.Time{}
	for rows.Next() {
		var arn string
		var t *time.Time
		if err := rows.Scan(&arn, &t); err != nil {
			return nil, fmt.Errorf("reading the streams of table %s: %w", table, err)
		}
		out[arn] = time.Time{}
		if t != nil {
			out[arn] = *t
		}
	}
	return out, rows.Err()
}

// ForgetStream deletes a stream's checkpoints and recorded start, so the next
// poller run starts on it afresh (after a lost-data gap was recovered).
func (l *Ledger) ForgetStream(ctx context.Context, db Execer, streamARN string) error {
	for _, t := range []string{"stream_shards", "stream_starts"} {
		if _, err := db.Exec(ctx, `DELETE FROM `+l.T(t)+` WHERE stream_arn = $1`, streamARN); err != nil {
			return fmt.Errorf("forgetting the position in stream %s: %w", streamARN, err)
		}
	}
	return nil
}
