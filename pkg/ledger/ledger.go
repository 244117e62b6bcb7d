// Package ledger owns ddb2pg's bookkeeping schema (default "ddb2pg"): which
// export files are loaded, which version of each item is applied (and which
// items are deleted), and which items were rejected and why. Backfill, stream
// apply and verify all read and write it through this package, so the rules
// that keep them consistent live in one place.
//
// Every write of an item's rows happens in the same transaction as its
// ledger row; the ledger is therefore always exactly as current as the data.
package ledger

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// DefaultSchema is where the bookkeeping lives unless configured otherwise.
const DefaultSchema = "ddb2pg"

// SchemaVersion is bumped when the bookkeeping tables change shape.
const SchemaVersion = 1

// Execer is what the ledger needs from a connection, pool or transaction.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Ledger addresses the bookkeeping tables in one schema. It holds no
// connection: every method takes the connection or transaction to use, so
// callers decide what commits together.
type Ledger struct {
	schema string // quoted
	name   string // as configured
}

// New returns a Ledger for the named schema ("" means DefaultSchema).
func New(schema string) (*Ledger, error) {
	if schema == "" {
		schema = DefaultSchema
	}
	if len(schema) > 63 || strings.ContainsRune(schema, 0) {
		return nil, fmt.Errorf("bookkeeping schema name %q: must be 1-63 bytes without NUL", schema)
	}
	return &Ledger{schema: pgx.Identifier{schema}.Sanitize(), name: schema}, nil
}

// Schema returns the schema name as configured.
func (l *Ledger) Schema() string { return l.name }

// T returns the quoted, schema-qualified name of a bookkeeping table.
func (l *Ledger) T(table string) string { return l.schema + "." + pgx.Identifier{table}.Sanitize() }

// ddl creates the bookkeeping schema. Each statement is idempotent.
func (l *Ledger) ddl() []string {
	return append([]string{
		`CREATE SCHEMA IF NOT EXISTS ` + l.schema,
		`CREATE TABLE IF NOT EXISTS ` + l.T("meta") + ` (
	key   text PRIMARY KEY,
	value text NOT NULL
)`,
		// One row per export a backfill was started from.
		`CREATE TABLE IF NOT EXISTS ` + l.T("exports") + ` (
	export_id           text PRIMARY KEY,
	source_table        text NOT NULL,
	export_uri          text NOT NULL,
	export_type         text NOT NULL,
	output_format       text NOT NULL,
	export_time         timestamptz,
	item_count          bigint NOT NULL,
	file_count          integer NOT NULL,
	mapping_fingerprint text NOT NULL,
	started_at          timestamptz NOT NULL DEFAULT now(),
	finished_at         timestamptz
)`,
		// The table an export's manifest names, recorded when the operator
		// loaded it into a mapping of another (renamed) table.
		`ALTER TABLE ` + l.T("exports") + ` ADD COLUMN IF NOT EXISTS export_table text`,
		// One row per data file; status moves pending -> done in the same
		// transaction that commits the file's rows. A failed file keeps its
		// error and is retried by the next run.
		`CREATE TABLE IF NOT EXISTS ` + l.T("export_files") + ` (
	export_id      text NOT NULL REFERENCES ` + l.T("exports") + ` ON DELETE CASCADE,
	file_key       text NOT NULL,
	file_index     integer NOT NULL,
	item_count     bigint NOT NULL,
	status         text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'done', 'failed')),
	loaded_items   bigint,
	skipped_items  bigint,
	rejected_items bigint,
	table_rows     jsonb,
	worker         text,
	attempts       integer NOT NULL DEFAULT 0,
	error          text,
	done_at        timestamptz,
	PRIMARY KEY (export_id, file_key)
)`,
		// The applied version of every item: from an export (export_time) or
		// from the stream (seq, shard_id). deleted marks a tombstone, kept so
		// an older copy can never resurrect the item.
		`CREATE TABLE IF NOT EXISTS ` + l.T("items") + ` (
	source_table text COLLATE "C" NOT NULL,
	item_key     text COLLATE "C" NOT NULL,
	origin       text NOT NULL CHECK (origin IN ('export', 'stream')),
	export_time  timestamptz,
	seq          numeric(40,0),
	shard_id     text,
	deleted      boolean NOT NULL DEFAULT false,
	applied_at   timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (source_table, item_key)
)`,
		// Items that could not be converted, with where they came from.
		`CREATE TABLE IF NOT EXISTS ` + l.T("rejects") + ` (
	id           bigserial PRIMARY KEY,
	source_table text NOT NULL,
	item_key     text,
	pg_table     text,
	pg_column    text,
	path         text,
	raw_value    text,
	reason       text NOT NULL,
	origin       text NOT NULL,
	export_id    text,
	file_key     text,
	line         bigint,
	shard_id     text,
	seq          text,
	created_at   timestamptz NOT NULL DEFAULT now()
)`,
		`CREATE INDEX IF NOT EXISTS rejects_item_idx ON ` + l.T("rejects") + ` (source_table, item_key)`,
		`CREATE INDEX IF NOT EXISTS rejects_file_idx ON ` + l.T("rejects") + ` (export_id, file_key)`,
		// A stream record's reject is looked up by its sequence number before
		// it is recorded (InsertRejects). Not unique: rejects recorded before,
		// or by an older ddb2pg, may repeat a record.
		`CREATE INDEX IF NOT EXISTS rejects_stream_record_idx ON ` + l.T("rejects") + ` (seq) WHERE seq IS NOT NULL`,
	}, append(l.streamDDL(), l.verifyDDL()...)...)
}

// Ensure creates the bookkeeping schema when missing. Safe to call from many
// processes at once: an advisory lock serialises the DDL.
func (l *Ledger) Ensure(ctx context.Context, conn interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("creating bookkeeping schema %s: %w", l.name, err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit this is a no-op
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('ddb2pg.ledger:' || $1))`, l.name); err != nil {
		return fmt.Errorf("locking bookkeeping schema %s: %w", l.name, err)
	}
	for _, stmt := range l.ddl() {
		if _, err := tx.Exec(ctx, stmt); err != nil {
			return fmt.Errorf("creating bookkeeping schema %s: %w", l.name, err)
		}
	}
	if _, err := tx.Exec(ctx, `INSERT INTO `+l.T("meta")+` (key, value) VALUES ('schema_version', $1)
		ON CONFLICT (key) DO NOTHING`, fmt.Sprint(SchemaVersion)); err != nil {
		return fmt.Errorf("recording bookkeeping version: %w", err)
	}
	var v string
	if err := tx.QueryRow(ctx, `SELECT value FROM `+l.T("meta")+` WHERE key = 'schema_version'`).Scan(&v); err != nil {
		return fmt.Errorf("reading bookkeeping version: %w", err)
	}
	if v != fmt.Sprint(SchemaVersion) {
		return fmt.Errorf("bookkeeping schema %s has version %s; this ddb2pg expects %d", l.name, v, SchemaVersion)
	}
	return tx.Commit(ctx)
}
