package export

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
)

const (
	scyllaDir  = "testdata/scylla/dynamodb-export/AWSDynamoDB/01715685260608-c488b4e1"
	scyllaData = "dynamodb-export/AWSDynamoDB/01715685260608-c488b4e1/data/uimbi7eofu2b5kzkxe63gsvb6i.json.gz"
	awslabsDir = "testdata/awslabs/unicornactiviti-data-export/AWSDynamoDB/01716791487000-6ddcf8cf"
)

// readAll reads every file of e, returning the lines per file key.
func readAll(t *testing.T, e *Export) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, f := range e.Files() {
		var want int64
		err := e.ReadFile(context.Background(), f, func(line int64, data []byte) error {
			want++
			if line != want {
				return fmt.Errorf("line numbers: got %d, want %d", line, want)
			}
			out[f.Key] = append(out[f.Key], string(data))
			return nil
		})
		if err != nil {
			t.Fatalf("ReadFile(%s): %v", f.Key, err)
		}
	}
	return out
}

func TestOpenRealFullExport(t *testing.T) {
	t.Parallel()
	e, err := Open(context.Background(), scyllaDir)
	if err != nil {
		t.Fatal(err)
	}
	s := e.Summary()
	if e.ID() != "01715685260608-c488b4e1" || e.Format() != FormatDynamoDBJSON || e.Incremental() ||
		s.Version != VersionFull || s.ItemCount != 3 || s.S3Bucket != "test-bucket" || s.S3Prefix != "dynamodb-export" ||
		s.TableARN != "arn:aws:dynamodb:eu-central-1:164221962816:table/S3ExportTest" {
		t.Fatalf("summary %+v", s)
	}
	if want := time.Date(2024, 5, 14, 11, 14, 20, 608e6, time.UTC); !e.ExportTime().Equal(want) {
		t.Fatalf("export time %v, want %v", e.ExportTime(), want)
	}
	files := e.Files()
	want := DataFile{Key: scyllaData, ItemCount: 3, MD5: "rzAeIrtALbOlNdK5Hh8tgA==", ETag: "d1663e415aedcbf3c4977cde7002d2bf-1", Index: 0}
	if len(files) != 1 || files[0] != want {
		t.Fatalf("files %+v", files)
	}
	lines := readAll(t, e)[scyllaData]
	if len(lines) != 3 || lines[0] != `{"Item":{"id":{"S":"bar"},"baz":{"N":"0"}}}` {
		t.Fatalf("lines %q", lines)
	}
	for _, l := range lines {
		rec, err := ddbjson.DecodeExportLine([]byte(l))
		if err != nil || rec.Incremental || rec.Item["id"].Kind != ddbitem.S {
			t.Fatalf("%s: %+v %v", l, rec, err)
		}
	}
}

func TestOpenRealIncrementalExport(t *testing.T) {
	t.Parallel()
	e, err := Open(context.Background(), awslabsDir)
	if err != nil {
		t.Fatal(err)
	}
	s := e.Summary()
	if e.ID() != "01716791487000-6ddcf8cf" || !e.Incremental() || s.Version != VersionIncremental ||
		s.OutputView != "NEW_AND_OLD_IMAGES" || s.ExportType != TypeIncremental || s.S3Prefix != "" {
		t.Fatalf("summary %+v", s)
	}
	if want := time.Date(2024, 5, 27, 6, 26, 47, 109e6, time.UTC); !e.ExportTime().Equal(want) {
		t.Fatalf("export time %v, want exportToTime %v", e.ExportTime(), want)
	}
	if !s.ExportFromTime.Equal(time.Date(2024, 5, 27, 6, 11, 47, 109e6, time.UTC)) {
		t.Fatalf("exportFromTime %v", s.ExportFromTime)
	}
	files := e.Files()
	if len(files) != 4 || files[1].Key != "AWSDynamoDB/data/dkanuako6yzejhpq4cc634xsum.json.gz" || files[1].ItemCount != 7 || files[3].Index != 3 {
		t.Fatalf("files %+v", files)
	}
	total := 0
	for key, lines := range readAll(t, e) {
		for _, l := range lines {
			rec, err := ddbjson.DecodeExportLine([]byte(l))
			if err != nil || !rec.Incremental || rec.WriteTimeMicros == 0 || rec.Keys == nil {
				t.Fatalf("%s: %+v %v", key, rec, err)
			}
			total++
		}
	}
	if total != 15 {
		t.Fatalf("%d records, want 15", total)
	}
}

