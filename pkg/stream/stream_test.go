package stream

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
)

const realWorld = "../../testdata/real-world"

func readRW(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(realWorld, rel))
	if err != nil {
		t.Fatalf("real-world input: %v", err)
	}
	return b
}

func TestCompareSeq(t *testing.T) {
	cases := []struct {
		a, b string
		want int
	}{
		{"999999999999999999999", "1000000000000000000000", -1}, // 21 vs 22 digits
		{"1000000000000000000000", "999999999999999999999", 1},
		{"700000000000888747038", "700000000000888747038", 0},
		{"000000000000000000123", "123", 0},
		{"4421584500000000017450439091", "1405400000000002063282832", 1},
		{"9999999999999999999999999999999999999999", "9999999999999999999999999999999999999998", 1},
		{"100", "99", 1},
	}
	for _, c := range cases {
		if got := CompareSeq(c.a, c.b); got != c.want {
			t.Errorf("CompareSeq(%s, %s) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
	for _, bad := range []string{"", "12a", "-1", "1.5", strings.Repeat("1", 41)} {
		if ValidSeq(bad) == nil {
			t.Errorf("ValidSeq(%q) = nil, want an error", bad)
		}
	}
	if CanonicalSeq("000") != "0" || CanonicalSeq("0012") != "12" {
		t.Error("CanonicalSeq")
	}
}

// Every DynamoDB Streams event file converts; the others are refused or fail clearly.
func TestLambdaEventsRealWorld(t *testing.T) {
	type want struct {
		n        int
		err      string // substring of DecodeLambdaEvent's error
		ttlFirst bool
		names    []EventName
		seqLen   int
		noTime   bool
	}
	cases := map[string]want{
		"aws-lambda-go-dynamodb-event.json":                 {n: 2, ttlFirst: true, seqLen: 25},
		"aws-lambda-go-dynamodb-time-window-event.json":     {n: 3, seqLen: 3},
		"aws-lambda-java-libs-dynamo-event.json":            {n: 3, ttlFirst: true, seqLen: 28},
		"powertools-java-dynamo-event.json":                 {n: 3, ttlFirst: true, names: []EventName{Insert, Modify, Remove}},
		"aws-lambda-docs-example-event.json":                {n: -1, noTime: true},
		"aws-lambda-go-dynamodb-event-malformed.json":       {err: "decoding"},
		"powertools-ts-kinesis-delivered-dynamodb.json":     {err: `eventSource "aws:kinesis"`},
		"aws-lambda-docs-on-failure-record.json":            {err: `no "Records"`},
		"aws-dynamodb-docs-single-record-empty-string.json": {err: `no "Records"`},
	}
	dir := filepath.Join(realWorld, "lambda-events")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			w, ok := cases[e.Name()]
			if !ok {
				t.Fatalf("no expectation for %s: add one", e.Name())
			}
			recs, err := DecodeLambdaEvent(readRW(t, "lambda-events/"+e.Name()))
			if w.err != "" {
				if err == nil || !strings.Contains(err.Error(), w.err) {
					t.Fatalf("err = %v, want one containing %q", err, w.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if w.n >= 0 && len(recs) != w.n {
				t.Fatalf("%d records, want %d", len(recs), w.n)
			}
			if len(recs) == 0 {
				t.Fatal("no records")
			}
			for i, r := range recs {
				if r.Err != nil {
					t.Errorf("record %d: %v", i, r.Err)
				}
				if len(r.Keys) == 0 {
					t.Errorf("record %d: no keys", i)
				}
				if w.seqLen > 0 && len(r.Seq) != w.seqLen {
					t.Errorf("record %d: seq %q has %d digits, want %d", i, r.Seq, len(r.Seq), w.seqLen)
				}
				if w.noTime && !r.ApproxTime.IsZero() {
					t.Errorf("record %d: ApproxTime %v, want zero (absent)", i, r.ApproxTime)
				}
				if !w.noTime && r.ApproxTime.IsZero() {
					t.Errorf("record %d: no ApproxTime", i)
				}
				if r.EventName != Remove && r.NewImage == nil {
					t.Errorf("record %d: %s without NewImage", i, r.EventName)
				}
			}
			if recs[0].TTL != w.ttlFirst {
				t.Errorf("TTL = %v, want %v", recs[0].TTL, w.ttlFirst)
			}
			for i, n := range w.names {
				if recs[i].EventName != n {
					t.Errorf("record %d: %s, want %s", i, recs[i].EventName, n)
				}
			}
		})
	}
}

func TestLambdaScientificTimestamp(t *testing.T) {
	recs, err := DecodeLambdaEvent(readRW(t, "lambda-events/aws-lambda-java-libs-dynamo-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	raw := string(readRW(t, "lambda-events/aws-lambda-java-libs-dynamo-event.json"))
	if !strings.Contains(raw, "E9") {
		t.Skip("fixture changed: no scientific notation")
	}
	var found bool
	for _, r := range recs {
		if r.ApproxTime.Unix() == 1635734407 {
			found = true
			if d := r.ApproxTime.Sub(time.Unix(1635734407, 123456789)); d > time.Millisecond || d < -time.Millisecond {
				t.Errorf("time %v, want 1635734407.123456789", r.ApproxTime)
			}
		}
	}
	if !found {
		t.Errorf("no record with ApproximateCreationDateTime 1.635734407123456789E9: %v", recs)
	}
}

func TestLambdaEveryTypeAndBadRecords(t *testing.T) {
	recs, err := DecodeLambdaEvent(readRW(t, "lambda-events/aws-lambda-go-dynamodb-event.json"))
	if err != nil {
		t.Fatal(err)
	}
	img := recs[0].NewImage
	if v := img["asdf1"]; v.Kind != ddbitem.B || len(v.Bin) != 4 {
		t.Errorf("asdf1 = %v", v)
	}
	if v := img["asdf2"]; v.Kind != ddbitem.BS || len(v.Bins) != 2 {
		t.Errorf("asdf2 = %v", v)
	}
	// Unknown eventName, bad sequence number, missing keys: the record
	// carries Err, the others are fine.
	ev := `{"Records":[
	 {"eventSource":"aws:dynamodb","eventName":"UPSERT","dynamodb":{"Keys":{"id":{"S":"a"}},"SequenceNumber":"100000000000000000001"}},
	 {"eventSource":"aws:dynamodb","eventName":"INSERT","dynamodb":{"Keys":{"id":{"S":"a"}},"NewImage":{"id":{"S":"a"}},"SequenceNumber":"12x"}},
	 {"eventSource":"aws:dynamodb","eventName":"REMOVE","dynamodb":{"SequenceNumber":"100000000000000000003"}},
	 {"eventSource":"aws:dynamodb","eventName":"REMOVE","dynamodb":{"Keys":{"id":{"S":"a"}},"SequenceNumber":"1000000000000000000004"}}]}`
	recs, err = DecodeLambdaEvent([]byte(ev))
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"unknown eventName", "not a decimal integer", "no Keys", ""} {
		got := ""
		if recs[i].Err != nil {
			got = recs[i].Err.Error()
		}
		if want == "" && got != "" || want != "" && !strings.Contains(got, want) {
			t.Errorf("record %d: err %q, want %q", i, got, want)
		}
	}
	if _, err := DecodeLambdaEvent([]byte(`{"Records":[{"eventSource":"aws:kinesis"}]}`)); !errors.As(err, new(*SourceError)) {
		t.Errorf("kinesis: %v", err)
	}
}

func TestCheckViewType(t *testing.T) {
	if !errors.Is(CheckViewType("OLD_IMAGE"), ErrOldImageOnly) {
		t.Error("OLD_IMAGE accepted")
	}
	for _, v := range []string{"KEYS_ONLY", "NEW_IMAGE", "NEW_AND_OLD_IMAGES"} {
		if err := CheckViewType(v); err != nil {
			t.Errorf("%s: %v", v, err)
		}
	}
}

// streamsRecords decodes the AWS CLI's JSON of GetRecords into SDK records
// (the SDK's types have no JSON decoding of their own).
func streamsRecords(t *testing.T, b []byte) []types.Record {
	t.Helper()
	var doc struct {
		Records []struct {
			EventID      string `json:"eventID"`
			EventName    string `json:"eventName"`
			EventSource  string `json:"eventSource"`
			UserIdentity *struct {
				Type        string `json:"Type"`
				PrincipalID string `json:"PrincipalId"`
			} `json:"userIdentity"`
			Dynamodb struct {
				ApproximateCreationDateTime json.RawMessage `json:"ApproximateCreationDateTime"`
				Keys                        json.RawMessage `json:"Keys"`
				NewImage                    json.RawMessage `json:"NewImage"`
				OldImage                    json.RawMessage `json:"OldImage"`
				SequenceNumber              string          `json:"SequenceNumber"`
				StreamViewType              string          `json:"StreamViewType"`
			} `json:"dynamodb"`
		} `json:"Records"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var out []types.Record
	for _, r := range doc.Records {
		sr := &types.StreamRecord{SequenceNumber: aws.String(r.Dynamodb.SequenceNumber),
			StreamViewType: types.StreamViewType(r.Dynamodb.StreamViewType)}
		// A number of seconds (the CLI) or a date text (botocore's examples).
		var f float64
		if json.Unmarshal(r.Dynamodb.ApproximateCreationDateTime, &f) == nil {
			tm := time.Unix(int64(f), 0)
			sr.ApproximateCreationDateTime = &tm
		}
		sr.Keys = streamsMap(t, r.Dynamodb.Keys)
		sr.NewImage = streamsMap(t, r.Dynamodb.NewImage)
		sr.OldImage = streamsMap(t, r.Dynamodb.OldImage)
		rec := types.Record{EventID: aws.String(r.EventID), EventName: types.OperationType(r.EventName),
			EventSource: aws.String(r.EventSource), Dynamodb: sr}
		if r.UserIdentity != nil {
			rec.UserIdentity = &types.Identity{Type: aws.String(r.UserIdentity.Type), PrincipalId: aws.String(r.UserIdentity.PrincipalID)}
		}
		out = append(out, rec)
	}
	return out
}

func streamsMap(t *testing.T, raw json.RawMessage) map[string]types.AttributeValue {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	it, err := ddbjson.DecodeAttributeMap(raw)
	if err != nil {
		t.Fatal(err)
	}
	return ToStreamsAV(it)
}

func TestStreamsAPIRealWorld(t *testing.T) {
	recs := streamsRecords(t, readRW(t, "streams-api/awscli-get-records.json"))
	if len(recs) == 0 {
		t.Fatal("no records")
	}
	for i, r := range recs {
		rec, err := FromStreams("shardId-1", r)
		if err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		if len(rec.Seq) != 21 || rec.ShardID != "shardId-1" || rec.ApproxTime.IsZero() || len(rec.Keys) != 2 {
			t.Errorf("record %d: %+v", i, rec)
		}
		if rec.EventName != Remove && rec.NewImage == nil {
			t.Errorf("record %d: no NewImage", i)
		}
	}
	// botocore's KEYS_ONLY examples.
	var boto struct {
		Examples struct {
			GetRecords []struct {
				Output json.RawMessage `json:"output"`
			} `json:"GetRecords"`
		} `json:"examples"`
	}
	if err := json.Unmarshal(readRW(t, "streams-api/botocore-dynamodbstreams-examples.json"), &boto); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, ex := range boto.Examples.GetRecords {
		for _, r := range streamsRecords(t, ex.Output) {
			rec, err := FromStreams("s", r)
			if err != nil {
				t.Fatalf("botocore record: %v", err)
			}
			n++
			if rec.StreamViewType == ViewKeysOnly && rec.NewImage != nil {
				t.Errorf("KEYS_ONLY record has an image")
			}
		}
	}
	if n == 0 {
		t.Error("no botocore GetRecords example records")
	}
	// TTL identity on the GetRecords wire.
	ttl := types.Record{EventName: "REMOVE", UserIdentity: &types.Identity{Type: aws.String("Service"), PrincipalId: aws.String("dynamodb.amazonaws.com")},
		Dynamodb: &types.StreamRecord{SequenceNumber: aws.String("100000000000000000001"), Keys: ToStreamsAV(ddbitem.Item{"id": ddbitem.Str("x")})}}
	rec, err := FromStreams("s", ttl)
	if err != nil || !rec.TTL || !rec.ApproxTime.IsZero() {
		t.Errorf("TTL record: %+v %v", rec, err)
	}
	if _, err := FromStreams("s", types.Record{EventName: "INSERT"}); err == nil {
		t.Error("record without dynamodb section accepted")
	}
}

var _ = events.DynamoDBEvent{}

// Each malformed record of an event comes back with Err set and what could be
// read of it; the other records are decoded as usual.
func TestLambdaMalformedRecords(t *testing.T) {
	rec := func(name, change string) string {
		return `{"eventID":"e","eventName":"` + name + `","eventSource":"aws:dynamodb","dynamodb":` + change + `}`
	}
	const keys = `"Keys":{"id":{"S":"k1"}}`
	const seq = `"SequenceNumber":"100000000000000000007"`
	cases := []struct {
		name   string
		record string
		err    string // substring of Err; "" for a good record
		keys   bool   // the key attributes are read
		seq    bool   // the sequence number is read
	}{
		{"good", rec("MODIFY", `{`+keys+`,"NewImage":{"id":{"S":"k1"},"n":{"N":"5"}},`+seq+`,"StreamViewType":"NEW_AND_OLD_IMAGES"}`), "", true, true},
		{"number of the wrong JSON type", rec("MODIFY", `{`+keys+`,"NewImage":{"id":{"S":"k1"},"n":{"N":5}},`+seq+`}`),
			`NewImage: attribute "n": DynamoDBAttributeValue: N type should contain a string`, true, true},
		{"nested wrong type", rec("INSERT", `{`+keys+`,"NewImage":{"id":{"S":"k1"},"l":{"L":[{"M":{"x":{"BOOL":"yes"}}}]}},`+seq+`}`),
			`NewImage: attribute "l": [0]: attribute "x": DynamoDBAttributeValue: BOOL type should contain a boolean`, true, true},
		{"unknown type descriptor", rec("INSERT", `{`+keys+`,"NewImage":{"id":{"S":"k1"},"d":{"DATE":"2024-01-01"}},`+seq+`}`),
			`attribute "d": unsupported DynamoDB attribute type, DATE`, true, true},
		{"two type descriptors", rec("INSERT", `{`+keys+`,"NewImage":{"id":{"S":"k1"},"d":{"S":"a","N":"1"}},`+seq+`}`),
			`attribute "d": 2 type descriptors, want one`, true, true},
		{"bad OldImage", rec("MODIFY", `{`+keys+`,"NewImage":{"id":{"S":"k1"}},"OldImage":{"id":{"S":1}},`+seq+`}`),
			`OldImage: attribute "id"`, true, true},
		{"bad key value", rec("REMOVE", `{"Keys":{"id":{"N":["1"]}},`+seq+`}`), `Keys: attribute "id"`, false, true},
		{"bad number text in a key", rec("REMOVE", `{"Keys":{"id":{"N":"1e"}},`+seq+`}`), `Keys: attribute "id"`, false, true},
		{"image not an object", rec("INSERT", `{`+keys+`,"NewImage":[1,2],`+seq+`}`), `NewImage: not a JSON object of attributes`, true, true},
		{"MODIFY without NewImage", rec("MODIFY", `{`+keys+`,`+seq+`,"StreamViewType":"NEW_AND_OLD_IMAGES"}`),
			"MODIFY record has no NewImage on a NEW_AND_OLD_IMAGES stream", true, true},
		{"MODIFY with a null NewImage", rec("MODIFY", `{`+keys+`,"NewImage":null,`+seq+`,"StreamViewType":"NEW_AND_OLD_IMAGES"}`),
			"MODIFY record has no NewImage", true, true},
		{"INSERT without NewImage on NEW_IMAGE", rec("INSERT", `{`+keys+`,`+seq+`,"StreamViewType":"NEW_IMAGE"}`),
			"INSERT record has no NewImage on a NEW_IMAGE stream", true, true},
		{"KEYS_ONLY needs no image", rec("MODIFY", `{`+keys+`,`+seq+`,"StreamViewType":"KEYS_ONLY"}`), "", true, true},
		{"sequence number of the wrong type", rec("INSERT", `{`+keys+`,"NewImage":{"id":{"S":"k1"}},"SequenceNumber":7}`),
			"cannot unmarshal number", true, false},
		{"dynamodb not an object", rec("INSERT", `"x"`), "dynamodb:", false, false},
		{"no eventSource", `{"eventName":"INSERT","dynamodb":{` + keys + `,` + seq + `}}`, "no eventSource", true, true},
		{"empty eventSource", `{"eventSource":"","eventName":"INSERT","dynamodb":{` + keys + `,` + seq + `}}`, "no eventSource", true, true},
		{"eventSource not a string", `{"eventSource":5,"eventName":"INSERT","dynamodb":{` + keys + `,` + seq + `}}`,
			"eventSource is not a string: \"5\"", true, true},
		{"not an object", `[1]`, "not a JSON object", false, false},
		{"null", `null`, "not a JSON object", false, false},
		{"good after the bad ones", rec("REMOVE", `{`+keys+`,`+seq+`}`), "", true, true},
	}
	var parts []string
	for _, c := range cases {
		parts = append(parts, c.record)
	}
	recs, err := DecodeLambdaEvent([]byte(`{"Records":[` + strings.Join(parts, ",\n") + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(cases) {
		t.Fatalf("%d records, want %d", len(recs), len(cases))
	}
	for i, c := range cases {
		r := recs[i]
		switch {
		case c.err == "" && r.Err != nil:
			t.Errorf("%s: unexpected Err %v", c.name, r.Err)
		case c.err != "" && (r.Err == nil || !strings.Contains(r.Err.Error(), c.err)):
			t.Errorf("%s: Err = %v, want one containing %q", c.name, r.Err, c.err)
		}
		if got := r.Keys["id"].Str == "k1"; got != c.keys {
			t.Errorf("%s: keys read = %v (%v), want %v", c.name, got, r.Keys, c.keys)
		}
		if got := r.Seq == "100000000000000000007"; got != c.seq {
			t.Errorf("%s: seq %q", c.name, r.Seq)
		}
	}
	// Another service's record still fails the whole event, wherever it is.
	for _, src := range []string{`"aws:sqs"`, `"aws:kinesis"`} {
		ev := `{"Records":[` + cases[0].record + `,{"eventSource":` + src + `,"dynamodb":{"NewImage":{"a":{"N":5}}}}]}`
		var se *SourceError
		if _, err := DecodeLambdaEvent([]byte(ev)); !errors.As(err, &se) || se.Index != 1 {
			t.Errorf("eventSource %s: %v", src, err)
		}
	}
	for _, ev := range []string{`{"Records":5}`, `{"Records":{}}`, `[]`} {
		if _, err := DecodeLambdaEvent([]byte(ev)); err == nil {
			t.Errorf("%s: accepted", ev)
		}
	}
}
