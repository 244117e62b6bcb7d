package export

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// Manifest versions, export types and output formats as AWS writes them.
const (
	VersionFull        = "2020-06-30" // full exports (older ones have no exportType)
	VersionIncremental = "2023-08-01" // incremental exports

	TypeFull        = "FULL_EXPORT"
	TypeIncremental = "INCREMENTAL_EXPORT"

	FormatDynamoDBJSON = "DYNAMODB_JSON"
	FormatION          = "ION"
)

// Summary is manifest-summary.json. Fields that are null or absent in the
// file are zero.
type Summary struct {
	Version            string    `json:"version"`
	ExportARN          string    `json:"exportArn"`
	StartTime          time.Time `json:"startTime"`
	EndTime            time.Time `json:"endTime"`
	TableARN           string    `json:"tableArn"`
	TableID            string    `json:"tableId"`
	ExportTime         time.Time `json:"exportTime"`     // full export: the point in time exported
	ExportFromTime     time.Time `json:"exportFromTime"` // incremental export: the window exported
	ExportToTime       time.Time `json:"exportToTime"`
	S3Bucket           string    `json:"s3Bucket"`
	S3Prefix           string    `json:"s3Prefix"`
	S3SSEAlgorithm     string    `json:"s3SseAlgorithm"`
	S3SSEKMSKeyID      string    `json:"s3SseKmsKeyId"`
	ManifestFilesS3Key string    `json:"manifestFilesS3Key"`
	BilledSizeBytes    int64     `json:"billedSizeBytes"`
	ItemCount          int64     `json:"itemCount"`
	OutputFormat       string    `json:"outputFormat"` // DYNAMODB_JSON or ION
	OutputView         string    `json:"outputView"`   // incremental: NEW_AND_OLD_IMAGES or NEW_IMAGE
	ExportType         string    `json:"exportType"`   // FULL_EXPORT, INCREMENTAL_EXPORT, or absent (older full exports)
}

// Incremental reports whether the summary describes an incremental export:
// exportType says so, or, when an older summary has no exportType, the
// manifest version does.
func (s Summary) Incremental() bool {
	if s.ExportType != "" {
		return s.ExportType == TypeIncremental
	}
	return s.Version == VersionIncremental
}

// ID is the export's id, the last element of its ARN
// (arn:aws:dynamodb:...:table/T/export/01715685260608-c488b4e1).
func (s Summary) ID() string {
	return s.ExportARN[strings.LastIndexByte(s.ExportARN, '/')+1:]
}

// TableName is the name of the table the export is of, from tableArn
// ("arn:aws:dynamodb:REGION:ACCOUNT:table/NAME"); "" when the summary does
// not say.
func (s Summary) TableName() string {
	const marker = ":table/"
	i := strings.Index(s.TableARN, marker)
	if i < 0 {
		return ""
	}
	name := s.TableARN[i+len(marker):]
	if j := strings.IndexByte(name, '/'); j >= 0 {
		name = name[:j]
	}
	return name
}

// DataFile is one line of manifest-files.json. Key is the dataFileS3Key as
// written there (it identifies the file in messages and bookkeeping), MD5
// the base64 md5 of the compressed object, Index the line's position among
// the files (0-based).
type DataFile struct {
	Key       string
	ItemCount int64
	MD5       string
	ETag      string
	Index     int
}

// Size limits for the manifests: they are read whole. A files manifest has
// one ~200-byte line per data file.
const (
	maxSummaryBytes = 1 << 20
	maxFilesBytes   = 256 << 20
)

