// Package stream is ddb2pg's model of a DynamoDB Streams record, the one
// shape the apply engine consumes whether the record came from a Lambda event
// (aws-lambda-go) or from the Streams API (GetRecords in the poller).
//
// Sequence numbers are decimal strings of 21 to 40 digits that only increase
// within a shard (and from a parent shard to its children): they are compared
// as integers (CompareSeq), never as strings or float64.
package stream

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// EventName is what happened to the item.
type EventName string

const (
	Insert EventName = "INSERT"
	Modify EventName = "MODIFY"
	Remove EventName = "REMOVE"
)

// Stream view types, as DynamoDB names them.
const (
	ViewKeysOnly        = "KEYS_ONLY"
	ViewNewImage        = "NEW_IMAGE"
	ViewOldImage        = "OLD_IMAGE"
	ViewNewAndOldImages = "NEW_AND_OLD_IMAGES"
)

// TTL identity: what DynamoDB puts in userIdentity for deletes by Time To Live.
const (
	ttlIdentityType      = "Service"
	ttlIdentityPrincipal = "dynamodb.amazonaws.com"
)

// Record is one change of one item.
type Record struct {
	EventID   string
	EventName EventName
	// Keys holds the item's key attributes (always present).
	Keys ddbitem.Item
	// NewImage (INSERT/MODIFY with NEW_IMAGE or NEW_AND_OLD_IMAGES) and
	// OldImage (MODIFY/REMOVE with OLD_IMAGE or NEW_AND_OLD_IMAGES).
	NewImage, OldImage ddbitem.Item
	// Seq is the sequence number, a decimal integer text (compare with CompareSeq).
	Seq string
	// ShardID is the shard the record came from; Lambda events do not say it ("").
	ShardID string
	// ApproxTime is ApproximateCreationDateTime; zero when the record has none.
	ApproxTime time.Time
	// TTL is true for a delete made by DynamoDB's Time To Live.
	TTL bool
	// StreamViewType is KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES ("" when not said).
	StreamViewType string
	// SourceARN is the stream's ARN when known.
	SourceARN string
	// Err is set when the record could not be read (unknown eventName, bad
	// sequence number, no keys): the engine records it as rejected, with
	// whatever of it is known, and goes on.
	Err error
}

// ParseEventName validates an eventName.
func ParseEventName(s string) (EventName, error) {
	switch EventName(s) {
	case Insert, Modify, Remove:
		return EventName(s), nil
	}
	return "", fmt.Errorf("unknown eventName %q (want INSERT, MODIFY or REMOVE)", s)
}

// MaxSeqDigits is the longest sequence number the API allows.
const MaxSeqDigits = 40

// ValidSeq checks that s is a sequence number: 1 to 40 decimal digits.
// (AWS's are 21 to 40 digits; shorter ones appear in test fixtures.)
func ValidSeq(s string) error {
	if s == "" {
		return errors.New("missing SequenceNumber")
	}
	if len(s) > MaxSeqDigits {
		return fmt.Errorf("SequenceNumber %q has more than %d digits", s, MaxSeqDigits)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return fmt.Errorf("SequenceNumber %q is not a decimal integer", s)
		}
	}
	return nil
}

// CompareSeq compares two sequence numbers as non-negative integers of any
// length: -1, 0 or +1. Leading zeros do not count ("0012" == "12"). Both must
// satisfy ValidSeq; other texts compare bytewise after the numbers.
func CompareSeq(a, b string) int {
	ea, eb := ValidSeq(a), ValidSeq(b)
	switch {
	case ea != nil && eb != nil:
		return strings.Compare(a, b)
	case ea != nil:
		return 1
	case eb != nil:
		return -1
	}
	a = strings.TrimLeft(a, "0")
	b = strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// CanonicalSeq drops leading zeros ("000123" -> "123", "000" -> "0").
func CanonicalSeq(s string) string {
	t := strings.TrimLeft(s, "0")
	if t == "" && s != "" {
		return "0"
	}
	return t
}

// Check validates a record as the apply engine needs it.
func (r *Record) Check() error {
	if err := ValidSeq(r.Seq); err != nil {
		return err
	}
	if _, err := ParseEventName(string(r.EventName)); err != nil {
		return err
	}
	if len(r.Keys) == 0 {
		return errors.New("record has no Keys")
	}
	return nil
}

// Item returns the item the record says the table now holds for its key
// (NewImage), or nil for a REMOVE or a record without a new image.
func (r *Record) Item() ddbitem.Item {
	if r.EventName == Remove {
		return nil
	}
	return r.NewImage
}

// String names the record for messages: "INSERT seq 123 (shard X)".
func (r *Record) String() string {
	s := string(r.EventName) + " seq " + r.Seq
	if r.ShardID != "" {
		s += " (" + r.ShardID + ")"
	}
	return s
}

// ErrOldImageOnly is returned for a stream whose view type carries no new
// image and no way to read it: ddb2pg cannot apply OLD_IMAGE streams.
var ErrOldImageOnly = errors.New("the stream's view type is OLD_IMAGE: records carry only the item as it was " +
	"before each change, so the new state cannot be applied; switch the stream to NEW_AND_OLD_IMAGES " +
	"(recommended), NEW_IMAGE or KEYS_ONLY")

// CheckViewType refuses the view types ddb2pg cannot apply.
func CheckViewType(v string) error {
	switch v {
	case ViewOldImage:
		return ErrOldImageOnly
	case "", ViewKeysOnly, ViewNewImage, ViewNewAndOldImages:
		return nil
	}
	return fmt.Errorf("unknown StreamViewType %q", v)
}
