package poll_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// streamsDouble is a DynamoDB Streams endpoint (and DynamoDB's DescribeTable)
// on loopback, speaking the awsJson1_0 protocol the SDK speaks to AWS, with
// responses shaped like the genuine ones in testdata/real-world/streams-api.
// It models what DynamoDB Local cannot show: shards that close with and
// without a visible EndingSequenceNumber, shards aging out of DescribeStream,
// trimmed positions, expired iterators, empty pages before a shard's end,
// throttling of any operation, a disabled stream and a new one, and splits
// any number of generations deep.
type streamsDouble struct {
	t   testing.TB
	srv *httptest.Server

	mu       sync.Mutex
	table    string
	streams  map[string]*dStream
	latest   string // the table's LatestStreamArn ("": no stream)
	seq      uint64
	clock    time.Time // ApproximateCreationDateTime of the next record (zero: now)
	pageSize int       // records per GetRecords page at most (default 1000)
	descPage int       // shards per DescribeStream page at most (default 100)
	noFilter bool      // refuse ShardFilter with a ValidationException
	// raw holds verbatim responses (genuine ones from testdata), served
	// once each per operation before the model answers.
	raw map[string][][]byte

	throttle   map[string]int           // operation -> this many next calls fail with LimitExceededException
	expireNext map[string]int           // shard -> this many next GetRecords fail with ExpiredIteratorException
	emptyNext  map[string]int           // shard -> this many next GetRecords return an empty page
	calls      map[string]int           // operation -> calls (throttled ones included)
	filtered   int                      // DescribeStream calls with a ShardFilter
	reads      []string                 // shard of each GetRecords that returned records
	asked      []string                 // shard of each GetRecords with an iterator of the model
	delay      map[string]time.Duration // shard -> GetRecords takes this long
	latency    time.Duration            // GetRecords takes this long on other shards
	inFlight   int                      // GetRecords being served
	maxFlight  int                      // the most GetRecords served at once
	readTimes  map[string][]time.Time
}

type dStream struct {
	arn    string
	status string
	shards []*dShard
}

type dShard struct {
	id, parent string
	startSeq   string
	recs       []dRec
	closed     bool // takes no more records; GetRecords ends it with no NextShardIterator
	endVisible bool // DescribeStream shows its EndingSequenceNumber
	gone       bool // aged out: not listed, ResourceNotFoundException
	unfound    bool // still listed (DescribeStream lags), yet ResourceNotFoundException
	trimmed    int  // recs[:trimmed] are trimmed
}

type dRec struct {
	seq, event string
	keys, img  ddbitem.Item
	at         time.Time
}

const doubleTable = "Orders"

func newStreamsDouble(t testing.TB) *streamsDouble {
	d := &streamsDouble{t: t, table: doubleTable, raw: map[string][][]byte{}, streams: map[string]*dStream{}, seq: 0,
		pageSize: 1000, descPage: 100, throttle: map[string]int{}, expireNext: map[string]int{}, emptyNext: map[string]int{},
		calls: map[string]int{}, readTimes: map[string][]time.Time{}, delay: map[string]time.Duration{}}
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *streamsDouble) streamsClient() *dynamodbstreams.Client {
	return dynamodbstreams.New(dynamodbstreams.Options{Region: "us-east-1", BaseEndpoint: aws.String(d.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), Retryer: aws.NopRetryer{}})
}

func (d *streamsDouble) tablesClient() *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{Region: "us-east-1", BaseEndpoint: aws.String(d.srv.URL),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", ""), Retryer: aws.NopRetryer{}})
}

// newStream enables a stream on the table (label, or a whole ARN): it
// becomes the LatestStreamArn.
func (d *streamsDouble) newStream(label string) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	arn := label
	if !strings.HasPrefix(arn, "arn:") {
		arn = "arn:aws:dynamodb:us-east-1:123456789012:table/" + d.table + "/stream/" + label
	}
	d.streams[arn] = &dStream{arn: arn, status: "ENABLED"}
	d.latest = arn
	return arn
}