func TestOpenForms(t *testing.T) {
	t.Parallel()
	abs, _ := filepath.Abs(scyllaDir)
	for _, uri := range []string{
		scyllaDir + "/",
		scyllaDir + "/manifest-summary.json",
		"file://" + abs,
	} {
		e, err := Open(context.Background(), uri)
		if err != nil {
			t.Fatalf("%s: %v", uri, err)
		}
		if len(readAll(t, e)[scyllaData]) != 3 {
			t.Fatalf("%s: wrong lines", uri)
		}
	}
	_, err := Open(context.Background(), filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing folder: %v", err)
	}
	_, err = Open(context.Background(), t.TempDir())
	var me *ManifestError
	if !errors.As(err, &me) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "manifest-summary.json") {
		t.Fatalf("folder without summary: %v", err)
	}
}

// copyTree copies src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A copy of only the export folder (as `aws s3 cp --recursive` of it makes)
// is read by matching trailing path elements, even renamed.
func TestOpenRelocatedFolder(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"01715685260608-c488b4e1", "renamed"} {
		dst := filepath.Join(t.TempDir(), name)
		copyTree(t, scyllaDir, dst)
		e, err := Open(context.Background(), dst)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := readAll(t, e)[scyllaData]; len(got) != 3 {
			t.Fatalf("%s: %q", name, got)
		}
	}

	// An incremental export's data lives outside its folder: copying the
	// folder alone cannot work, and the error says which key is missing.
	dst := filepath.Join(t.TempDir(), "01716791487000-6ddcf8cf")
	copyTree(t, awslabsDir, dst)
	e, err := Open(context.Background(), dst)
	if err != nil {
		t.Fatal(err)
	}
	f := e.Files()[0]
	err = e.ReadFile(context.Background(), f, func(int64, []byte) error { return nil })
	var fe *FileError
	if !errors.As(err, &fe) || fe.File != f.Key || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v", err)
	}

	// Renaming the folder breaks nothing either when the layout from the
	// root is kept.
	root := t.TempDir()
	copyTree(t, "testdata/awslabs", root)
	e, err = Open(context.Background(), filepath.Join(root, "unicornactiviti-data-export/AWSDynamoDB/01716791487000-6ddcf8cf"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readAll(t, e)); n != 4 {
		t.Fatalf("%d files read", n)
	}
}

// testExport writes a full export of the given data files (lines each)
// below a temporary bucket root and returns the export folder.
type testFile struct {
	name  string // under data/
	lines []string
	raw   []byte // gz bytes as written; nil: gzip of lines
}

const testID = "01700000000000-abcdef12"

func writeTestExport(t testing.TB, files []testFile, tamper func(summary map[string]any, manifest []map[string]any)) string {
	t.Helper()
	root := t.TempDir()
	dirKey := "pre/fix/AWSDynamoDB/" + testID
	dir := filepath.Join(root, filepath.FromSlash(dirKey))
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	var manifest []map[string]any
	total := 0
	for _, f := range files {
		raw := f.raw
		if raw == nil {
			raw = gz(t, strings.Join(f.lines, "\n")+"\n")
		}
		key := dirKey + "/data/" + f.name
		if err := os.WriteFile(filepath.Join(root, filepath.FromSlash(key)), raw, 0o644); err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum(raw)
		manifest = append(manifest, map[string]any{
			"itemCount": len(f.lines), "md5Checksum": base64.StdEncoding.EncodeToString(sum[:]),
			"etag": hex.EncodeToString(sum[:]), "dataFileS3Key": key,
		})
		total += len(f.lines)
	}
	summary := map[string]any{
		"version": VersionFull, "exportArn": "arn:aws:dynamodb:eu-west-1:123456789012:table/Orders/export/" + testID,
		"exportTime": "2024-01-02T03:04:05.678Z", "s3Bucket": "bkt", "s3Prefix": "pre/fix",
		"manifestFilesS3Key": dirKey + "/manifest-files.json", "itemCount": total, "outputFormat": FormatDynamoDBJSON,
		"exportType": TypeFull,
	}
	if tamper != nil {
		tamper(summary, manifest)
	}
	var mf bytes.Buffer
	for _, m := range manifest {
		mf.Write(mustJSON(t, m))
		mf.WriteByte('\n')
	}
	write(t, filepath.Join(dir, "manifest-files.json"), mf.Bytes())
	write(t, filepath.Join(dir, "manifest-summary.json"), mustJSON(t, summary))
	return dir
}

