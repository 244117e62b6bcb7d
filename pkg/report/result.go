// Package report holds the outcome of `ddb2pg verify` and renders it: a
// terminal summary, a JSON document (the machine-readable contract, see
// docs/verify.md), a self-contained HTML page and a Markdown summary. The
// renderers only read a Result; they never touch a database.
package report

import (
	"fmt"
	"sort"
	"time"
)

// Verdicts.
const (
	GO   = "GO"
	NOGO = "NO-GO"
)

// Classes of a difference.
const (
	Missing        = "missing"
	Extra          = "extra"
	Mismatched     = "mismatched"
	SharedConflict = "shared_conflict"
	// Orphaned: a row of a shared table no item refers to; not divergence
	// unless the run counts it (OrphansDiverge).
	Orphaned = "orphaned"
)

// Result is everything one verify run found. Its JSON form is the --json
// report; field names are part of the documented schema.
type Result struct {
	// Verdict is "GO" when the run read everything it set out to read and
	// DivergentRows <= MaxDivergence, "NO-GO" otherwise.
	Verdict string `json:"verdict"`
	// DivergentRows is missing + extra + mismatched over every table (+
	// orphaned when OrphansDiverge).
	DivergentRows  int64 `json:"divergent_rows"`
	MaxDivergence  int64 `json:"max_divergence"`
	OrphansDiverge bool  `json:"orphans_diverge"`
	// Complete is false when part of the data could not be read (Error
	// says why); such a run is never GO.
	Complete bool   `json:"complete"`
	Error    string `json:"error,omitempty"`

	SourceTable string `json:"source_table"`
	// Mode is "scan" (the whole table), "sample", "keys" or
	// "changed-since".
	Mode string `json:"mode"`
	// Changed says, in changed-since mode, what the run covered and from
	// which bookkeeping (absent in other modes).
	Changed *Changed `json:"changed_since,omitempty"`
	// SampleBound is, in sample mode, the upper bound on the table's
	// divergent-item rate the sample supports (absent in other modes).
	SampleBound *SampleBound `json:"sample_bound,omitempty"`
	// ExtraPass says whether the pass over PostgreSQL's item keys (rows
	// whose item is gone from DynamoDB) ran: "done" or "skipped (...)".
	ExtraPass string `json:"extra_pass"`
	// OrphanPass says whether the shared tables were read for rows no item
	// refers to: "done" or "skipped (...)".
	OrphanPass string `json:"orphan_pass"`

	Items  ItemCounts              `json:"items"`
	Tables map[string]*TableCounts `json:"tables"`
	// TableOrder lists Tables' names in mapping order.
	TableOrder []string `json:"table_order"`

	// Samples are example differences, at most a few per table and class.
	Samples []Sample `json:"samples"`
	// SamplesOmitted counts differences not shown in Samples.
	SamplesOmitted int64 `json:"samples_omitted"`

	// Rejected lists items the mapping rejects (no rows are expected for
	// them): not divergence, but shown.
	Rejected        []Rejected      `json:"rejected"`
	RejectedOmitted int64           `json:"rejected_omitted"`
	RecordedRejects RecordedRejects `json:"recorded_rejects"`

	Recheck    Recheck    `json:"recheck"`
	Backfill   Backfill   `json:"backfill"`
	Stream     Stream     `json:"stream"`
	Parameters Parameters `json:"parameters"`
	Timing     Timing     `json:"timing"`
	// History lists the earlier finished runs of the same table and
	// mapping, oldest first (at most 20).
	History []HistoryRun `json:"history,omitempty"`
}

// HistoryRun is one earlier verify run.
type HistoryRun struct {
	Name            string    `json:"name,omitempty"`
	Mode            string    `json:"mode"`
	StartedAt       time.Time `json:"started_at"`
	Verdict         string    `json:"verdict"`
	Complete        bool      `json:"complete"`
	DivergentRows   int64     `json:"divergent_rows"`
	ItemsRead       int64     `json:"items_read"`
	DurationSeconds float64   `json:"duration_seconds"`
}