func (d *streamsDouble) nextSeq() string {
	d.seq += 7
	return fmt.Sprintf("1%020d", d.seq) // 21 digits, like AWS's shortest

}

func (d *streamsDouble) shard(arn, id string) *dShard {
	for _, s := range d.streams[arn].shards {
		if s.id == id {
			return s
		}
	}
	d.t.Fatalf("double: no shard %s", id)
	return nil
}

// addShard opens a shard (parent "" for none).
func (d *streamsDouble) addShard(arn, id, parent string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.streams[arn]
	st.shards = append(st.shards, &dShard{id: id, parent: parent, startSeq: d.nextSeq()})
}

// put writes a record to an open shard and returns its sequence number.
func (d *streamsDouble) put(arn, shard, event string, it ddbitem.Item) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.shard(arn, shard)
	if s.closed {
		d.t.Fatalf("double: put to closed shard %s", shard)
	}
	at := d.clock
	if at.IsZero() {
		at = time.Now()
	}
	r := dRec{seq: d.nextSeq(), event: event, keys: ddbitem.Item{"orderId": it["orderId"]}, img: it, at: at}
	s.recs = append(s.recs, r)
	return r.seq
}

// closeShard closes a shard; its EndingSequenceNumber shows in
// DescribeStream only when visible.
func (d *streamsDouble) closeShard(arn, id string, visible bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.shard(arn, id)
	s.closed, s.endVisible = true, visible
}

// split closes a shard (end visible) and opens its children.
func (d *streamsDouble) split(arn, parent string, children ...string) {
	d.closeShard(arn, parent, true)
	for _, c := range children {
		d.addShard(arn, c, parent)
	}
}

func (d *streamsDouble) ageOut(arn, id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.shard(arn, id).gone = true
}

// trim drops a shard's first n records.
func (d *streamsDouble) trim(arn, id string, n int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.shard(arn, id).trimmed = n
}

// disable closes every shard of the stream (ends visible); the table has no
// stream until newStream.
func (d *streamsDouble) disable(arn string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.streams[arn]
	st.status = "DISABLED"
	for _, s := range st.shards {
		s.closed, s.endVisible = true, true
	}
	if d.latest == arn {
		d.latest = ""
	}
}

func (d *streamsDouble) set(f func(d *streamsDouble)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(d)
}

func (d *streamsDouble) count(op string) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.calls[op]
}

type apiError struct {
	status int
	code   string
	msg    string
}

func (d *streamsDouble) serve(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	op := target[strings.LastIndexByte(target, '.')+1:]
	body, _ := io.ReadAll(r.Body)
	d.mu.Lock()
	var wait time.Duration
	if op == "GetRecords" {
		d.inFlight++
		d.maxFlight = max(d.maxFlight, d.inFlight)
		var in struct{ ShardIterator string }
		json.Unmarshal(body, &in)
		if parts := strings.Split(in.ShardIterator, "|"); len(parts) == 4 {
			wait = d.delay[parts[1]]
			d.asked = append(d.asked, parts[1])
		}
		if wait == 0 {
			wait = d.latency
		}
	}
	d.mu.Unlock()
	time.Sleep(wait)
	d.mu.Lock()
	out, aerr := d.handle(op, body)
	if op == "GetRecords" {
		d.inFlight--
	}
	d.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("x-amzn-RequestId", "double")
	if aerr != nil {
		w.Header().Set("x-amzn-ErrorType", aerr.code)
		w.WriteHeader(aerr.status)
		json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + aerr.code, "message": aerr.msg})
		return
	}
	w.Write(out)
}

func notFound(msg string) *apiError {
	return &apiError{400, "ResourceNotFoundException", "Requested resource not found: " + msg}
}

