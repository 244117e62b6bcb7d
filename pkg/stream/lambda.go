package stream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// LambdaEventSource is the eventSource of records Lambda reads from DynamoDB Streams.
const LambdaEventSource = "aws:dynamodb"

// SourceError says the event is not a DynamoDB Streams event (for example a
// DynamoDB change delivered through Kinesis Data Streams, which has
// eventSource "aws:kinesis" and a base64 payload): the function is wired to
// the wrong source.
type SourceError struct {
	Index  int
	Source string
}

func (e *SourceError) Error() string {
	return fmt.Sprintf("record %d has eventSource %q, not %q: this function consumes DynamoDB Streams only "+
		"(changes delivered through Kinesis Data Streams are not supported); check the event source mapping",
		e.Index, e.Source, LambdaEventSource)
}

// DecodeLambdaEvent decodes a Lambda DynamoDBEvent payload record by record.
// A payload that is not a JSON object with a "Records" array, or a record
// whose eventSource names another service than aws:dynamodb (*SourceError),
// fails the whole event. Any other record that cannot be read — not a JSON
// object, no eventSource, an attribute value of the wrong JSON type or with an
// unknown type descriptor, a bad sequence number, an unknown eventName, no
// Keys, an INSERT or MODIFY without a NewImage on a NEW_IMAGE or
// NEW_AND_OLD_IMAGES stream — comes back with Err set and with what of it
// could be read (sequence number, eventName, view type and, when their values
// are readable, the key attributes), so that the apply engine records it as
// rejected and applies the others.
func DecodeLambdaEvent(b []byte) ([]Record, error) {
	var ev struct {
		Records *[]json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, fmt.Errorf("decoding the DynamoDB stream event: %w", err)
	}
	// Records is required: a payload without it is another kind of event.
	if ev.Records == nil {
		return nil, errors.New(`decoding the DynamoDB stream event: no "Records": not a DynamoDB Streams event`)
	}
	out := make([]Record, len(*ev.Records))
	for i, raw := range *ev.Records {
		rec, err := decodeLambdaRecord(raw)
		if se := (*SourceError)(nil); errors.As(err, &se) {
			se.Index = i
			return nil, se
		}
		rec.Err = err
		if ValidSeq(rec.Seq) != nil {
			// Kept for messages (the reject's origin): U+0000 and bytes that
			// are not UTF-8 would make the reject unstorable.
			rec.Seq = strings.ToValidUTF8(strings.ReplaceAll(rec.Seq, "\x00", "\uFFFD"), "\uFFFD")
		}
		out[i] = rec
	}
	return out, nil
}

// looseRecord is a Lambda DynamoDB event record whose fields are kept as raw
// JSON, to read what can be read of a record that does not decode.
type looseRecord struct {
	EventID        json.RawMessage `json:"eventID"`
	EventName      json.RawMessage `json:"eventName"`
	EventSource    json.RawMessage `json:"eventSource"`
	EventSourceARN json.RawMessage `json:"eventSourceARN"`
	UserIdentity   json.RawMessage `json:"userIdentity"`
	Change         json.RawMessage `json:"dynamodb"`
}

type looseChange struct {
	ApproximateCreationDateTime json.RawMessage `json:"ApproximateCreationDateTime"`
	Keys                        json.RawMessage `json:"Keys"`
	NewImage                    json.RawMessage `json:"NewImage"`
	OldImage                    json.RawMessage `json:"OldImage"`
	SequenceNumber              json.RawMessage `json:"SequenceNumber"`
	StreamViewType              json.RawMessage `json:"StreamViewType"`
}

// decodeLambdaRecord decodes one record of an event; the error is a
// *SourceError for a record of another service, or why the record cannot be
// applied (the record then holds what could be read).
func decodeLambdaRecord(raw json.RawMessage) (Record, error) {
	var lr looseRecord
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return Record{}, fmt.Errorf("the record is not a JSON object: %q", clip(t))
	}
	if err := json.Unmarshal(raw, &lr); err != nil {
		return Record{}, fmt.Errorf("decoding the record: %w", err)
	}
	src, ok := jsonString(lr.EventSource)
	switch {
	case len(lr.EventSource) == 0 || string(lr.EventSource) == "null" || ok && src == "":
		return salvageLambda(lr, errors.New("the record has no eventSource"))
	case !ok:
		return salvageLambda(lr, fmt.Errorf("the record's eventSource is not a string: %q", clip(lr.EventSource)))
	case src != LambdaEventSource:
		return Record{}, &SourceError{Source: src}
	}
	var r events.DynamoDBEventRecord
	if err := json.Unmarshal(raw, &r); err != nil {
		return salvageLambda(lr, err)
	}
	return FromLambda(r)
}