// Changed is the coverage of a changed-since run: the items whose applied
// version the bookkeeping recorded at or after Since, each re-read from
// DynamoDB and compared.
type Changed struct {
	Since time.Time `json:"since"`
	// From is "time" (given) or "last-full" (the start of the last complete
	// GO full run, LastFullRun, less a margin for transactions in flight).
	From        string     `json:"from"`
	LastFullRun *time.Time `json:"last_full_run,omitempty"`
	// Bookkeeping names the table the keys came from.
	Bookkeeping string `json:"bookkeeping"`
	// Keys is how many items were covered: Stream applied by the stream,
	// Export by a backfill or incremental export; Deleted of them are
	// deletes (tombstones), checked for rows PostgreSQL still holds.
	Keys    int64 `json:"keys"`
	Stream  int64 `json:"stream"`
	Export  int64 `json:"export"`
	Deleted int64 `json:"deleted"`
}

// Describe is the one-line account of the coverage the renderers show.
func (c *Changed) Describe() string {
	from := "since " + c.Since.UTC().Format(time.RFC3339)
	if c.From == "last-full" && c.LastFullRun != nil {
		from += " (the last GO full run started " + c.LastFullRun.UTC().Format(time.RFC3339) + ")"
	}
	return fmt.Sprintf("%d changed items %s from %s: %d applied by the stream, %d by exports, %d of them deletes",
		c.Keys, from, c.Bookkeeping, c.Stream, c.Export, c.Deleted)
}

// ItemCounts counts DynamoDB items.
type ItemCounts struct {
	// Read is how many items were read from DynamoDB and compared.
	Read int64 `json:"read"`
	// Rejected is how many of them the mapping rejects.
	Rejected int64 `json:"rejected"`
	// Absent counts keys looked up (key file, extra pass) that DynamoDB
	// does not have.
	Absent int64 `json:"absent"`
	// Divergent counts the items read with at least one missing, extra or
	// mismatched row of their own (in a non-shared table: a shared row
	// belongs to no single item and is counted in its table only).
	Divergent int64 `json:"divergent"`
}

// TableCounts are one PostgreSQL table's counts. Every expected row is
// exactly one of matched, missing, mismatched or shared_conflict; extra rows
// are rows PostgreSQL has and no item yields.
type TableCounts struct {
	Shared         bool  `json:"shared"`
	ExpectedRows   int64 `json:"expected_rows"`
	Matched        int64 `json:"matched"`
	Missing        int64 `json:"missing"`
	Extra          int64 `json:"extra"`
	Mismatched     int64 `json:"mismatched"`
	Rejected       int64 `json:"rejected"`
	SharedConflict int64 `json:"shared_conflict"`
	// Orphaned counts rows of a shared table no item read refers to.
	Orphaned int64 `json:"orphaned"`
}

// Divergent returns missing + extra + mismatched.
func (c *TableCounts) Divergent() int64 { return c.Missing + c.Extra + c.Mismatched }

// Sample is one difference. Values are shown as text in the column type's
// canonical form (null when absent or NULL); for a missing or extra row the
// value is the whole row as a JSON object.
type Sample struct {
	// Key is the DynamoDB item key (canonical JSON array of key values).
	Key   string `json:"key"`
	Table string `json:"table"`
	Class string `json:"class"`
	// Row is the row's primary key as a JSON object.
	Row string `json:"row"`
	// Column is the differing column (mismatched, shared_conflict).
	Column        string  `json:"column,omitempty"`
	DynamoDBValue *string `json:"dynamodb_value"`
	PostgresValue *string `json:"postgres_value"`
	// OtherKey is, for a shared conflict, the item that disagrees with Key
	// (DynamoDBValue is Key's value; OtherValue is OtherKey's).
	OtherKey   string  `json:"other_key,omitempty"`
	OtherValue *string `json:"other_value,omitempty"`
}

// Rejected is one item the mapping rejects.
type Rejected struct {
	Key    string `json:"key"`
	Table  string `json:"table"`
	Column string `json:"column,omitempty"`
	Path   string `json:"path,omitempty"`
	Value  string `json:"value,omitempty"`
	Reason string `json:"reason"`
}

// RecordedRejects are the rejects the backfill and stream recorded in the
// bookkeeping schema.
type RecordedRejects struct {
	Total int64            `json:"total"`
	Items []RecordedReject `json:"items"`
}