func gz(t testing.TB, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := io.WriteString(w, s); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func write(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func openOK(t *testing.T, dir string) *Export {
	t.Helper()
	e, err := Open(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func readOne(e *Export, fn func(int64, []byte) error) error {
	if fn == nil {
		fn = func(int64, []byte) error { return nil }
	}
	for _, f := range e.Files() {
		if err := e.ReadFile(context.Background(), f, fn); err != nil {
			return err
		}
	}
	return nil
}

var items = []string{
	`{"Item":{"id":{"S":"a"}}}`,
	`{"Item":{"id":{"S":"b"}}}`,
	`{"Item":{"id":{"S":"c"}}}`,
}

func dataKey(name string) string { return "pre/fix/AWSDynamoDB/" + testID + "/data/" + name }

func TestReadFileTruncatedGzip(t *testing.T) {
	t.Parallel()
	raw := gz(t, strings.Repeat(items[0]+"\n", 2000))
	dir := writeTestExport(t, []testFile{{name: "t.json.gz", lines: make([]string, 2000), raw: raw[:len(raw)/2]}}, nil)
	err := readOne(openOK(t, dir), nil)
	var fe *FileError
	if !errors.As(err, &fe) || fe.File != dataKey("t.json.gz") || !errors.Is(err, ErrTruncated) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "truncated gzip") || !strings.HasPrefix(err.Error(), "export file "+dataKey("t.json.gz")+" line ") {
		t.Fatalf("message %q", err)
	}
}

func TestReadFileChecksumMismatch(t *testing.T) {
	t.Parallel()
	dir := writeTestExport(t, []testFile{{name: "c.json.gz", lines: items}}, nil)
	// Same lines, different compressed bytes: the md5 is of the object.
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.NoCompression)
	io.WriteString(w, strings.Join(items, "\n")+"\n")
	w.Close()
	write(t, filepath.Join(dir, "data", "c.json.gz"), b.Bytes())
	err := readOne(openOK(t, dir), nil)
	var ce *ChecksumError
	if !errors.Is(err, ErrChecksum) || !errors.As(err, &ce) {
		t.Fatalf("got %v", err)
	}
	sum := md5.Sum(b.Bytes())
	if ce.Got != base64.StdEncoding.EncodeToString(sum[:]) || ce.Expected == ce.Got {
		t.Fatalf("checksum error %+v", ce)
	}
	if want := "export file " + dataKey("c.json.gz") + ": md5 checksum mismatch: expected "; !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("message %q", err)
	}
}

func TestReadFileMissing(t *testing.T) {
	t.Parallel()
	dir := writeTestExport(t, []testFile{{name: "m.json.gz", lines: items}}, nil)
	os.Remove(filepath.Join(dir, "data", "m.json.gz"))
	err := readOne(openOK(t, dir), nil)
	var nf *NotFoundError
	var fe *FileError
	if !errors.As(err, &nf) || !errors.As(err, &fe) || fe.File != dataKey("m.json.gz") || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "not found") {
		t.Fatalf("message %q", err)
	}
}