// salvageLambda reads what it can of a record that does not decode: its
// header fields when they are strings, the key attributes when their values
// are readable. The error names the first unreadable part (Keys, NewImage,
// OldImage), else it is cause.
func salvageLambda(lr looseRecord, cause error) (Record, error) {
	var rec Record
	rec.EventID, _ = jsonString(lr.EventID)
	name, _ := jsonString(lr.EventName)
	rec.EventName = EventName(name)
	rec.SourceARN, _ = jsonString(lr.EventSourceARN)
	var ui events.DynamoDBUserIdentity
	if json.Unmarshal(lr.UserIdentity, &ui) == nil && ui.Type == ttlIdentityType && ui.PrincipalID == ttlIdentityPrincipal {
		rec.TTL = true
	}
	var c looseChange
	if err := json.Unmarshal(lr.Change, &c); err != nil {
		return rec, fmt.Errorf("dynamodb: %w", err)
	}
	rec.Seq, _ = jsonString(c.SequenceNumber)
	rec.StreamViewType, _ = jsonString(c.StreamViewType)
	var at events.SecondsEpochTime
	if json.Unmarshal(c.ApproximateCreationDateTime, &at) == nil {
		rec.ApproxTime = at.Time
	}
	var err error
	if rec.Keys, err = rawItem(c.Keys); err != nil {
		return rec, fmt.Errorf("Keys: %w", err)
	}
	if _, err := rawItem(c.NewImage); err != nil {
		return rec, fmt.Errorf("NewImage: %w", err)
	}
	if _, err := rawItem(c.OldImage); err != nil {
		return rec, fmt.Errorf("OldImage: %w", err)
	}
	return rec, cause
}

// rawItem decodes an attribute map attribute by attribute (in name order, so
// that the error names the first bad one).
func rawItem(b json.RawMessage) (ddbitem.Item, error) {
	if len(b) == 0 || string(b) == "null" {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("not a JSON object of attributes: %w", err)
	}
	it := make(ddbitem.Item, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v, err := rawValue(m[k])
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		it[k] = v
	}
	return it, nil
}

// rawValue decodes one attribute value, descending into lists and maps itself
// so that an error names the path to the bad value.
func rawValue(b json.RawMessage) (ddbitem.Value, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil || m == nil {
		return ddbitem.Value{}, fmt.Errorf("not a JSON object with a type descriptor: %q", clip(b))
	}
	if len(m) != 1 {
		return ddbitem.Value{}, fmt.Errorf("%d type descriptors, want one: %q", len(m), clip(b))
	}
	for typ, inner := range m {
		switch typ {
		case "L":
			var l []json.RawMessage
			if err := json.Unmarshal(inner, &l); err != nil {
				return ddbitem.Value{}, fmt.Errorf("L: not a JSON array: %q", clip(inner))
			}
			out := make([]ddbitem.Value, len(l))
			for i, e := range l {
				v, err := rawValue(e)
				if err != nil {
					return ddbitem.Value{}, fmt.Errorf("[%d]: %w", i, err)
				}
				out[i] = v
			}
			return ddbitem.ListOf(out...), nil
		case "M":
			it, err := rawItem(inner)
			if err != nil {
				return ddbitem.Value{}, err
			}
			if it == nil {
				return ddbitem.Value{}, errors.New("M: null")
			}
			return ddbitem.MapOf(it), nil
		}
	}
	var av events.DynamoDBAttributeValue
	if err := json.Unmarshal(b, &av); err != nil {
		return ddbitem.Value{}, err
	}
	return lambdaValue(av)
}

// jsonString returns b's value when b is a JSON string.
func jsonString(b json.RawMessage) (string, bool) {
	var s string
	if len(b) == 0 || json.Unmarshal(b, &s) != nil {
		return "", false
	}
	return s, true
}

// clip shortens raw JSON for a message (quote it with %q: it may end in the
// middle of a character, and raw JSON strings may hold bytes that are not UTF-8).
func clip(b []byte) string {
	if len(b) > 64 {
		return string(b[:64]) + "…"
	}
	return string(b)
}

