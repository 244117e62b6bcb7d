package poll

import (
	"fmt"
	"time"
)

// LostError says records of a shard left the stream before the poller applied
// them: PostgreSQL has missed changes. It is returned when a position is
// trimmed (TrimmedDataAccessException), when a shard the poller has not read
// to its end is no longer in the stream (it aged out: DynamoDB Streams keeps
// 24 hours), and when a shard that must be read answers
// ResourceNotFoundException. ShardID is the earliest shard with missing
// records; AfterSeq the last sequence number applied from it ("": none).
type LostError struct {
	StreamARN, ShardID, AfterSeq string
	Cause                        error
}

func (e *LostError) Error() string {
	from := "its start"
	if e.AfterSeq != "" {
		from = "sequence number " + e.AfterSeq
	}
	return fmt.Sprintf("stream %s shard %s: the records after %s are no longer in the stream (DynamoDB Streams keeps 24 hours; "+
		"they were trimmed before ddb2pg applied them), so changes made to the table in that gap are missing from PostgreSQL. "+
		"To recover: export the table again, backfill that export (the backfill only overwrites items the stream "+
		"has not written since), forget this stream's position and read it again from its trim horizon; verify afterwards. (%v)",
		e.StreamARN, e.ShardID, from, e.Cause)
}

func (e *LostError) Unwrap() error { return e.Cause }

// StreamChangedError says the stream the poller reads was disabled: every
// one of its shards is read to its end, and the table now streams to NewARN
// ("" when the table has no stream), or the table's latest stream is not the
// one the bookkeeping has positions in. Changes made while no stream was
// enabled are in neither stream, so PostgreSQL misses them.
type StreamChangedError struct {
	Table          string
	OldARN, NewARN string
	// LastRecordTime is the newest record applied from OldARN (zero: unknown).
	LastRecordTime time.Time
}

func (e *StreamChangedError) Error() string {
	last := ""
	if !e.LastRecordTime.IsZero() {
		last = " (its newest applied record is from " + e.LastRecordTime.UTC().Format(time.RFC3339) + ")"
	}
	if e.NewARN == "" {
		return fmt.Sprintf("table %s: stream %s was disabled%s and the table has no stream now, so changes from then on "+
			"are not captured. To recover: enable a stream (NEW_AND_OLD_IMAGES), export the changes made since the old "+
			"stream ended (an incremental export, or a full export) and backfill them, then read the new stream from its "+
			"trim horizon", e.Table, e.OldARN, last)
	}
	return fmt.Sprintf("table %s: stream %s was disabled%s and the table now streams to %s: changes made between the two "+
		"streams are in neither, so PostgreSQL misses them. To recover: export the changes from the end of the old stream "+
		"to the start of the new one (an incremental export, or a full export) and backfill them, then read the new "+
		"stream, named explicitly, from its trim horizon", e.Table, e.OldARN, last, e.NewARN)
}

// OutageError says PostgreSQL stayed unreachable (or kept failing with
// transient errors) for longer than Config.MaxOutage.
type OutageError struct {
	What  string
	For   time.Duration
	Cause error
}

func (e *OutageError) Error() string {
	return fmt.Sprintf("%s: PostgreSQL failed for %s without recovering (the limit on an outage): %v",
		e.What, e.For.Round(time.Second), e.Cause)
}

func (e *OutageError) Unwrap() error { return e.Cause }