func TestReadFileItemCount(t *testing.T) {
	t.Parallel()
	dir := writeTestExport(t, []testFile{{name: "n.json.gz", lines: items}}, func(s map[string]any, m []map[string]any) {
		m[0]["itemCount"] = 4
		s["itemCount"] = 4
	})
	err := readOne(openOK(t, dir), nil)
	var ie *ItemCountError
	if !errors.Is(err, ErrItemCount) || !errors.As(err, &ie) || ie.Manifest != 4 || ie.Got != 3 {
		t.Fatalf("got %v", err)
	}
	if want := "export file " + dataKey("n.json.gz") + ": item count mismatch: manifest says 4, lines read 3"; err.Error() != want {
		t.Fatalf("message %q, want %q", err, want)
	}
}

func TestOpenSumMismatch(t *testing.T) {
	t.Parallel()
	dir := writeTestExport(t, []testFile{{name: "a.json.gz", lines: items}, {name: "b.json.gz", lines: items[:1]}}, func(s map[string]any, _ []map[string]any) {
		s["itemCount"] = 5
	})
	_, err := Open(context.Background(), dir)
	var me *ManifestError
	var ie *ItemCountError
	if !errors.As(err, &me) || !errors.Is(err, ErrItemCount) || !errors.As(err, &ie) || ie.Manifest != 5 || ie.Got != 4 {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "manifest-files.json") {
		t.Fatalf("message %q", err)
	}
}

func TestReadFileWithDecoderNamesFileAndLine(t *testing.T) {
	t.Parallel()
	lines := []string{items[0], `{"Item":{"id":{"S":"b"},"price":{"N":"12,5"}}}`, items[2]}
	dir := writeTestExport(t, []testFile{{name: "d.json.gz", lines: lines}}, nil)
	err := readOne(openOK(t, dir), func(_ int64, data []byte) error {
		_, err := ddbjson.DecodeExportLine(data)
		return err
	})
	var de *ddbjson.DecodeError
	var fe *FileError
	if !errors.As(err, &de) || !errors.As(err, &fe) || fe.Line != 2 {
		t.Fatalf("got %v", err)
	}
	want := "export file " + dataKey("d.json.gz") + ` line 2: dynamodb json: attribute Item.price: invalid number: "12,5" is not a number: unexpected ",5"`
	if err.Error() != want {
		t.Fatalf("got  %s\nwant %s", err, want)
	}
	// Not JSON at all.
	dir = writeTestExport(t, []testFile{{name: "e.json.gz", lines: []string{items[0], "not json"}}}, nil)
	err = readOne(openOK(t, dir), func(_ int64, data []byte) error {
		_, err := ddbjson.DecodeExportLine(data)
		return err
	})
	if !errors.As(err, &fe) || fe.Line != 2 || !strings.Contains(err.Error(), "line 2: dynamodb json") {
		t.Fatalf("got %v", err)
	}
}

func TestReadFileLines(t *testing.T) {
	t.Parallel()
	// CRLF endings, an empty line in the middle, no final newline: the
	// empty line is skipped but counted in line numbers.
	content := items[0] + "\r\n\n" + items[1] + "\n" + items[2]
	dir := writeTestExport(t, []testFile{{name: "l.json.gz", lines: items, raw: gz(t, content)}}, nil)
	var got []string
	err := readOne(openOK(t, dir), func(line int64, data []byte) error {
		got = append(got, fmt.Sprintf("%d:%s", line, data))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"1:" + items[0], "3:" + items[1], "4:" + items[2]}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q", got)
	}

	// fn's error comes back with file and line.
	boom := errors.New("boom")
	err = readOne(openOK(t, dir), func(line int64, _ []byte) error {
		if line == 3 {
			return boom
		}
		return nil
	})
	var fe *FileError
	if !errors.Is(err, boom) || !errors.As(err, &fe) || fe.Line != 3 || err.Error() != "export file "+dataKey("l.json.gz")+" line 3: boom" {
		t.Fatalf("got %v", err)
	}
}

