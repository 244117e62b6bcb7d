package ledger

import (
	"context"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// Reject is one rejected item as recorded: what, why and where from. Make
// one with NewReject: it alone turns what was read (any bytes) into text
// PostgreSQL accepts.
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

// MaxRawValue is the most bytes a reject's text field keeps (the raw value,
// the reason, the path): a longer one is cut on a character boundary and
// ends in TruncatedMark, within the bound.
const MaxRawValue = 64 << 10

// TruncatedMark ends a text field NewReject had to cut.
const TruncatedMark = "…(truncated)"

// Source says where a rejected item was read: an export's data file and
// line, or a stream record.
type Source struct {
	Table    string // the DynamoDB source table
	ExportID string // export only
	FileKey  string // export only
	Line     int64  // export only: 1-based line of the data file
	Stream   bool   // a stream record
	ShardID  string // stream only; "" when the consumer does not know it (Lambda)
	Seq      string // stream only: the record's sequence number as delivered
}

// Problem is what is wrong with the item: where the value was going, where
// it is in the item, the value as read (any bytes) and why it cannot be
// written.
type Problem struct {
	PGTable, PGColumn, Path string
	Raw                     string
	Reason                  string
}

// FromMapping is the Problem the mapping reported.
func FromMapping(r *mapping.Reject) Problem {
	return Problem{PGTable: r.Table, PGColumn: r.Column, Path: r.Path, Raw: r.Raw, Reason: r.Reason}
}

// NewReject is the one constructor of a Reject, used by the backfill, the
// incremental exports and the stream alike. key is the item's key as the
// bookkeeping stores it ("" when unknown). Every text field comes out as
// text PostgreSQL accepts whatever was read (see Storable) and at most
// MaxRawValue bytes long; the origin names the file and line, or the shard
// and sequence number. A sequence number is kept in the seq column (which
// dedupes a redelivered record's reject) only when it is one: 1 to 40
// decimal digits.
func NewReject(src Source, key string, p Problem) Reject {
	r := Reject{
		SourceTable: Storable(src.Table),
		ItemKey:     Storable(key),
		PGTable:     Storable(p.PGTable),
		PGColumn:    Storable(p.PGColumn),
		Path:        Storable(p.Path),
		RawValue:    Storable(p.Raw),
		Reason:      Storable(p.Reason),
	}
	if src.Stream {
		r.ShardID = Storable(src.ShardID)
		if isDecimal(src.Seq) {
			r.Seq = src.Seq
		}
		if r.ShardID != "" {
			r.Origin = "stream " + r.ShardID + " seq " + Storable(src.Seq)
		} else {
			r.Origin = "stream seq " + Storable(src.Seq)
		}
	} else {
		r.ExportID, r.FileKey, r.Line = Storable(src.ExportID), Storable(src.FileKey), src.Line
		r.Origin = "export " + r.ExportID + " file " + r.FileKey + " line " + strconv.FormatInt(src.Line, 10)
	}
	return r
}

// Storable returns s as text PostgreSQL accepts, at most MaxRawValue bytes
// long. Valid UTF-8 without U+0000 is kept as it is; each byte that is not
// part of valid UTF-8 becomes \xHH (two hex digits) and U+0000 becomes
// \u0000, as in JSON. (A backslash in the input is kept, so an input that
// itself holds the text \xHH reads the same as an escaped byte.) A longer
// result is cut on a character boundary and ends in TruncatedMark. Storable
// of its own result returns it unchanged.
func Storable(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		if len(s) <= MaxRawValue {
			return s
		}
		return cutText(s)
	}
	var sb strings.Builder
	sb.Grow(min(len(s)+16, MaxRawValue+8))
	keep := 0 // where to cut: the end of the last whole character or escape within the bound
	for i := 0; i < len(s) && sb.Len() <= MaxRawValue; {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&sb, `\x%02X`, s[i])
		case r == 0:
			sb.WriteString(`\u0000`)
		default:
			sb.WriteString(s[i : i+size])
		}
		if sb.Len() <= MaxRawValue-len(TruncatedMark) {
			keep = sb.Len()
		}
		i += size
	}
	if sb.Len() > MaxRawValue {
		return sb.String()[:keep] + TruncatedMark
	}
	return sb.String()
}

