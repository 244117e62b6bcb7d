package exportgen

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// The checks below read exports the way the real reader must (manifest
// first, then every listed file with its md5 and item count), written here
// rather than borrowed, so the generator is tested on its own.

type readFile struct {
	manifestFile
	lines [][]byte
}

type readExport struct {
	summary    map[string]any
	summaryRaw []byte
	files      []readFile
}

func readLines(t *testing.T, gz []byte) [][]byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	br := bufio.NewReader(zr)
	var lines [][]byte
	for {
		l, err := br.ReadBytes('\n')
		if len(l) > 0 {
			if l[len(l)-1] != '\n' {
				t.Fatalf("last line has no newline")
			}
			lines = append(lines, l[:len(l)-1])
		}
		if errors.Is(err, io.EOF) {
			return lines
		}
		if err != nil {
			t.Fatalf("gunzip: %v", err)
		}
	}
}

func checkSidecar(t *testing.T, folder, name string) []byte {
	t.Helper()
	body, err := os.ReadFile(filepath.Join(folder, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	side, err := os.ReadFile(filepath.Join(folder, name+".md5"))
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(body)
	if got := base64.StdEncoding.EncodeToString(sum[:]); string(side) != got {
		t.Errorf("%s.md5 = %q, want %q", name, side, got)
	}
	return body
}

// readBack checks a written export's integrity and returns its content.
// root is the bucket root (dataFileS3Key is relative to it).
func readBack(t *testing.T, root string, w *Written) readExport {
	t.Helper()
	var ex readExport
	ex.summaryRaw = checkSidecar(t, w.Folder, "manifest-summary")
	if err := json.Unmarshal(ex.summaryRaw, &ex.summary); err != nil {
		t.Fatalf("manifest-summary.json: %v", err)
	}
	files := checkSidecar(t, w.Folder, "manifest-files")
	var total int64
	for i, l := range bytes.Split(bytes.TrimSuffix(files, []byte("\n")), []byte("\n")) {
		var f readFile
		dec := json.NewDecoder(bytes.NewReader(l))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&f.manifestFile); err != nil {
			t.Fatalf("manifest-files.json line %d: %v", i+1, err)
		}
		gz, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(f.DataFileS3Key)))
		if err != nil {
			t.Fatalf("data file of manifest line %d: %v", i+1, err)
		}
		sum := md5.Sum(gz)
		if got := base64.StdEncoding.EncodeToString(sum[:]); got != f.MD5Checksum {
			t.Errorf("%s: md5 %s, manifest says %s", f.DataFileS3Key, got, f.MD5Checksum)
		}
		etag := md5.Sum(sum[:])
		if want := hex.EncodeToString(etag[:]) + "-1"; f.ETag != want {
			t.Errorf("%s: etag %s, want %s", f.DataFileS3Key, f.ETag, want)
		}
		f.lines = readLines(t, gz)
		if int64(len(f.lines)) != f.ItemCount {
			t.Errorf("%s: %d lines, manifest says %d", f.DataFileS3Key, len(f.lines), f.ItemCount)
		}
		for j, line := range f.lines {
			var top map[string]json.RawMessage
			if err := json.Unmarshal(line, &top); err != nil || len(top) != 1 || top["Item"] == nil {
				t.Fatalf("%s line %d is not {\"Item\":...}: %v", f.DataFileS3Key, j+1, err)
			}
		}
		if i < len(w.Files) && filepath.Join(root, filepath.FromSlash(f.DataFileS3Key)) != w.Files[i] {
			t.Errorf("Written.Files[%d] = %s, manifest has %s", i, w.Files[i], f.DataFileS3Key)
		}
		total += f.ItemCount
		ex.files = append(ex.files, f)
	}
	if len(ex.files) != len(w.Files) {
		t.Errorf("manifest lists %d files, Written has %d", len(ex.files), len(w.Files))
	}
	if got := int64(ex.summary["itemCount"].(float64)); got != total || got != w.Items {
		t.Errorf("summary itemCount %d, files sum to %d, Written.Items %d", got, total, w.Items)
	}
	return ex
}

func (ex readExport) allLines() [][]byte {
	var out [][]byte
	for _, f := range ex.files {
		out = append(out, f.lines...)
	}
	return out
}

func itemLine(t *testing.T, it ddbitem.Item) []byte {
	b, err := it.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return append(append([]byte(`{"Item":`), b...), '}')
}

