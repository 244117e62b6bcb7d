package stream

import (
	"encoding/json"
	"errors"
	"fmt"

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

// DecodeLambdaEvent decodes a Lambda DynamoDBEvent payload. A payload that is
// not JSON, or a record whose eventSource is not aws:dynamodb, fails the whole
// event; a record that is readable JSON but not a valid change comes back with
// Err set.
func DecodeLambdaEvent(b []byte) ([]Record, error) {
	var ev events.DynamoDBEvent
	if err := json.Unmarshal(b, &ev); err != nil {
		return nil, fmt.Errorf("decoding the DynamoDB stream event: %w", err)
	}
	// Records is required: a payload without it is another kind of event.
	var probe struct {
		Records json.RawMessage `json:"Records"`
	}
	if err := json.Unmarshal(b, &probe); err != nil || len(probe.Records) == 0 || string(probe.Records) == "null" {
		return nil, errors.New(`decoding the DynamoDB stream event: no "Records": not a DynamoDB Streams event`)
	}
	return FromLambdaEvent(ev)
}

// FromLambdaEvent converts every record of ev; see DecodeLambdaEvent.
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
	return rec, rec.Check()
}

func lambdaItem(m map[string]events.DynamoDBAttributeValue) (ddbitem.Item, error) {
	if m == nil {
		return nil, nil
	}
	it := make(ddbitem.Item, len(m))
	for k, v := range m {
		dv, err := lambdaValue(v)
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
		n := v.Number()
		if _, err := ddbitem.ParseNumber(n); err != nil {
			return ddbitem.Value{}, err
		}
		return ddbitem.Num(n), nil
	case events.DataTypeBinary:
		return ddbitem.Bin(v.Binary()), nil
	case events.DataTypeBoolean:
		return ddbitem.Bool(v.Boolean()), nil
	case events.DataTypeNull:
		return ddbitem.Null(), nil
	case events.DataTypeStringSet:
		return ddbitem.StrSet(v.StringSet()...), nil
	case events.DataTypeNumberSet:
		ns := v.NumberSet()
		for _, n := range ns {
			if _, err := ddbitem.ParseNumber(n); err != nil {
				return ddbitem.Value{}, err
			}
		}
		return ddbitem.NumSet(ns...), nil
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