// FromLambdaEvent converts every record of an event already decoded by
// aws-lambda-go (which fails as a whole on any unreadable attribute value:
// prefer DecodeLambdaEvent); a record of another eventSource fails it.
func FromLambdaEvent(ev events.DynamoDBEvent) ([]Record, error) {
	out := make([]Record, len(ev.Records))
	for i, r := range ev.Records {
		if r.EventSource != LambdaEventSource {
			return nil, &SourceError{Index: i, Source: r.EventSource}
		}
		rec, err := FromLambda(r)
		if err != nil {
			rec.Err = err
		}
		out[i] = rec
	}
	return out, nil
}

// FromLambda converts one Lambda DynamoDB event record. On error the returned
// record still carries what could be read (sequence number, keys).
func FromLambda(r events.DynamoDBEventRecord) (Record, error) {
	c := r.Change
	rec := Record{
		EventID:        r.EventID,
		EventName:      EventName(r.EventName),
		Seq:            c.SequenceNumber,
		ApproxTime:     c.ApproximateCreationDateTime.Time,
		StreamViewType: c.StreamViewType,
		SourceARN:      r.EventSourceArn,
	}
	if r.UserIdentity != nil && r.UserIdentity.Type == ttlIdentityType && r.UserIdentity.PrincipalID == ttlIdentityPrincipal {
		rec.TTL = true
	}
	var err error
	if rec.Keys, err = lambdaItem(c.Keys); err != nil {
		return rec, fmt.Errorf("Keys: %w", err)
	}
	if rec.NewImage, err = lambdaItem(c.NewImage); err != nil {
		return rec, fmt.Errorf("NewImage: %w", err)
	}
	if rec.OldImage, err = lambdaItem(c.OldImage); err != nil {
		return rec, fmt.Errorf("OldImage: %w", err)
	}
	if r.EventSource != "" && r.EventSource != LambdaEventSource {
		return rec, &SourceError{Source: r.EventSource}
	}
	if err := rec.Check(); err != nil {
		return rec, err
	}
	// A stream that carries new images carries one in every INSERT and MODIFY:
	// without it the record does not say the item's new state.
	if rec.EventName != Remove && rec.NewImage == nil &&
		(rec.StreamViewType == ViewNewImage || rec.StreamViewType == ViewNewAndOldImages) {
		return rec, fmt.Errorf("%s record has no NewImage on a %s stream", rec.EventName, rec.StreamViewType)
	}
	return rec, nil
}

func lambdaItem(m map[string]events.DynamoDBAttributeValue) (ddbitem.Item, error) {
	if m == nil {
		return nil, nil
	}
	it := make(ddbitem.Item, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		dv, err := lambdaValue(m[k])
		if err != nil {
			return nil, fmt.Errorf("attribute %q: %w", k, err)
		}
		it[k] = dv
	}
	return it, nil
}

func lambdaValue(v events.DynamoDBAttributeValue) (ddbitem.Value, error) {
	switch v.DataType() {
	case events.DataTypeString:
		return ddbitem.Str(v.String()), nil
	case events.DataTypeNumber:
		return ddbitem.CheckedNum(v.Number())
	case events.DataTypeBinary:
		return ddbitem.Bin(v.Binary()), nil
	case events.DataTypeBoolean:
		return ddbitem.Bool(v.Boolean()), nil
	case events.DataTypeNull:
		return ddbitem.Null(), nil
	case events.DataTypeStringSet:
		return ddbitem.StrSet(v.StringSet()...), nil
	case events.DataTypeNumberSet:
		return ddbitem.CheckedNumSet(v.NumberSet()...)
	case events.DataTypeBinarySet:
		return ddbitem.BinSet(v.BinarySet()...), nil
	case events.DataTypeList:
		l := v.List()
		out := make([]ddbitem.Value, len(l))
		for i, e := range l {
			dv, err := lambdaValue(e)
			if err != nil {
				return ddbitem.Value{}, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = dv
		}
		return ddbitem.ListOf(out...), nil
	case events.DataTypeMap:
		m, err := lambdaItem(v.Map())
		if err != nil {
			return ddbitem.Value{}, err
		}
		if m == nil {
			m = ddbitem.Item{}
		}
		return ddbitem.MapOf(m), nil
	}
	return ddbitem.Value{}, fmt.Errorf("unsupported attribute type %v", v.DataType())
}