func TestReadFileLongLines(t *testing.T) {
	t.Parallel()
	// A 3 MiB line is fine (longer than the reader's buffer); one over
	// MaxLineBytes is refused, naming its line.
	big := `{"Item":{"id":{"S":"` + strings.Repeat("x", 3<<20) + `"}}}`
	dir := writeTestExport(t, []testFile{{name: "b.json.gz", lines: []string{items[0], big, items[1]}}}, nil)
	var sizes []int
	err := readOne(openOK(t, dir), func(_ int64, data []byte) error {
		sizes = append(sizes, len(data))
		return nil
	})
	if err != nil || len(sizes) != 3 || sizes[1] != len(big) {
		t.Fatalf("got %v %v", sizes, err)
	}

	huge := strings.Repeat("y", MaxLineBytes+1)
	dir = writeTestExport(t, []testFile{{name: "h.json.gz", lines: []string{items[0], huge}}}, nil)
	err = readOne(openOK(t, dir), nil)
	var fe *FileError
	if !errors.Is(err, ErrLineTooLong) || !errors.As(err, &fe) || fe.Line != 2 {
		t.Fatalf("got %v", err)
	}
}

func TestReadFileNotGzip(t *testing.T) {
	t.Parallel()
	for name, raw := range map[string][]byte{"plain": []byte(items[0] + "\n"), "empty": {}} {
		dir := writeTestExport(t, []testFile{{name: "p.json.gz", lines: items[:1], raw: raw}}, nil)
		err := readOne(openOK(t, dir), nil)
		var fe *FileError
		if !errors.As(err, &fe) || fe.File != dataKey("p.json.gz") {
			t.Fatalf("%s: got %v", name, err)
		}
	}
	// A corrupted byte in the middle of the deflate stream.
	raw := gz(t, strings.Repeat(items[0]+"\n", 1000))
	raw[len(raw)/2] ^= 0xff
	dir := writeTestExport(t, []testFile{{name: "x.json.gz", lines: make([]string, 1000), raw: raw}}, nil)
	if err := readOne(openOK(t, dir), nil); err == nil {
		t.Fatal("corrupt gzip accepted")
	}
}

