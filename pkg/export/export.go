// Package export reads DynamoDB exports to S3 (full and incremental), from
// S3 or from a local copy of the bucket.
//
// An export folder is <s3Prefix>/AWSDynamoDB/<exportId>/ holding
// manifest-summary.json, the files manifest it names (manifestFilesS3Key),
// optional checksum sidecars of both, and — for full exports — data/ with
// the gzipped data files; incremental exports put their data files in the
// shared <s3Prefix>/AWSDynamoDB/data/ folder. Data files are known only
// through manifest-files.json, never by listing: a listing would also see
// partial or foreign objects.
//
// Keys in the manifests are followed literally, relative to the bucket
// root. When the export is read from elsewhere (a local folder, or a copy
// under another prefix) the root is found by matching the trailing path
// elements of the folder opened with those of the manifest's own folder:
// opening /a/b/dynamodb-export/AWSDynamoDB/X whose manifestFilesS3Key is
// dynamodb-export/AWSDynamoDB/X/manifest-files.json reads every key below
// /a/b; opening a copy of just the folder, /tmp/X, reads
// dynamodb-export/AWSDynamoDB/X/data/... from /tmp/X/data/....
package export

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const summaryName = "manifest-summary.json"

// Export is an opened export: its checked manifests and where to read its
// data files. It is safe for concurrent use.
type Export struct {
	store    Store
	location string // what was opened, for messages
	// Manifest keys starting with origRoot are read at prefix instead: see
	// the package comment. Both are "" when the export is where AWS wrote it.
	origRoot string
	prefix   string
	summary  Summary
	files    []DataFile
}

// Open opens the export folder at uri: s3://bucket/prefix/AWSDynamoDB/<id>
// or a local path (optionally file://) to such a folder; pointing at the
// folder's manifest-summary.json works too. It reads and checks both
// manifests (see OpenStore).
func Open(ctx context.Context, uri string) (*Export, error) {
	if rest, ok := strings.CutPrefix(uri, "s3://"); ok {
		bucket, dir, _ := strings.Cut(rest, "/")
		if bucket == "" {
			return nil, fmt.Errorf("export uri %q: no bucket", uri)
		}
		dir = strings.Trim(strings.TrimSuffix(strings.Trim(dir, "/"), summaryName), "/")
		store, err := NewS3Store(ctx, bucket)
		if err != nil {
			return nil, fmt.Errorf("opening export %s: %w", uri, err)
		}
		e, err := OpenStore(ctx, store, dir)
		if err != nil {
			return nil, noExport(ctx, store, dir, uri, err, func(f string) string { return "s3://" + bucket + "/" + f })
		}
		e.location = uri
		return e, nil
	}
	return openLocal(ctx, uri)
}

func openLocal(ctx context.Context, uri string) (*Export, error) {
	p := strings.TrimPrefix(uri, "file://")
	abs, err := filepath.Abs(p)
	if err != nil {
		return nil, fmt.Errorf("export folder %s: %w", p, err)
	}
	st, err := os.Stat(abs)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("export folder: %w", &NotFoundError{Key: p, URL: abs})
		}
		return nil, fmt.Errorf("export folder: %w", err)
	}
	if !st.IsDir() {
		if filepath.Base(abs) != summaryName {
			return nil, fmt.Errorf("export folder %s: not a folder", abs)
		}
		abs = filepath.Dir(abs)
	}
	raw, err := readSmall(ctx, LocalStore{Root: abs}, summaryName, maxSummaryBytes)
	if err != nil {
		// Search from the filesystem root's view of abs, so that a folder
		// inside an AWSDynamoDB folder (an export's data/) finds its siblings.
		root := filepath.VolumeName(abs) + string(filepath.Separator)
		rel, _ := filepath.Rel(root, abs)
		return nil, noExport(ctx, LocalStore{Root: root}, filepath.ToSlash(rel), abs,
			&ManifestError{Key: filepath.Join(abs, summaryName), Err: err},
			func(f string) string { return filepath.Join(root, filepath.FromSlash(f)) })
	}
	s, err := ParseSummary(raw)
	if err != nil {
		return nil, &ManifestError{Key: filepath.Join(abs, summaryName), Err: err}
	}
	// Path elements of the folder, e.g. ["", "a", "b", "dynamodb-export",
	// "AWSDynamoDB", "X"]; the bucket root is what precedes the part it
	// shares with the manifest's folder.
	elems := strings.Split(filepath.ToSlash(abs), "/")
	mf := dirElems(s.ManifestFilesS3Key)
	k := commonSuffix(elems, mf)
	root := filepath.FromSlash(strings.Join(elems[:len(elems)-k], "/"))
	if root == "" {
		root = string(filepath.Separator)
	}
	e := &Export{
		store:    LocalStore{Root: root},
		location: abs,
		origRoot: strings.Join(mf[:len(mf)-k], "/"),
	}
	if err := e.load(ctx, strings.Join(elems[len(elems)-k:], "/"), raw, s); err != nil {
		return nil, err
	}
	return e, nil
}