// ParseSummary parses and checks manifest-summary.json: a known version and
// format, an export ARN with an id, a files manifest key, an item count, and
// the export time(s) its type needs. Unknown fields are ignored, so AWS
// adding one does not stop a migration.
func ParseSummary(b []byte) (Summary, error) {
	var raw struct {
		Summary
		ItemCount *int64 `json:"itemCount"` // to tell absent from 0
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		return Summary{}, jsonErr(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return Summary{}, errors.New("invalid json: data after the summary object")
	}
	s := raw.Summary
	switch s.Version {
	case VersionFull, VersionIncremental:
	case "":
		return s, errors.New("no version")
	default:
		return s, fmt.Errorf("unsupported manifest version %q (known: %s, %s)", s.Version, VersionFull, VersionIncremental)
	}
	switch s.ExportType {
	case "", TypeFull, TypeIncremental:
	default:
		return s, fmt.Errorf("unsupported exportType %q", s.ExportType)
	}
	switch s.OutputFormat {
	case FormatDynamoDBJSON, FormatION:
	case "":
		return s, errors.New("no outputFormat")
	default:
		return s, fmt.Errorf("unsupported outputFormat %q (known: %s, %s)", s.OutputFormat, FormatDynamoDBJSON, FormatION)
	}
	if !strings.Contains(s.ExportARN, "/export/") || s.ID() == "" {
		return s, fmt.Errorf("exportArn %q does not name an export", s.ExportARN)
	}
	if s.ManifestFilesS3Key == "" {
		return s, errors.New("no manifestFilesS3Key")
	}
	if raw.ItemCount == nil {
		return s, errors.New("no itemCount")
	}
	s.ItemCount = *raw.ItemCount
	if s.ItemCount < 0 {
		return s, fmt.Errorf("negative itemCount %d", s.ItemCount)
	}
	if s.Incremental() {
		if s.ExportFromTime.IsZero() || s.ExportToTime.IsZero() {
			return s, errors.New("incremental export without exportFromTime and exportToTime")
		}
	} else if s.ExportTime.IsZero() {
		return s, errors.New("full export without exportTime")
	}
	return s, nil
}

// ParseFilesManifest parses manifest-files.json: JSON objects, one per line
// as AWS writes them (a pretty-printed stream is accepted too), with or
// without a trailing newline. Each needs a dataFileS3Key, listed once, and a
// non-negative itemCount; md5Checksum and etag are kept as given (a missing
// md5Checksum means the file's md5 is not checked). Errors give the line;
// Open and ParseManifest wrap them in a *ManifestError naming the manifest.
func ParseFilesManifest(b []byte) ([]DataFile, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var files []DataFile
	seen := map[string]int{}
	for {
		start := int(dec.InputOffset())
		for start < len(b) && isSpace(b[start]) {
			start++
		}
		var raw struct {
			ItemCount     *int64 `json:"itemCount"`
			MD5Checksum   string `json:"md5Checksum"`
			ETag          string `json:"etag"`
			DataFileS3Key string `json:"dataFileS3Key"`
		}
		err := dec.Decode(&raw)
		if err == io.EOF {
			break
		}
		line := lineAt(b, start)
		if err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				line = lineAt(b, int(se.Offset))
			}
			return nil, &lineError{line, jsonErr(err)}
		}
		switch {
		case raw.DataFileS3Key == "":
			return nil, &lineError{line, errors.New("no dataFileS3Key")}
		case raw.ItemCount == nil:
			return nil, &lineError{line, fmt.Errorf("%s: no itemCount", raw.DataFileS3Key)}
		case *raw.ItemCount < 0:
			return nil, &lineError{line, fmt.Errorf("%s: negative itemCount %d", raw.DataFileS3Key, *raw.ItemCount)}
		}
		if prev, dup := seen[raw.DataFileS3Key]; dup {
			return nil, &lineError{line, fmt.Errorf("%s listed twice (also on line %d)", raw.DataFileS3Key, prev)}
		}
		seen[raw.DataFileS3Key] = line
		files = append(files, DataFile{
			Key:       raw.DataFileS3Key,
			ItemCount: *raw.ItemCount,
			MD5:       raw.MD5Checksum,
			ETag:      raw.ETag,
			Index:     len(files),
		})
	}
	return files, nil
}

// ParseManifest parses both manifests and checks them against each other:
// the data files' itemCounts must add up to the summary's itemCount
// (*ItemCountError otherwise). Errors are *ManifestError naming
// manifest-summary.json or manifest-files.json.
func ParseManifest(summary, files []byte) (Summary, []DataFile, error) {
	s, err := ParseSummary(summary)
	if err != nil {
		return Summary{}, nil, &ManifestError{Key: summaryName, Err: err}
	}
	fs, err := ParseFilesManifest(files)
	if err != nil {
		return Summary{}, nil, manifestErr(s.ManifestFilesS3Key, err)
	}
	if err := checkCounts(s, fs); err != nil {
		return Summary{}, nil, &ManifestError{Key: s.ManifestFilesS3Key, Err: err}
	}
	return s, fs, nil
}

func checkCounts(s Summary, files []DataFile) error {
	var sum int64
	for _, f := range files {
		if sum > math.MaxInt64-f.ItemCount {
			return fmt.Errorf("data files' itemCounts overflow int64 at %s", f.Key)
		}
		sum += f.ItemCount
	}
	if sum != s.ItemCount {
		return &ItemCountError{What: "data files' itemCounts add up to", Manifest: s.ItemCount, Got: sum}
	}
	return nil
}

// lineError carries a manifest line number up to where the manifest's key
// is known.
type lineError struct {
	line int
	err  error
}

func (e *lineError) Error() string { return fmt.Sprintf("line %d: %v", e.line, e.err) }
func (e *lineError) Unwrap() error { return e.err }

func manifestErr(key string, err error) error {
	var le *lineError
	if errors.As(err, &le) {
		return &ManifestError{Key: key, Line: le.line, Err: le.err}
	}
	return &ManifestError{Key: key, Err: err}
}

func lineAt(b []byte, off int) int {
	off = min(max(off, 0), len(b))
	return bytes.Count(b[:off], []byte{'\n'}) + 1
}

// jsonErr words a decoding error: encoding/json's own messages start with
// "json: " except for syntax errors and early ends.
func jsonErr(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("invalid json: %w", err)
	}
	return err
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