// cutText cuts valid UTF-8 text to at most MaxRawValue bytes, whole
// characters, ending in TruncatedMark.
func cutText(s string) string {
	cut := MaxRawValue - len(TruncatedMark)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + TruncatedMark
}

func isDecimal(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

var rejectColumns = []string{"source_table", "item_key", "pg_table", "pg_column", "path", "raw_value",
	"reason", "origin", "export_id", "file_key", "line", "shard_id", "seq"}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func nullableText(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// InsertRejects records rejects inside tx and returns how many it recorded.
// A stream record's reject is recorded once: one with the source table,
// shard and sequence number of a reject already recorded (the record was
// delivered again) is left out. Concurrent callers recording the same
// record's reject are serialised by a transaction advisory lock per record
// (in the two-key space, class rejectLockClass), taken in one order, so
// the second sees the first's row. rs must come from NewReject.
func (l *Ledger) InsertRejects(ctx context.Context, tx pgx.Tx, rs []Reject) (int, error) {
	// Repeats within rs, and the records' locks.
	seen := map[string]bool{}
	var locks []int32
	kept := rs[:0:0]
	for _, r := range rs {
		if r.Seq != "" {
			id := r.SourceTable + "\x00" + r.ShardID + "\x00" + r.Seq
			if seen[id] {
				continue
			}
			seen[id] = true
			h := fnv.New32a()
			h.Write([]byte(id))
			locks = append(locks, int32(h.Sum32()))
		}
		kept = append(kept, r)
	}
	if len(kept) == 0 {
		return 0, nil
	}
	if len(locks) > 0 {
		slices.Sort(locks)
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1::int, k) FROM unnest($2::int[]) AS k ORDER BY k`,
			rejectLockClass, slices.Compact(locks)); err != nil {
			return 0, fmt.Errorf("locking %d rejected records: %w", len(locks), err)
		}
	}
	cols := make([][]*string, 12)
	for i := range cols {
		cols[i] = make([]*string, len(kept))
	}
	lines := make([]*int64, len(kept))
	for i, r := range kept {
		for c, v := range []string{r.SourceTable, r.ItemKey, r.PGTable, r.PGColumn, r.Path, r.RawValue,
			r.Reason, r.Origin, r.ExportID, r.FileKey, r.ShardID, r.Seq} {
			cols[c][i] = nullableText(v)
		}
		if r.Line > 0 {
			lines[i] = &r.Line
		}
	}
	rejects := l.T("rejects")
	tag, err := tx.Exec(ctx, `INSERT INTO `+rejects+` (`+strings.Join(rejectColumns, ", ")+`)
		SELECT coalesce(st, ''), ik, pt, pc, pa, rv, coalesce(re, ''), coalesce(o, ''), ei, fk, li, sh, sq
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
			$9::text[], $10::text[], $11::bigint[], $12::text[], $13::text[])
			AS u(st, ik, pt, pc, pa, rv, re, o, ei, fk, li, sh, sq)
		WHERE sq IS NULL OR NOT EXISTS (SELECT 1 FROM `+rejects+` r
			WHERE r.seq = u.sq AND r.source_table = u.st AND coalesce(r.shard_id, '') = coalesce(u.sh, ''))`,
		cols[0], cols[1], cols[2], cols[3], cols[4], cols[5], cols[6], cols[7], cols[8], cols[9], lines, cols[10], cols[11])
	if err != nil {
		return 0, fmt.Errorf("recording %d rejected items: %w", len(kept), err)
	}
	return int(tag.RowsAffected()), nil
}

// rejectLockClass is the first key of InsertRejects' advisory locks ("rjct").
const rejectLockClass = 0x726a6374

// ReplaceFileRejects records the rejects of one export data file inside the
// transaction that loads it, replacing any an earlier load of the same file
// recorded: loading a file again (an operator reset it, or a newer run of
// the same export) never lists an item twice. rs must come from NewReject.
func (l *Ledger) ReplaceFileRejects(ctx context.Context, tx pgx.Tx, exportID, fileKey string, rs []Reject) error {
	if _, err := tx.Exec(ctx, `DELETE FROM `+l.T("rejects")+` WHERE export_id = $1 AND file_key = $2`,
		Storable(exportID), Storable(fileKey)); err != nil {
		return fmt.Errorf("clearing earlier rejects of file %s: %w", fileKey, err)
	}
	if len(rs) == 0 {
		return nil
	}
	// COPY: a file with many bad items costs one round trip.
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