// OpenStore opens the export folder dir (a key prefix in store, without a
// trailing slash: "" is the store's root) and reads its manifests: the
// summary, the files manifest at its manifestFilesS3Key (followed
// literally, or relocated as the package comment says), verifying each
// against a checksum sidecar when one exists (manifest-summary.checksum or
// .md5, manifest-files.checksum or .md5; hex or base64 md5), and checking
// that the data files' item counts add up to the summary's. Errors are
// *ManifestError.
func OpenStore(ctx context.Context, store Store, dir string) (*Export, error) {
	dir = strings.Trim(dir, "/")
	key := joinKey(dir, summaryName)
	raw, err := readSmall(ctx, store, key, maxSummaryBytes)
	if err != nil {
		return nil, &ManifestError{Key: key, Err: err}
	}
	s, err := ParseSummary(raw)
	if err != nil {
		return nil, &ManifestError{Key: key, Err: err}
	}
	var elems []string
	if dir != "" {
		elems = strings.Split(dir, "/")
	}
	mf := dirElems(s.ManifestFilesS3Key)
	k := commonSuffix(elems, mf)
	e := &Export{
		store:    store,
		location: dir,
		origRoot: strings.Join(mf[:len(mf)-k], "/"),
		prefix:   strings.Join(elems[:len(elems)-k], "/"),
	}
	if err := e.load(ctx, dir, raw, s); err != nil {
		return nil, err
	}
	return e, nil
}

// load verifies the summary's sidecar, then reads, verifies and checks the
// files manifest. dir is the export folder's key in e.store.
func (e *Export) load(ctx context.Context, dir string, summaryRaw []byte, s Summary) error {
	sumKey := joinKey(dir, summaryName)
	if err := verifySidecars(ctx, e.store, strings.TrimSuffix(sumKey, ".json"), summaryRaw); err != nil {
		return &ManifestError{Key: sumKey, Err: err}
	}
	mfKey, err := e.storeKey(s.ManifestFilesS3Key)
	if err != nil {
		return &ManifestError{Key: s.ManifestFilesS3Key, Err: err}
	}
	raw, err := readSmall(ctx, e.store, mfKey, maxFilesBytes)
	if err != nil {
		return &ManifestError{Key: s.ManifestFilesS3Key, Err: err}
	}
	if err := verifySidecars(ctx, e.store, strings.TrimSuffix(mfKey, ".json"), raw); err != nil {
		return &ManifestError{Key: s.ManifestFilesS3Key, Err: err}
	}
	files, err := ParseFilesManifest(raw)
	if err != nil {
		return manifestErr(s.ManifestFilesS3Key, err)
	}
	if err := checkCounts(s, files); err != nil {
		return &ManifestError{Key: s.ManifestFilesS3Key, Err: err}
	}
	e.summary, e.files = s, files
	return nil
}

