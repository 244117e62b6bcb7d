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
	"fmt"
	"hash"
	"io"
	"iter"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// ExportOptions describe the export folder around caller-supplied items.
// Zero fields take the same defaults as Config.
type ExportOptions struct {
	Bucket     string    // s3Bucket (default DefaultBucket)
	Prefix     string    // s3Prefix ("" for none)
	Table      string    // table name in the ARNs (default DefaultTable)
	Region     string    // default DefaultRegion
	Account    string    // default DefaultAccount
	ExportTime time.Time // default DefaultExportTime
	// Seed decides the export id's suffix, the table id and the data file
	// names.
	Seed int64
	// ExportID overrides the generated id (AWS's form: 14-digit epoch
	// milliseconds, a dash, 8 hex digits).
	ExportID string
	// ItemsPerFile starts a new data file after this many items (0: one
	// file holds everything).
	ItemsPerFile int
	// Format is the export's outputFormat: "DYNAMODB_JSON" (default, also
	// for "") or "ION" (data files .ion.gz; see ion.go).
	Format string
}

func (o ExportOptions) normalized() ExportOptions {
	if o.Bucket == "" {
		o.Bucket = DefaultBucket
	}
	if o.Table == "" {
		o.Table = DefaultTable
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if o.Account == "" {
		o.Account = DefaultAccount
	}
	if o.ExportTime.IsZero() {
		o.ExportTime = DefaultExportTime
	}
	o.ExportTime = o.ExportTime.UTC()
	o.Prefix = strings.Trim(o.Prefix, "/")
	if o.ExportID == "" {
		o.ExportID = fmt.Sprintf("%014d-%08x", o.ExportTime.UnixMilli(), seeded(o.Seed, tagFiles, -1).Uint32())
	}
	return o
}

// Written describes an export folder on disk.
type Written struct {
	Folder   string   // <dir>/<prefix>/AWSDynamoDB/<exportId>: what backfill --export takes
	ExportID string   // e.g. 01719748800000-1a2b3c4d
	Items    int64    // itemCount of the summary
	Files    []string // local paths of the data files, in manifest order
	Bucket   string   // s3Bucket recorded in the summary
	Prefix   string   // s3Prefix recorded in the summary ("" when null)
	// Stats is what the sample mapping should load; WriteExport only.
	Stats Stats
}

// S3URL is the export's address once dir has been uploaded to the root of
// Bucket: s3://<bucket>/<prefix>/AWSDynamoDB/<exportId>.
func (w *Written) S3URL() string {
	return "s3://" + w.Bucket + "/" + exportKey(w.Prefix, w.ExportID)
}

func exportKey(prefix, id string) string {
	if prefix == "" {
		return "AWSDynamoDB/" + id
	}
	return prefix + "/AWSDynamoDB/" + id
}

// WriteExport writes cfg's export under dir, which stands for the bucket
// root, exactly as AWS lays out a full export:
//
//	<dir>/<prefix>/AWSDynamoDB/<exportId>/_started
//	                                     /manifest-summary.json, manifest-summary.md5
//	                                     /manifest-files.json, manifest-files.md5
//	                                     /data/<26 base32 chars>.json.gz
//
// Data files are written in parallel (each is an independent range of
// export positions) and streamed through gzip: memory does not grow with
// the export. The manifests come last, as with AWS, so a folder with a
// manifest-summary.json is complete. Existing files of the same names are
// overwritten.
func WriteExport(dir string, cfg Config) (*Written, error) {
	return writeExport(dir, cfg, "") // ION: WriteExportION in ion.go
}

func writeExport(dir string, cfg Config, format string) (*Written, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := newGen(cfg)
	cfg = g.cfg
	l, err := newLayout(dir, ExportOptions{Bucket: cfg.Bucket, Prefix: cfg.Prefix, ExportTime: cfg.ExportTime, Seed: cfg.Seed, Format: format})
	if err != nil {
		return nil, err
	}
	results := make([]fileResult, cfg.Files)
	accs := make([]*statsAcc, cfg.Files)
	jobs := make(chan int)
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if first == nil {
			first = err
		}
	}
	for range min(cfg.Files, runtime.GOMAXPROCS(0)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range jobs {
				lo, hi := k*cfg.Orders/cfg.Files, (k+1)*cfg.Orders/cfg.Files
				acc := g.newStatsAcc()
				res, err := l.writeFile(k, func(w *dataWriter) error {
					for pos := lo; pos < hi; pos++ {
						n := g.numberAt(pos)
						it := g.order(n)
						acc.add(n, it)
						if err := w.writeItem(it); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					fail(err)
					continue
				}
				results[k], accs[k] = res, acc
			}
		}()
	}
	for k := range cfg.Files {
		mu.Lock()
		stop := first != nil
		mu.Unlock()
		if stop {
			break
		}
		jobs <- k
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		return nil, first
	}
	w, err := l.finish(results)
	if err != nil {
		return nil, err
	}
	w.Stats = g.mergeStats(accs...)
	return w, nil
}

// WriteExportFromItems writes an export holding exactly items, in order,
// for tests that need particular items. See WriteExport for the layout.
func WriteExportFromItems(dir string, opts ExportOptions, items iter.Seq[ddbitem.Item]) (*Written, error) {
	return writeSeq(dir, opts, func(yield func(func(*dataWriter) error) bool) {
		for it := range items {
			if !yield(func(w *dataWriter) error { return w.writeItem(it) }) {
				return
			}
		}
	})
}

// WriteExportFromLines writes an export whose data files hold the given
// lines verbatim (a newline is appended to each), each counted as one item
// in the manifests. Tests use it for damaged content that an Item cannot
// express: a line that is not JSON, an unknown type descriptor, a line in
// another format. The manifests and checksums are correct for what is
// written.
func WriteExportFromLines(dir string, opts ExportOptions, lines iter.Seq[[]byte]) (*Written, error) {
	return writeSeq(dir, opts, func(yield func(func(*dataWriter) error) bool) {
		for b := range lines {
			if !yield(func(w *dataWriter) error { return w.writeLine(b, int64(len(b))) }) {
				return
			}
		}
	})
}

// writeSeq writes one item per step, rotating files every ItemsPerFile.
func writeSeq(dir string, opts ExportOptions, steps iter.Seq[func(*dataWriter) error]) (*Written, error) {
	l, err := newLayout(dir, opts)
	if err != nil {
		return nil, err
	}
	var (
		results []fileResult
		cur     *dataWriter
	)
	closeCur := func() error {
		res, err := cur.close()
		cur = nil
		if err != nil {
			return err
		}
		results = append(results, res)
		return nil
	}
	for step := range steps {
		if cur != nil && l.opts.ItemsPerFile > 0 && cur.items >= int64(l.opts.ItemsPerFile) {
			if err := closeCur(); err != nil {
				return nil, err
			}
		}
		if cur == nil {
			if cur, err = l.createFile(len(results)); err != nil {
				return nil, err
			}
		}
		if err := step(cur); err != nil {
			cur.abort()
			return nil, err
		}
	}
	if cur == nil { // no items: AWS still lists one (empty) data file
		if cur, err = l.createFile(0); err != nil {
			return nil, err
		}
	}
	if err := closeCur(); err != nil {
		return nil, err
	}
	return l.finish(results)
}

// ---- layout and manifests ----

type layout struct {
	opts   ExportOptions
	folder string // local export folder
	key    string // its S3 key: <prefix>/AWSDynamoDB/<exportId>
}

func newLayout(dir string, opts ExportOptions) (*layout, error) {
	opts = opts.normalized()
	if err := opts.checkFormat(); err != nil { // ion.go
		return nil, err
	}
	key := exportKey(opts.Prefix, opts.ExportID)
	l := &layout{opts: opts, key: key, folder: filepath.Join(dir, filepath.FromSlash(key))}
	if err := os.MkdirAll(filepath.Join(l.folder, "data"), 0o755); err != nil {
		return nil, fmt.Errorf("create export folder: %w", err)
	}
	// AWS drops an empty _started marker first; readers must ignore it.
	if err := os.WriteFile(filepath.Join(l.folder, "_started"), nil, 0o644); err != nil {
		return nil, fmt.Errorf("write _started: %w", err)
	}
	return l, nil
}

const base32Lower = "abcdefghijklmnopqrstuvwxyz234567"

// fileName is data file k's name: 26 random base32 characters, like AWS's.
func (l *layout) fileName(k int) string {
	r := seeded(l.opts.Seed, tagFiles, k)
	b := make([]byte, 26)
	for i := range b {
		b[i] = base32Lower[r.IntN(32)]
	}
	return string(b) + l.opts.dataExt() // ion.go
}

type fileResult struct {
	path, key string
	items     int64
	billed    int64
	sum       [md5.Size]byte
}

func (l *layout) createFile(k int) (*dataWriter, error) {
	name := l.fileName(k)
	w, err := newDataWriter(filepath.Join(l.folder, "data", name), l.key+"/data/"+name)
	if w != nil {
		w.ion = l.opts.isION() // ion.go
	}
	return w, err
}

func (l *layout) writeFile(k int, fill func(*dataWriter) error) (fileResult, error) {
	w, err := l.createFile(k)
	if err != nil {
		return fileResult{}, err
	}
	if err := fill(w); err != nil {
		w.abort()
		return fileResult{}, err
	}
	return w.close()
}

type manifestSummary struct {
	Version            string  `json:"version"`
	ExportArn          string  `json:"exportArn"`
	StartTime          string  `json:"startTime"`
	EndTime            string  `json:"endTime"`
	TableArn           string  `json:"tableArn"`
	TableID            string  `json:"tableId"`
	ExportTime         string  `json:"exportTime"`
	S3Bucket           string  `json:"s3Bucket"`
	S3Prefix           *string `json:"s3Prefix"`
	S3SseAlgorithm     string  `json:"s3SseAlgorithm"`
	S3SseKmsKeyID      *string `json:"s3SseKmsKeyId"`
	ManifestFilesS3Key string  `json:"manifestFilesS3Key"`
	BilledSizeBytes    int64   `json:"billedSizeBytes"`
	ItemCount          int64   `json:"itemCount"`
	OutputFormat       string  `json:"outputFormat"`
	ExportType         string  `json:"exportType"`
}

type manifestFile struct {
	ItemCount     int64  `json:"itemCount"`
	MD5Checksum   string `json:"md5Checksum"`
	ETag          string `json:"etag"`
	DataFileS3Key string `json:"dataFileS3Key"`
}

const awsTime = "2006-01-02T15:04:05.000Z"

// finish writes the manifests (files list first, summary last, each with
// its base64-MD5 sidecar without a newline, as AWS writes them).
func (l *layout) finish(results []fileResult) (*Written, error) {
	w := &Written{Folder: l.folder, ExportID: l.opts.ExportID, Bucket: l.opts.Bucket, Prefix: l.opts.Prefix}
	var files bytes.Buffer
	var billed int64
	for _, r := range results {
		// The etag of a one-part multipart upload: MD5 of the part's MD5,
		// then "-1" (the genuine exports in testdata/real-world show this).
		etag := md5.Sum(r.sum[:])
		b, err := json.Marshal(manifestFile{
			ItemCount:     r.items,
			MD5Checksum:   base64.StdEncoding.EncodeToString(r.sum[:]),
			ETag:          hex.EncodeToString(etag[:]) + "-1",
			DataFileS3Key: r.key,
		})
		if err != nil {
			return nil, fmt.Errorf("encode manifest-files line: %w", err)
		}
		files.Write(b)
		files.WriteByte('\n')
		w.Items += r.items
		w.Files = append(w.Files, r.path)
		billed += r.billed
	}
	if err := l.writeManifest("manifest-files", files.Bytes()); err != nil {
		return nil, err
	}

	o := l.opts
	tableArn := fmt.Sprintf("arn:aws:dynamodb:%s:%s:table/%s", o.Region, o.Account, o.Table)
	ids := seeded(o.Seed, tagLayout, -1)
	tableID := fmt.Sprintf("%08x-%04x-4%03x-%04x-%012x", ids.Uint32(), ids.Uint32()&0xffff,
		ids.Uint32()&0xfff, 0x8000|ids.Uint32()&0x3fff, ids.Uint64()&0xffffffffffff)
	// An export takes minutes even when small; make it grow with the size.
	end := o.ExportTime.Add(4*time.Minute + time.Duration(w.Items/2000)*time.Second + 269*time.Millisecond)
	var prefix *string
	if o.Prefix != "" {
		prefix = &o.Prefix
	}
	sum, err := json.Marshal(manifestSummary{
		Version:            "2020-06-30",
		ExportArn:          tableArn + "/export/" + o.ExportID,
		StartTime:          o.ExportTime.Format(awsTime),
		EndTime:            end.Format(awsTime),
		TableArn:           tableArn,
		TableID:            tableID,
		ExportTime:         o.ExportTime.Format(awsTime),
		S3Bucket:           o.Bucket,
		S3Prefix:           prefix,
		S3SseAlgorithm:     "AES256",
		ManifestFilesS3Key: l.key + "/manifest-files.json",
		BilledSizeBytes:    billed,
		ItemCount:          w.Items,
		OutputFormat:       l.opts.outputFormat(), // ion.go
		ExportType:         "FULL_EXPORT",
	})
	if err != nil {
		return nil, fmt.Errorf("encode manifest-summary: %w", err)
	}
	if err := l.writeManifest("manifest-summary", sum); err != nil {
		return nil, err
	}
	return w, nil
}

func (l *layout) writeManifest(name string, body []byte) error {
	sum := md5.Sum(body)
	if err := os.WriteFile(filepath.Join(l.folder, name+".json"), body, 0o644); err != nil {
		return fmt.Errorf("write %s.json: %w", name, err)
	}
	if err := os.WriteFile(filepath.Join(l.folder, name+".md5"), []byte(base64.StdEncoding.EncodeToString(sum[:])), 0o644); err != nil {
		return fmt.Errorf("write %s.md5: %w", name, err)
	}
	return nil
}

// ---- data files ----

// dataWriter streams one data file: lines -> gzip -> buffer -> file + MD5.
type dataWriter struct {
	path, key string
	f         *os.File
	h         hash.Hash
	buf       *bufio.Writer
	gz        *gzip.Writer
	line      bytes.Buffer
	items     int64
	billed    int64
	ion       bool // write ION lines (ion.go)
}

func newDataWriter(p, key string) (*dataWriter, error) {
	f, err := os.Create(p)
	if err != nil {
		return nil, fmt.Errorf("create data file: %w", err)
	}
	w := &dataWriter{path: p, key: key, f: f, h: md5.New()}
	w.buf = bufio.NewWriterSize(io.MultiWriter(f, w.h), 256<<10)
	w.gz = gzip.NewWriter(w.buf)
	return w, nil
}

func (w *dataWriter) writeItem(it ddbitem.Item) error {
	if w.ion {
		return w.writeItemION(it) // ion.go
	}
	b, err := it.MarshalJSON()
	if err != nil {
		return fmt.Errorf("encode item: %w", err)
	}
	w.line.Reset()
	w.line.WriteString(`{"Item":`)
	w.line.Write(b)
	w.line.WriteByte('}')
	return w.writeLine(w.line.Bytes(), itemSize(it))
}

func (w *dataWriter) writeLine(b []byte, billed int64) error {
	if _, err := w.gz.Write(b); err != nil {
		return fmt.Errorf("write %s: %w", path.Base(w.key), err)
	}
	if _, err := w.gz.Write([]byte{'\n'}); err != nil {
		return fmt.Errorf("write %s: %w", path.Base(w.key), err)
	}
	w.items++
	w.billed += billed
	return nil
}

func (w *dataWriter) close() (fileResult, error) {
	err := errors.Join(w.gz.Close(), w.buf.Flush(), w.f.Close())
	if err != nil {
		return fileResult{}, fmt.Errorf("finish data file %s: %w", w.path, err)
	}
	r := fileResult{path: w.path, key: w.key, items: w.items, billed: w.billed}
	copy(r.sum[:], w.h.Sum(nil))
	return r, nil
}

func (w *dataWriter) abort() {
	w.f.Close()
	os.Remove(w.path)
}

// itemSize approximates DynamoDB's item size (what billedSizeBytes adds
// up): attribute names plus values, numbers about one byte per two digits.
func itemSize(it ddbitem.Item) int64 {
	var n int64
	for k, v := range it {
		n += int64(len(k)) + valueSize(v)
	}
	return n
}

func valueSize(v ddbitem.Value) int64 {
	switch v.Kind {
	case ddbitem.S:
		return int64(len(v.Str))
	case ddbitem.N:
		return int64(len(v.Str)/2 + 1)
	case ddbitem.B:
		return int64(len(v.Bin))
	case ddbitem.M:
		n := int64(3)
		for k, e := range v.Map {
			n += 1 + int64(len(k)) + valueSize(e)
		}
		return n
	case ddbitem.L:
		n := int64(3)
		for _, e := range v.List {
			n += 1 + valueSize(e)
		}
		return n
	case ddbitem.SS, ddbitem.NS:
		var n int64
		for _, s := range v.Strs {
			n += int64(len(s))
		}
		return n
	case ddbitem.BS:
		var n int64
		for _, b := range v.Bins {
			n += int64(len(b))
		}
		return n
	}
	return 1 // BOOL, NULL
}