func TestWriteExportLayout(t *testing.T) {
	root := t.TempDir()
	cfg := Config{Orders: 300, Files: 4, Seed: 7, Prefix: "exports/orders", EdgeCases: true, BadItems: 9}
	w, err := WriteExport(root, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^\d{14}-[0-9a-f]{8}$`).MatchString(w.ExportID) {
		t.Errorf("export id %q is not AWS-shaped", w.ExportID)
	}
	if want := filepath.Join(root, "exports", "orders", "AWSDynamoDB", w.ExportID); w.Folder != want {
		t.Errorf("folder %s, want %s", w.Folder, want)
	}
	if fi, err := os.Stat(filepath.Join(w.Folder, "_started")); err != nil || fi.Size() != 0 {
		t.Errorf("_started: %v", err)
	}
	if w.S3URL() != "s3://demo-exports/exports/orders/AWSDynamoDB/"+w.ExportID {
		t.Errorf("S3URL %s", w.S3URL())
	}
	ex := readBack(t, root, w)
	if len(ex.files) != 4 {
		t.Fatalf("%d files, want 4", len(ex.files))
	}
	s := ex.summary
	key := "exports/orders/AWSDynamoDB/" + w.ExportID
	want := map[string]any{
		"version": "2020-06-30", "s3Bucket": "demo-exports", "s3Prefix": "exports/orders",
		"s3SseAlgorithm": "AES256", "s3SseKmsKeyId": nil, "outputFormat": "DYNAMODB_JSON",
		"exportType": "FULL_EXPORT", "itemCount": float64(300),
		"manifestFilesS3Key": key + "/manifest-files.json",
		"tableArn":           "arn:aws:dynamodb:us-east-1:123456789012:table/Orders",
		"exportArn":          "arn:aws:dynamodb:us-east-1:123456789012:table/Orders/export/" + w.ExportID,
		"exportTime":         "2024-06-30T12:00:00.000Z",
		"startTime":          "2024-06-30T12:00:00.000Z",
	}
	for k, v := range want {
		if s[k] != v {
			t.Errorf("summary %s = %#v, want %#v", k, s[k], v)
		}
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(s["tableId"].(string)) {
		t.Errorf("tableId %v", s["tableId"])
	}
	end, err := time.Parse(awsTime, s["endTime"].(string))
	if err != nil || !end.After(DefaultExportTime) {
		t.Errorf("endTime %v: %v", s["endTime"], err)
	}
	if s["billedSizeBytes"].(float64) <= 0 {
		t.Errorf("billedSizeBytes %v", s["billedSizeBytes"])
	}
	for _, f := range ex.files {
		if !regexp.MustCompile(`^` + key + `/data/[a-z2-7]{26}\.json\.gz$`).MatchString(f.DataFileS3Key) {
			t.Errorf("data key %s", f.DataFileS3Key)
		}
	}
	// The files hold exactly what Orders yields, in the same order.
	var wantLines [][]byte
	for it := range Orders(cfg) {
		wantLines = append(wantLines, itemLine(t, it))
	}
	got := ex.allLines()
	if len(got) != len(wantLines) {
		t.Fatalf("%d lines, Orders yields %d", len(got), len(wantLines))
	}
	for i := range got {
		if !bytes.Equal(got[i], wantLines[i]) {
			t.Fatalf("line %d differs from Orders:\n%.300s\n%.300s", i+1, got[i], wantLines[i])
		}
	}
}

// Our manifests must have every field a genuine AWS export has, and our
// etag rule must reproduce a genuine etag.
func TestMatchesGenuineExport(t *testing.T) {
	real := "../../pkg/export/testdata/scylla/dynamodb-export/AWSDynamoDB/01715685260608-c488b4e1"
	sumRaw, err := os.ReadFile(filepath.Join(real, "manifest-summary.json"))
	if err != nil {
		t.Skipf("genuine export not available: %v", err)
	}
	var genuine map[string]any
	if err := json.Unmarshal(sumRaw, &genuine); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	w, err := WriteExport(root, Config{Orders: 10, Seed: 1, Prefix: "p"})
	if err != nil {
		t.Fatal(err)
	}
	ex := readBack(t, root, w)
	for k := range genuine {
		if _, ok := ex.summary[k]; !ok {
			t.Errorf("summary lacks genuine field %q", k)
		}
	}
	filesRaw, err := os.ReadFile(filepath.Join(real, "manifest-files.json"))
	if err != nil {
		t.Fatal(err)
	}
	var gf map[string]any
	if err := json.Unmarshal(bytes.TrimSpace(filesRaw), &gf); err != nil {
		t.Fatal(err)
	}
	var of map[string]any
	mf, _ := os.ReadFile(filepath.Join(w.Folder, "manifest-files.json"))
	if err := json.Unmarshal(bytes.SplitN(mf, []byte("\n"), 2)[0], &of); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(sortedKeys(gf), sortedKeys(of)) {
		t.Errorf("manifest-files fields %v, genuine %v", sortedKeys(of), sortedKeys(gf))
	}
	gz, err := os.ReadFile(filepath.Join(real, "..", "..", "..", gf["dataFileS3Key"].(string)))
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(gz)
	etag := md5.Sum(sum[:])
	if got := hex.EncodeToString(etag[:]) + "-1"; got != gf["etag"] {
		t.Errorf("etag rule gives %s for the genuine file, AWS wrote %s", got, gf["etag"])
	}
}

func sortedKeys(m map[string]any) []string {
	k := make([]string, 0, len(m))
	for x := range m {
		k = append(k, x)
	}
	sort.Strings(k)
	return k
}

func TestDeterministic(t *testing.T) {
	cfg := Config{Orders: 400, Files: 3, Seed: 42, Prefix: "x", EdgeCases: true, BadItems: 5}
	a, b := t.TempDir(), t.TempDir()
	wa, err := WriteExport(a, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wb, err := WriteExport(b, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if wa.ExportID != wb.ExportID || wa.Stats != wb.Stats {
		t.Fatalf("runs differ: %+v / %+v", wa, wb)
	}
	n := 0
	err = filepath.WalkDir(a, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(a, p)
		x, _ := os.ReadFile(p)
		y, err := os.ReadFile(filepath.Join(b, rel))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between runs (%v)", rel, err)
		}
		n++
		return nil
	})
	if err != nil || n != 5+3 {
		t.Fatalf("walked %d files: %v", n, err)
	}
	cfg.Seed = 43
	wc, err := WriteExport(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := os.ReadFile(wa.Files[0])
	y, _ := os.ReadFile(wc.Files[0])
	if wc.ExportID == wa.ExportID || bytes.Equal(x, y) {
		t.Error("another seed gave the same export")
	}
	// Any order can be rebuilt alone.
	for it := range Orders(cfg) {
		id := it["orderId"].Str
		var num int
		for _, c := range strings.TrimPrefix(id, "ORD-") {
			num = num*10 + int(c-'0')
		}
		if !bytes.Equal(itemLine(t, Order(cfg, num)), itemLine(t, it)) {
			t.Fatalf("Order(%d) differs from Orders' %s", num, id)
		}
	}
}

// ---- a checker with the sample mapping's conversion rules ----

// fitsNumeric reports whether v (N, or S holding a number) fits numeric(p,s) exactly.
func fitsNumeric(v ddbitem.Value, p, s int) bool {
	if v.Kind != ddbitem.N && v.Kind != ddbitem.S {
		return false
	}
	d, err := ddbitem.ParseNumber(v.Str)
	if err != nil {
		return false
	}
	if d.IsZero() {
		return true
	}
	return d.Exp >= -s && len(d.Digits)+d.Exp <= p-s
}

func fitsInteger(v ddbitem.Value) bool {
	if v.Kind != ddbitem.N && v.Kind != ddbitem.S {
		return false
	}
	d, err := ddbitem.ParseNumber(v.Str)
	if err != nil || !d.IsInteger() {
		return false
	}
	if d.IsZero() {
		return true
	}
	limit := ddbitem.Decimal{Digits: "2147483647"}
	if d.Neg {
		limit = ddbitem.Decimal{Neg: true, Digits: "2147483648"}
		return d.Cmp(limit) >= 0
	}
	return d.Cmp(limit) <= 0
}

func okText(v ddbitem.Value, present bool) bool {
	if !present || v.IsNull() {
		return true
	}
	return (v.Kind == ddbitem.S || v.Kind == ddbitem.N) && !strings.ContainsRune(v.Str, 0)
}

func okTime(v ddbitem.Value, present bool) bool {
	if !present || v.IsNull() {
		return true
	}
	if v.Kind != ddbitem.S {
		return false
	}
	for _, layout := range []string{time.RFC3339Nano, time.DateOnly} {
		if _, err := time.Parse(layout, v.Str); err == nil {
			return true
		}
	}
	return false
}

// loadable applies examples/orders/mapping.yaml's rules (and a products
// table keyed by productId) to an item.
func loadable(it ddbitem.Item) bool {
	c, ok := it["customerId"]
	if !ok || c.IsNull() || !okText(c, true) {
		return false // customers.id is required
	}
	for _, a := range []string{"orderId", "customerName", "customerEmail", "status"} {
		v, ok := it[a]
		if !okText(v, ok) {
			return false
		}
	}
	if v, ok := it["total"]; ok && !v.IsNull() && !fitsNumeric(v, 12, 2) {
		return false
	}
	if v, ok := it["createdAt"]; !okTime(v, ok) {
		return false
	}
	items, ok := it["items"]
	if !ok || items.IsNull() {
		return true
	}
	if items.Kind != ddbitem.L {
		return false
	}
	for _, l := range items.List {
		if l.Kind != ddbitem.M {
			return false
		}
		if p, ok := l.Map["productId"]; !ok || !okText(p, ok) || p.IsNull() {
			return false
		}
		if q, ok := l.Map["quantity"]; ok && !q.IsNull() && !fitsInteger(q) {
			return false
		}
		if p, ok := l.Map["price"]; ok && !p.IsNull() && !fitsNumeric(p, 12, 2) {
			return false
		}
	}
	return true
}

func cents(t *testing.T, v ddbitem.Value) int64 {
	t.Helper()
	d, err := ddbitem.ParseNumber(v.Str)
	if err != nil || d.Exp < -2 {
		t.Fatalf("%v is not money", v)
	}
	var n int64
	for _, c := range d.Digits {
		n = n*10 + int64(c-'0')
	}
	for e := d.Exp + 2; e > 0; e-- {
		n *= 10
	}
	if d.Neg {
		n = -n
	}
	return n
}

func TestBadItemsAndEdgeCases(t *testing.T) {
	cfg := Config{Orders: 600, Files: 3, Seed: 3, EdgeCases: true, BadItems: 18}
	bad := BadOrders(cfg)
	if len(bad) != cfg.BadItems {
		t.Fatalf("BadOrders: %d, want %d", len(bad), cfg.BadItems)
	}
	badIDs := map[string]BadOrder{}
	kinds := map[string]bool{}
	for _, b := range bad {
		badIDs[b.OrderID] = b
		kinds[b.Kind] = true
	}
	if len(kinds) != len(badKinds) {
		t.Errorf("%d bad kinds used, want all %d", len(kinds), len(badKinds))
	}
	edges := map[string]string{}
	for _, e := range EdgeCases() {
		edges[e.OrderID] = e.Name
		if _, ok := badIDs[e.OrderID]; ok {
			t.Errorf("edge case %s is also a bad order", e.Name)
		}
	}
	seen := map[string]bool{}
	rejected := 0
	for it := range Orders(cfg) {
		id := it["orderId"].Str
		seen[id] = true
		b, isBad := badIDs[id]
		if loadable(it) == isBad {
			t.Errorf("%s: loadable=%v but listed as bad=%v (%s); edge case %q\n%.400s", id, !isBad, isBad, b.Kind, edges[id], it)
		}
		if !isBad {
			continue
		}
		rejected++
		// Each bad kind breaks the column it names.
		switch b.Column {
		case "name":
			if !strings.ContainsRune(it["customerName"].Str, 0) {
				t.Errorf("%s: no NUL in name", id)
			}
		case "id":
			if _, ok := it["customerId"]; ok {
				t.Errorf("%s: customerId present", id)
			}
		case "total":
			if fitsNumeric(it["total"], 12, 2) {
				t.Errorf("%s: total fits", id)
			}
		case "created_at":
			if okTime(it["createdAt"], true) {
				t.Errorf("%s: createdAt parses", id)
			}
		case "quantity":
			if fitsInteger(it["items"].List[0].Map["quantity"]) {
				t.Errorf("%s: quantity fits", id)
			}
		case "price_at_purchase":
			if fitsNumeric(it["items"].List[0].Map["price"], 12, 2) {
				t.Errorf("%s: price fits", id)
			}
		default:
			t.Errorf("%s: unknown column %s", id, b.Column)
		}
	}
	if rejected != cfg.BadItems || len(seen) != cfg.Orders {
		t.Errorf("%d rejected of %d distinct orders", rejected, len(seen))
	}
	for id := range edges {
		if !seen[id] {
			t.Errorf("edge case %s missing", id)
		}
	}

	// Spot checks of what the edge cases promise.
	byName := map[string]ddbitem.Item{}
	for i, e := range EdgeCases() {
		byName[e.Name] = Order(cfg, i+1)
	}
	if v := byName["null-items"]["items"]; v.Kind != ddbitem.NULL {
		t.Errorf("null-items: %v", v)
	}
	if _, ok := byName["missing-items"]["items"]; ok {
		t.Error("missing-items has items")
	}
	if v := byName["empty-items"]["items"]; v.Kind != ddbitem.L || len(v.List) != 0 {
		t.Errorf("empty-items: %v", v)
	}
	d, _ := ddbitem.ParseNumber(byName["big-numbers"]["maxCounter"].Str)
	if len(d.Digits) != 38 {
		t.Errorf("big-numbers: %d digits", len(d.Digits))
	}
	if n := len(byName["long-notes"]["notes"].Str); n < 100*1000 || n > 100*1024 {
		t.Errorf("long-notes: %d bytes", n)
	}
	if s := itemSize(byName["max-size-item"]); s > maxItemBytes || s < maxItemBytes-4096 {
		t.Errorf("max-size-item: %d bytes", s)
	}
	if n := len(byName["many-lines"]["items"].List); n != 250 {
		t.Errorf("many-lines: %d", n)
	}
	v := byName["deep-nesting"]["metadata"]
	for i := 1; i <= 5; i++ {
		v = v.Map["level"+string(rune('0'+i))]
	}
	if v.Map["value"].Str != "deep" {
		t.Errorf("deep-nesting: %v", byName["deep-nesting"]["metadata"])
	}
	if byName["binary-and-sets"]["signature"].Kind != ddbitem.B || byName["binary-and-sets"]["attachments"].Kind != ddbitem.BS {
		t.Error("binary-and-sets lacks B/BS")
	}
	if byName["exponent-numbers"]["loyaltyPoints"].Str != "1E+2" {
		t.Error("exponent-numbers")
	}
}

func TestConsistency(t *testing.T) {
	cfg := Config{Orders: 3000, Files: 2, Seed: 9, EdgeCases: true, BadItems: 9}
	bad := map[string]bool{}
	for _, b := range BadOrders(cfg) {
		bad[b.OrderID] = true
	}
	type person struct{ name, email string }
	customers := map[string]person{}
	products := map[string]string{}
	var st Stats
	for it := range Orders(cfg) {
		st.Items++
		id := it["orderId"].Str
		if bad[id] {
			st.Rejected++
			continue
		}
		st.Orders++
		c := it["customerId"].Str
		p := person{it["customerName"].Str, it["customerEmail"].Str}
		if old, ok := customers[c]; ok && old != p {
			t.Errorf("%s: customer %s is %v here, %v elsewhere", id, c, p, old)
		}
		customers[c] = p
		var sum int64
		for _, l := range it["items"].List {
			pid, name := l.Map["productId"].Str, l.Map["productName"].Str
			if old, ok := products[pid]; ok && old != name {
				t.Errorf("%s: product %s is %q here, %q elsewhere", id, pid, name, old)
			}
			products[pid] = name
			q := cents(t, l.Map["quantity"]) / 100
			sum += q * cents(t, l.Map["price"])
			st.OrderItems++
		}
		total := it["total"]
		if got := cents(t, total); got != sum {
			t.Errorf("%s: total %s, lines sum to %s", id, total.Str, money(sum))
		}
		if i := strings.IndexByte(total.Str, '.'); i < 0 || len(total.Str)-i != 3 {
			t.Errorf("%s: total %q has not exactly two decimals", id, total.Str)
		}
	}
	st.Customers, st.Products = int64(len(customers)), int64(len(products))
	got, err := Count(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got != st {
		t.Errorf("Count = %+v, counted %+v", got, st)
	}
	w, err := WriteExport(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if w.Stats != st {
		t.Errorf("Written.Stats = %+v, counted %+v", w.Stats, st)
	}
}

func TestDistribution(t *testing.T) {
	cfg := Config{Orders: 20000, Seed: 1}
	st, err := Count(cfg)
	if err != nil {
		t.Fatal(err)
	}
	perOrder := float64(st.Rows()) / float64(st.Items)
	if perOrder < 3.6 || perOrder > 4.6 {
		t.Errorf("%.2f rows per order (%+v), want about 4", perOrder, st)
	}
	hist := make([]int, 9)
	statuses := map[string]int{}
	for it := range Orders(cfg) {
		n := len(it["items"].List)
		if n < 1 || n > 8 {
			t.Fatalf("%d lines", n)
		}
		hist[n]++
		statuses[it["status"].Str]++
	}
	if !(hist[1] > hist[3] && hist[3] > hist[8] && hist[8] > 0) {
		t.Errorf("lines per order not skewed: %v", hist)
	}
	for _, s := range []string{"PENDING", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"} {
		if statuses[s] == 0 {
			t.Errorf("no %s order: %v", s, statuses)
		}
	}
}

func TestWriteExportFromItems(t *testing.T) {
	root := t.TempDir()
	items := []ddbitem.Item{}
	for i := range 5 {
		items = append(items, ddbitem.Item{"orderId": ddbitem.Str(OrderID(i + 1)), "n": ddbitem.Num("1")})
	}
	w, err := WriteExportFromItems(root, ExportOptions{ItemsPerFile: 2, Seed: 5}, slices.Values(items))
	if err != nil {
		t.Fatal(err)
	}
	ex := readBack(t, root, w)
	var counts []int64
	for _, f := range ex.files {
		counts = append(counts, f.ItemCount)
		if !strings.HasPrefix(f.DataFileS3Key, "AWSDynamoDB/"+w.ExportID+"/data/") {
			t.Errorf("key %s", f.DataFileS3Key)
		}
	}
	if !slices.Equal(counts, []int64{2, 2, 1}) {
		t.Errorf("item counts %v", counts)
	}
	if ex.summary["s3Prefix"] != nil || w.Prefix != "" {
		t.Errorf("s3Prefix %v, want null", ex.summary["s3Prefix"])
	}
	for i, l := range ex.allLines() {
		if !bytes.Equal(l, itemLine(t, items[i])) {
			t.Errorf("line %d: %s", i+1, l)
		}
	}

	empty, err := WriteExportFromItems(t.TempDir(), ExportOptions{ExportID: "01700000000000-00000000"}, slices.Values([]ddbitem.Item(nil)))
	if err != nil {
		t.Fatal(err)
	}
	if empty.Items != 0 || len(empty.Files) != 1 || empty.ExportID != "01700000000000-00000000" {
		t.Errorf("empty export: %+v", empty)
	}
}

func TestWriteExportFromLines(t *testing.T) {
	root := t.TempDir()
	lines := [][]byte{[]byte(`{"Item":{"id":{"S":"a"}}}`), []byte(`not json`), []byte(`{"Item":{"id":{"X":"?"}}}`)}
	w, err := WriteExportFromLines(root, ExportOptions{Prefix: "/bad/"}, slices.Values(lines))
	if err == nil && w.Prefix != "bad" {
		t.Errorf("prefix %q", w.Prefix)
	}
	if err != nil {
		t.Fatal(err)
	}
	var m manifestFile
	mf, _ := os.ReadFile(filepath.Join(w.Folder, "manifest-files.json"))
	if err := json.Unmarshal(bytes.TrimSpace(mf), &m); err != nil || m.ItemCount != 3 {
		t.Fatalf("manifest %s: %v", mf, err)
	}
	gz, _ := os.ReadFile(w.Files[0])
	if got := readLines(t, gz); !slices.EqualFunc(got, lines, bytes.Equal) {
		t.Errorf("lines %q", got)
	}
}

func TestValidate(t *testing.T) {
	if _, err := WriteExport(t.TempDir(), Config{Orders: 10, EdgeCases: true}); err == nil {
		t.Error("10 orders cannot hold the edge cases")
	}
	if _, err := WriteExport(t.TempDir(), Config{Orders: 3, BadItems: 4}); err == nil {
		t.Error("BadItems above Orders accepted")
	}
	w, err := WriteExport(t.TempDir(), Config{Orders: 2, Files: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Files) != 4 || w.Items != 2 {
		t.Errorf("more files than orders: %+v", w)
	}
}

// The tests' mapping is the example's, bar the source table.
func TestMappingYAMLIsTheExample(t *testing.T) {
	t.Parallel()
	ex, err := mapping.Load("../../examples/orders/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	got, err := mapping.Parse("test.yaml", []byte(MappingYAML(ex.Source.Table)))
	if err != nil {
		t.Fatal(err)
	}
	if got.Fingerprint() != ex.Fingerprint() {
		t.Errorf("MappingYAML differs from examples/orders/mapping.yaml")
	}
}