// RecordedReject is one row of ddb2pg.rejects.
type RecordedReject struct {
	Key    string    `json:"key"`
	Table  string    `json:"table,omitempty"`
	Column string    `json:"column,omitempty"`
	Reason string    `json:"reason"`
	Origin string    `json:"origin"`
	At     time.Time `json:"at"`
}

// Recheck counts suspects: items found divergent on the first read, re-read
// on both sides before they count.
type Recheck struct {
	Suspects int64 `json:"suspects"`
	// Resolved suspects agreed on a re-read (changes in flight).
	Resolved int64 `json:"resolved"`
	// Persisted suspects still differed after the last re-read; their
	// differences are in the counts.
	Persisted int64 `json:"persisted"`
}

// Backfill is the bookkeeping's account of the exports loaded.
type Backfill struct {
	Note    string   `json:"note,omitempty"`
	Exports []Export `json:"exports"`
}

// Export is one backfill's accounting.
type Export struct {
	ExportID      string     `json:"export_id"`
	ExportTime    *time.Time `json:"export_time,omitempty"`
	ManifestItems int64      `json:"manifest_items"`
	Files         int64      `json:"files"`
	FilesDone     int64      `json:"files_done"`
	LoadedItems   int64      `json:"loaded_items"`
	SkippedItems  int64      `json:"skipped_items"`
	RejectedItems int64      `json:"rejected_items"`
	Finished      bool       `json:"finished"`
}

// Stream is the stream poller's state, when it runs.
type Stream struct {
	Note   string  `json:"note,omitempty"`
	Shards []Shard `json:"shards"`
	// MaxLagSeconds is the largest (run time - last applied record time)
	// over open shards.
	MaxLagSeconds *float64 `json:"max_lag_seconds,omitempty"`
}

// Shard is one shard's checkpoint.
type Shard struct {
	StreamARN      string     `json:"stream_arn"`
	ShardID        string     `json:"shard_id"`
	Parent         string     `json:"parent_shard_id,omitempty"`
	LastSeq        string     `json:"last_seq,omitempty"`
	LastRecordTime *time.Time `json:"last_record_time,omitempty"`
	Closed         bool       `json:"closed"`
	LagSeconds     *float64   `json:"lag_seconds,omitempty"`
}

// Parameters are the run's options.
type Parameters struct {
	Mapping            string  `json:"mapping"`
	MappingFingerprint string  `json:"mapping_fingerprint"`
	Segments           int     `json:"segments"`
	MaxRCU             float64 `json:"max_rcu"`
	ConsistentRead     bool    `json:"consistent_read"`
	Sample             int     `json:"sample"`
	KeysFile           string  `json:"keys_file,omitempty"`
	ChangedSince       string  `json:"changed_since,omitempty"`
	// RunSegments is the Scan segment count of a named (checkpointed) run.
	RunSegments   int    `json:"run_segments,omitempty"`
	Recheck       int    `json:"recheck"`
	RecheckDelay  string `json:"recheck_delay"`
	MaxDivergence int64  `json:"max_divergence"`
}

// Timing is when the run happened and how fast it went.
type Timing struct {
	StartedAt       time.Time `json:"started_at"`
	FinishedAt      time.Time `json:"finished_at"`
	DurationSeconds float64   `json:"duration_seconds"`
	ItemsPerSecond  float64   `json:"items_per_second"`
	// ConsumedRCU is the read capacity DynamoDB reported consumed.
	ConsumedRCU float64 `json:"consumed_rcu"`
}

// Finish computes DivergentRows and the verdict from the counts.
func (r *Result) Finish() {
	r.DivergentRows = 0
	for _, c := range r.Tables {
		r.DivergentRows += c.Divergent()
		if r.OrphansDiverge {
			r.DivergentRows += c.Orphaned
		}
	}
	if r.Complete && r.Error == "" && r.DivergentRows <= r.MaxDivergence {
		r.Verdict = GO
	} else {
		r.Verdict = NOGO
	}
}

// OrderedTables returns the table names in mapping order (then any others,
// sorted), for renderers.
func (r *Result) OrderedTables() []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range r.TableOrder {
		if _, ok := r.Tables[n]; ok && !seen[n] {
			out = append(out, n)
			seen[n] = true
		}
	}
	var rest []string
	for n := range r.Tables {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sortStrings(rest)
	return append(out, rest...)
}

func sortStrings(s []string) { sort.Strings(s) }