func TestReadFileCanceled(t *testing.T) {
	t.Parallel()
	lines := make([]string, 10000)
	for i := range lines {
		lines[i] = items[0]
	}
	dir := writeTestExport(t, []testFile{{name: "c.json.gz", lines: lines}}, nil)
	e := openOK(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	err := e.ReadFile(ctx, e.Files()[0], func(line int64, _ []byte) error {
		if line == 10 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

func TestSidecars(t *testing.T) {
	t.Parallel()
	dir := writeTestExport(t, []testFile{{name: "s.json.gz", lines: items}}, nil)
	sumOf := func(name string) [16]byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		return md5.Sum(b)
	}
	s, f := sumOf("manifest-summary.json"), sumOf("manifest-files.json")
	// Good sidecars in both forms and both names.
	write(t, filepath.Join(dir, "manifest-summary.checksum"), []byte(hex.EncodeToString(s[:])+"\n"))
	write(t, filepath.Join(dir, "manifest-summary.md5"), []byte(base64.StdEncoding.EncodeToString(s[:])))
	write(t, filepath.Join(dir, "manifest-files.checksum"), []byte(strings.ToUpper(hex.EncodeToString(f[:]))))
	write(t, filepath.Join(dir, "manifest-files.md5"), []byte(base64.StdEncoding.EncodeToString(f[:])))
	openOK(t, dir)

	// A wrong one.
	write(t, filepath.Join(dir, "manifest-files.md5"), []byte(base64.StdEncoding.EncodeToString(s[:])))
	_, err := Open(context.Background(), dir)
	var me *ManifestError
	if !errors.Is(err, ErrChecksum) || !errors.As(err, &me) || !strings.Contains(err.Error(), "manifest-files.md5") {
		t.Fatalf("got %v", err)
	}
	// Garbage.
	write(t, filepath.Join(dir, "manifest-files.md5"), []byte("hello"))
	if _, err := Open(context.Background(), dir); err == nil || !strings.Contains(err.Error(), "not an md5") {
		t.Fatalf("got %v", err)
	}
	write(t, filepath.Join(dir, "manifest-files.md5"), []byte(base64.StdEncoding.EncodeToString(f[:])))
	write(t, filepath.Join(dir, "manifest-summary.checksum"), []byte("00000000000000000000000000000000"))
	if _, err := Open(context.Background(), dir); !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "manifest-summary.checksum") {
		t.Fatalf("got %v", err)
	}
}

func TestOpenBadManifests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		tamper   func(s map[string]any, m []map[string]any)
		contains string
	}{
		{"unknown version", func(s map[string]any, _ []map[string]any) { s["version"] = "2099-01-01" }, `unsupported manifest version "2099-01-01"`},
		{"unknown format", func(s map[string]any, _ []map[string]any) { s["outputFormat"] = "CSV" }, `unsupported outputFormat "CSV"`},
		{"no item count", func(s map[string]any, _ []map[string]any) { delete(s, "itemCount") }, `no itemCount`},
		{"no export time", func(s map[string]any, _ []map[string]any) { delete(s, "exportTime") }, `without exportTime`},
		{"bad arn", func(s map[string]any, _ []map[string]any) { s["exportArn"] = "arn:aws:dynamodb:x" }, `does not name an export`},
		{"file without key", func(_ map[string]any, m []map[string]any) { delete(m[0], "dataFileS3Key") }, `line 1: no dataFileS3Key`},
		{"file without count", func(_ map[string]any, m []map[string]any) { delete(m[1], "itemCount") }, `line 2: ` + dataKey("b") + `: no itemCount`},
		{"file listed twice", func(_ map[string]any, m []map[string]any) { m[1]["dataFileS3Key"] = dataKey("a") }, `line 2: ` + dataKey("a") + ` listed twice (also on line 1)`},
		{"manifest key missing", func(s map[string]any, _ []map[string]any) {
			s["manifestFilesS3Key"] = "pre/fix/AWSDynamoDB/" + testID + "/other.json"
		}, `not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := writeTestExport(t, []testFile{{name: "a", lines: items}, {name: "b", lines: items}}, tt.tamper)
			_, err := Open(context.Background(), dir)
			var me *ManifestError
			if !errors.As(err, &me) || !strings.Contains(err.Error(), tt.contains) {
				t.Fatalf("got %v, want it to contain %q", err, tt.contains)
			}
		})
	}
}

func TestRaidoIONManifests(t *testing.T) {
	t.Parallel()
	sb, err := os.ReadFile("testdata/raido-ion-manifest-summary.pretty.json")
	if err != nil {
		t.Fatal(err)
	}
	fb, err := os.ReadFile("testdata/raido-ion-manifest-files.pretty.json")
	if err != nil {
		t.Fatal(err)
	}
	s, files, err := ParseManifest(sb, fb)
	if err != nil {
		t.Fatal(err)
	}
	if s.OutputFormat != FormatION || s.ID() != "01658105838782-e79094f8" || s.Incremental() ||
		len(files) != 1 || files[0].ItemCount != 14465 || !strings.HasSuffix(files[0].Key, ".ion.gz") {
		t.Fatalf("%+v %+v", s, files)
	}
}

func TestOpenStoreUnderPrefix(t *testing.T) {
	t.Parallel()
	// The awslabs bucket copied under another prefix of a store: keys are
	// relocated from the manifests' root to the new one.
	root := t.TempDir()
	copyTree(t, "testdata/awslabs/unicornactiviti-data-export", filepath.Join(root, "backup/2024"))
	e, err := OpenStore(context.Background(), LocalStore{Root: root}, "backup/2024/AWSDynamoDB/01716791487000-6ddcf8cf/")
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readAll(t, e)); n != 4 {
		t.Fatalf("%d files", n)
	}
}

func TestLocalStoreConfined(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	inner := filepath.Join(root, "inner")
	os.MkdirAll(inner, 0o755)
	write(t, filepath.Join(root, "secret"), []byte("x"))
	if _, err := (LocalStore{Root: inner}).Open(context.Background(), "../secret"); err == nil {
		t.Fatal("escaped the root")
	}
	_, err := (LocalStore{Root: inner}).Open(context.Background(), "missing")
	var nf *NotFoundError
	if !errors.As(err, &nf) || nf.Key != "missing" {
		t.Fatalf("got %v", err)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
