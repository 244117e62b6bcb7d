package export

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
)

// Sentinel causes, for errors.Is on whatever ReadFile, Open or a Store
// returns.
var (
	// ErrChecksum: an object's md5 differs from the one the manifest (or a
	// checksum sidecar) gives. The error in the chain is a *ChecksumError.
	ErrChecksum = errors.New("md5 checksum mismatch")
	// ErrItemCount: a count of items differs from the manifest's. The error
	// in the chain is an *ItemCountError.
	ErrItemCount = errors.New("item count mismatch")
	// ErrTruncated: a data file's gzip stream ends early (an interrupted
	// copy); io.ErrUnexpectedEOF is in the chain too.
	ErrTruncated = errors.New("truncated gzip")
	// ErrLineTooLong: a data line is longer than MaxLineBytes.
	ErrLineTooLong = errors.New("line too long")
)

// IsDamaged reports whether err says the export itself is damaged or
// incomplete (checksum, item count, truncated gzip, over-long line, a file
// the manifest lists that is missing): reading it again gives the same
// answer, so callers should not retry. Network failures while reading are
// not damage.
func IsDamaged(err error) bool {
	return errors.Is(err, ErrChecksum) || errors.Is(err, ErrItemCount) || errors.Is(err, ErrTruncated) ||
		errors.Is(err, ErrLineTooLong) || errors.Is(err, fs.ErrNotExist)
}

// NotFoundError: a key the export refers to is not in the store (S3
// NoSuchKey, or a missing local file). It matches fs.ErrNotExist.
type NotFoundError struct {
	Key string // the key asked of the store
	URL string // where it was looked for: s3://bucket/key or a local path
}

func (e *NotFoundError) Error() string {
	if e.URL == "" {
		return "not found: " + e.Key
	}
	return "not found: " + e.URL
}

// Is lets errors.Is(err, fs.ErrNotExist) work across both stores.
func (e *NotFoundError) Is(target error) bool { return target == fs.ErrNotExist }

// FileError is what ReadFile returns: which data file (its key as the
// manifest lists it), at which line when the problem has one (Line 0: the
// file as a whole), and why.
type FileError struct {
	File string
	Line int64
	Err  error
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return "export file " + e.File + " line " + strconv.FormatInt(e.Line, 10) + ": " + e.Err.Error()
	}
	return "export file " + e.File + ": " + e.Err.Error()
}

func (e *FileError) Unwrap() error { return e.Err }

// ChecksumError gives both sides of an md5 mismatch, base64 as the manifest
// writes them (Expected as found, which may be hex for a sidecar).
type ChecksumError struct {
	Expected string
	Got      string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("md5 checksum mismatch: expected %s, got %s", e.Expected, e.Got)
}

func (e *ChecksumError) Is(target error) bool { return target == ErrChecksum }

// ItemCountError gives both sides of an item count mismatch: for a data
// file, the manifest's itemCount against the lines read; for the manifest,
// the summary's itemCount against the sum over the listed files.
type ItemCountError struct {
	What     string // "lines" or "sum of data files' itemCount"
	Manifest int64
	Got      int64
}

func (e *ItemCountError) Error() string {
	what := e.What
	if what == "" {
		what = "got"
	}
	return fmt.Sprintf("item count mismatch: manifest says %d, %s %d", e.Manifest, what, e.Got)
}

func (e *ItemCountError) Is(target error) bool { return target == ErrItemCount }

// ManifestError: manifest-summary.json or manifest-files.json (Key, as
// named in the export) is unreadable, malformed, or inconsistent. Line is
// the manifest line at fault when there is one.
type ManifestError struct {
	Key  string
	Line int
	Err  error
}

func (e *ManifestError) Error() string {
	if e.Line > 0 {
		return "export manifest " + e.Key + " line " + strconv.Itoa(e.Line) + ": " + e.Err.Error()
	}
	return "export manifest " + e.Key + ": " + e.Err.Error()
}

func (e *ManifestError) Unwrap() error { return e.Err }