func (d *streamsDouble) handle(op string, body []byte) ([]byte, *apiError) {
	d.calls[op]++
	if d.throttle[op] > 0 {
		d.throttle[op]--
		return nil, &apiError{400, "LimitExceededException", "Rate exceeded for " + op}
	}
	if r := d.raw[op]; len(r) > 0 {
		d.raw[op] = r[1:]
		return r[0], nil
	}
	var in struct {
		StreamArn, ShardId, ShardIteratorType, SequenceNumber, ExclusiveStartShardId, ShardIterator, TableName string
		Limit                                                                                                  int
		ShardFilter                                                                                            *struct{ Type, ShardId string }
	}
	if err := json.Unmarshal(body, &in); err != nil {
		return nil, &apiError{400, "SerializationException", err.Error()}
	}
	switch op {
	case "DescribeTable":
		return d.describeTable(in.TableName)
	case "DescribeStream":
		st := d.streams[in.StreamArn]
		if st == nil {
			return nil, notFound("Stream: " + in.StreamArn + " not found")
		}
		var filter string
		if in.ShardFilter != nil {
			d.filtered++
			if d.noFilter {
				return nil, &apiError{400, "ValidationException", "ShardFilter is not supported"}
			}
			filter = in.ShardFilter.ShardId
		}
		return d.describeStream(st, in.ExclusiveStartShardId, in.Limit, filter)
	case "GetShardIterator":
		return d.getShardIterator(in.StreamArn, in.ShardId, in.ShardIteratorType, in.SequenceNumber)
	case "GetRecords":
		return d.getRecords(in.ShardIterator, in.Limit)
	}
	return nil, &apiError{400, "UnknownOperationException", op}
}

func (d *streamsDouble) describeTable(name string) ([]byte, *apiError) {
	if name != d.table {
		return nil, notFound("Table: " + name + " not found")
	}
	t := map[string]any{"TableName": name, "TableStatus": "ACTIVE",
		"TableArn": "arn:aws:dynamodb:us-east-1:123456789012:table/" + name}
	if d.latest != "" {
		t["LatestStreamArn"] = d.latest
		t["LatestStreamLabel"] = d.latest[strings.LastIndex(d.latest, "/")+1:]
		t["StreamSpecification"] = map[string]any{"StreamEnabled": true, "StreamViewType": "NEW_AND_OLD_IMAGES"}
	}
	b, _ := json.Marshal(map[string]any{"Table": t})
	return b, nil
}

func (d *streamsDouble) describeStream(st *dStream, after string, limit int, parent string) ([]byte, *apiError) {
	if limit <= 0 || limit > d.descPage {
		limit = d.descPage
	}
	var list []*dShard
	for _, s := range st.shards {
		if !s.gone && (parent == "" || s.parent == parent) {
			list = append(list, s)
		}
	}
	i := 0
	if after != "" {
		for j, s := range list {
			if s.id == after {
				i = j + 1
			}
		}
	}
	page := list[i:min(i+limit, len(list))]
	shards := []map[string]any{}
	for _, s := range page {
		rng := map[string]any{"StartingSequenceNumber": s.startSeq}
		if s.endVisible {
			end := s.startSeq
			if len(s.recs) > 0 {
				end = s.recs[len(s.recs)-1].seq
			}
			rng["EndingSequenceNumber"] = end
		}
		sh := map[string]any{"ShardId": s.id, "SequenceNumberRange": rng}
		if s.parent != "" {
			sh["ParentShardId"] = s.parent
		}
		shards = append(shards, sh)
	}
	desc := map[string]any{"StreamArn": st.arn, "StreamLabel": st.arn[strings.LastIndex(st.arn, "/")+1:],
		"StreamStatus": st.status, "StreamViewType": "NEW_AND_OLD_IMAGES", "CreationRequestDateTime": 1571767321.571,
		"TableName": d.table, "KeySchema": []map[string]string{{"AttributeName": "orderId", "KeyType": "HASH"}},
		"Shards": shards}
	if i+limit < len(list) {
		desc["LastEvaluatedShardId"] = page[len(page)-1].id
	}
	b, _ := json.Marshal(map[string]any{"StreamDescription": desc})
	return b, nil
}