// storeKey maps a key as the manifests write it to its key in e.store.
func (e *Export) storeKey(key string) (string, error) {
	rest := key
	if e.origRoot != "" {
		r, ok := strings.CutPrefix(key, e.origRoot+"/")
		if !ok {
			return "", fmt.Errorf("%s lies outside the export's original folder %s, which was found at %s: keep the bucket's layout from its root", key, e.origRoot, e.location)
		}
		rest = r
	}
	return joinKey(e.prefix, rest), nil
}

// Summary returns manifest-summary.json.
func (e *Export) Summary() Summary { return e.summary }

// Files returns the data files in manifest order (a copy).
func (e *Export) Files() []DataFile { return append([]DataFile(nil), e.files...) }

// ID returns the export id, the last element of the export ARN.
func (e *Export) ID() string { return e.summary.ID() }

// Format returns the output format: FormatDynamoDBJSON or FormatION.
func (e *Export) Format() string { return e.summary.OutputFormat }

// Incremental reports whether this is an incremental export.
func (e *Export) Incremental() bool { return e.summary.Incremental() }

// ExportTime is the point in time the export's data is consistent as of:
// exportTime for a full export, exportToTime (the window's end) for an
// incremental one.
func (e *Export) ExportTime() time.Time {
	if e.Incremental() {
		return e.summary.ExportToTime
	}
	return e.summary.ExportTime
}

// Location returns what was opened (a URI, local folder or store prefix),
// for messages.
func (e *Export) Location() string { return e.location }

// readSmall reads a whole object known to be small, refusing one above
// limit bytes.
func readSmall(ctx context.Context, store Store, key string, limit int64) ([]byte, error) {
	rc, err := store.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", key, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("reading %s: larger than %d bytes", key, limit)
	}
	return b, nil
}

// verifySidecars checks content against base.checksum and base.md5 when
// they exist. AWS documents .checksum; real incremental exports have .md5
// with a base64 md5; hex is accepted too since neither form is specified.
func verifySidecars(ctx context.Context, store Store, base string, content []byte) error {
	sum := md5.Sum(content)
	for _, ext := range []string{".checksum", ".md5"} {
		key := base + ext
		b, err := readSmall(ctx, store, key, 4096)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("reading checksum sidecar: %w", err)
		}
		fields := strings.Fields(string(b))
		if len(fields) == 0 {
			return fmt.Errorf("checksum sidecar %s is empty", key)
		}
		ok, err := md5Matches(fields[0], sum[:])
		if err != nil {
			return fmt.Errorf("checksum sidecar %s: %w", key, err)
		}
		if !ok {
			return fmt.Errorf("checksum sidecar %s: %w", key, &ChecksumError{Expected: fields[0], Got: base64.StdEncoding.EncodeToString(sum[:])})
		}
	}
	return nil
}

// md5Matches compares an md5 written in hex or base64 with sum.
func md5Matches(want string, sum []byte) (bool, error) {
	if len(want) == 32 {
		if b, err := hex.DecodeString(want); err == nil {
			return string(b) == string(sum), nil
		}
	}
	if b, err := base64.StdEncoding.DecodeString(want); err == nil && len(b) == md5.Size {
		return string(b) == string(sum), nil
	}
	return false, fmt.Errorf("%q is not an md5 in hex or base64", want)
}

func joinKey(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// dirElems splits the folder part of a key into its elements.
func dirElems(key string) []string {
	i := strings.LastIndexByte(key, '/')
	if i <= 0 {
		return nil
	}
	return strings.Split(key[:i], "/")
}

// commonSuffix counts the trailing elements a and b share (empty elements
// never match, so a local path's leading "" is never taken for a key's).
func commonSuffix(a, b []string) int {
	k := 0
	for k < len(a) && k < len(b) {
		x, y := a[len(a)-1-k], b[len(b)-1-k]
		if x == "" || x != y {
			break
		}
		k++
	}
	return k
}