func (d *streamsDouble) findShard(arn, id string) (*dShard, *apiError) {
	st := d.streams[arn]
	if st == nil {
		return nil, notFound("Stream: " + arn + " not found")
	}
	for _, s := range st.shards {
		if s.id == id && !s.gone && !s.unfound {
			return s, nil
		}
	}
	return nil, notFound("Shard: " + id + " in stream " + arn + " not found")
}

func seqLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

func (d *streamsDouble) getShardIterator(arn, id, typ, seq string) ([]byte, *apiError) {
	s, aerr := d.findShard(arn, id)
	if aerr != nil {
		return nil, aerr
	}
	pos := 0
	switch typ {
	case "TRIM_HORIZON":
		pos = s.trimmed
	case "LATEST":
		pos = len(s.recs)
	case "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER":
		seq = strings.TrimLeft(seq, "0")
		for pos < len(s.recs) && seqLess(s.recs[pos].seq, seq) {
			pos++
		}
		if typ == "AFTER_SEQUENCE_NUMBER" && pos < len(s.recs) && s.recs[pos].seq == seq {
			pos++
		}
		if pos < s.trimmed {
			return nil, &apiError{400, "TrimmedDataAccessException", "the operation attempted to read past the oldest stream record in a shard"}
		}
	default:
		return nil, &apiError{400, "ValidationException", "bad ShardIteratorType " + typ}
	}
	b, _ := json.Marshal(map[string]string{"ShardIterator": d.iterator(arn, id, pos)})
	return b, nil
}

func (d *streamsDouble) iterator(arn, id string, pos int) string {
	return fmt.Sprintf("%s|%s|%d|%d", arn, id, pos, time.Now().UnixNano())
}

func (d *streamsDouble) getRecords(iter string, limit int) ([]byte, *apiError) {
	parts := strings.Split(iter, "|")
	if len(parts) != 4 {
		// An iterator from a verbatim response: the end of its shard.
		b, _ := json.Marshal(map[string]any{"Records": []any{}})
		return b, nil
	}
	pos, _ := strconv.Atoi(parts[2])
	s, aerr := d.findShard(parts[0], parts[1])
	if aerr != nil {
		return nil, aerr
	}
	if d.expireNext[s.id] > 0 {
		d.expireNext[s.id]--
		return nil, &apiError{400, "ExpiredIteratorException", "Iterator expired"}
	}
	if pos < s.trimmed {
		return nil, &apiError{400, "TrimmedDataAccessException", "the operation attempted to read past the oldest stream record in a shard"}
	}
	d.readTimes[s.id] = append(d.readTimes[s.id], time.Now())
	if limit <= 0 || limit > d.pageSize {
		limit = d.pageSize
	}
	var recs []dRec
	if d.emptyNext[s.id] > 0 {
		d.emptyNext[s.id]--
	} else {
		recs = s.recs[pos:min(pos+limit, len(s.recs))]
	}
	out := map[string]any{}
	list := []map[string]any{}
	for i, r := range recs {
		sr := map[string]any{"ApproximateCreationDateTime": float64(r.at.Unix()), "Keys": r.keys,
			"SequenceNumber": r.seq, "SizeBytes": 100 + i, "StreamViewType": "NEW_AND_OLD_IMAGES"}
		if r.event != "REMOVE" {
			sr["NewImage"] = r.img
		}
		list = append(list, map[string]any{"eventID": fmt.Sprintf("%x", r.seq), "eventName": r.event, "eventVersion": "1.1",
			"eventSource": "aws:dynamodb", "awsRegion": "us-east-1", "dynamodb": sr})
	}
	out["Records"] = list
	if len(recs) > 0 {
		d.reads = append(d.reads, s.id)
	}
	next := pos + len(recs)
	if !s.closed || next < len(s.recs) {
		out["NextShardIterator"] = d.iterator(parts[0], s.id, next)
	}
	b, err := json.Marshal(out)
	if err != nil {
		d.t.Errorf("double: %v", err)
	}
	return b, nil
}
