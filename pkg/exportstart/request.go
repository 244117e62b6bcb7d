// Package exportstart is `ddb2pg export`: it checks that a DynamoDB table is
// ready for the migration's hand-off (point-in-time recovery on, a stream that
// carries item images), starts an ExportTableToPointInTime (full, or
// incremental between two instants), and optionally waits for it, returning
// the s3:// export folder that `ddb2pg backfill --export` reads.
//
// It speaks to DynamoDB only through the four calls in API, so the IAM policy
// of whoever runs it is exactly dynamodb:DescribeTable,
// dynamodb:DescribeContinuousBackups, dynamodb:ExportTableToPointInTime and
// dynamodb:DescribeExport (plus the S3 writes DynamoDB makes on the caller's
// behalf). terraform/modules/export-bucket grants that set and its test checks
// it against Actions.
package exportstart

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// API is the part of the DynamoDB client this package uses; *dynamodb.Client
// satisfies it.
type API interface {
	DescribeTable(ctx context.Context, in *dynamodb.DescribeTableInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeTableOutput, error)
	DescribeContinuousBackups(ctx context.Context, in *dynamodb.DescribeContinuousBackupsInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeContinuousBackupsOutput, error)
	ExportTableToPointInTime(ctx context.Context, in *dynamodb.ExportTableToPointInTimeInput, opts ...func(*dynamodb.Options)) (*dynamodb.ExportTableToPointInTimeOutput, error)
	DescribeExport(ctx context.Context, in *dynamodb.DescribeExportInput, opts ...func(*dynamodb.Options)) (*dynamodb.DescribeExportOutput, error)
}

// Actions are the IAM actions the calls of API need, in the order the command
// makes them. The Terraform exporter policy is tested against this list.
var Actions = []string{
	"dynamodb:DescribeTable",
	"dynamodb:DescribeContinuousBackups",
	"dynamodb:ExportTableToPointInTime",
	"dynamodb:DescribeExport",
}

// Format is an export's data format.
type Format string

const (
	FormatDynamoDBJSON Format = "DYNAMODB_JSON"
	FormatION          Format = "ION"
)

// ParseFormat accepts DYNAMODB_JSON or ION in any letter case.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToUpper(strings.TrimSpace(s))); f {
	case FormatDynamoDBJSON, FormatION:
		return f, nil
	}
	return "", &RequestError{Field: "format", Problem: fmt.Sprintf("%q is not an export format: use DYNAMODB_JSON or ION", s)}
}

// Incremental windows are bounded by DynamoDB itself: an incremental export
// covers at least 15 minutes and at most 24 hours. Checking here turns a
// ValidationException after the PITR and stream checks into a usage error
// before any call.
const (
	MinIncrementalWindow = 15 * time.Minute
	MaxIncrementalWindow = 24 * time.Hour
)

// Window is an incremental export's period: changes written at or after From
// and before To.
type Window struct {
	From time.Time
	To   time.Time
}

// Request is what `ddb2pg export` asks for.
type Request struct {
	Table       string // name or ARN
	Bucket      string // bucket name, not an s3:// URI
	Prefix      string // optional key prefix, without leading or trailing "/"
	BucketOwner string // optional account id, for a bucket in another account
	KMSKeyID    string // optional: SSE-KMS with this key instead of the bucket's default
	Format      Format // DYNAMODB_JSON when empty
	Incremental *Window
}

// RequestError is a request that cannot be sent as given: the caller's
// mistake, reported before any call to AWS (the command exits 2 on it).
type RequestError struct {
	Field   string // the `ddb2pg export` flag at fault, without "--"
	Problem string
}

func (e *RequestError) Error() string { return "--" + e.Field + ": " + e.Problem }

// The API's own pattern for S3Bucket. A bucket written as s3://b/p is the
// common slip, and the pattern rejects it.
var bucketPattern = regexp.MustCompile(`^[a-zA-Z0-9]+[.\-\w]*[a-zA-Z0-9]+$`)

var accountPattern = regexp.MustCompile(`^[0-9]{12}$`)

// Normalize returns the request with defaults filled in and the prefix
// trimmed of slashes. DynamoDB writes under "<prefix>/AWSDynamoDB/<id>"; a
// prefix given as "exports/" would otherwise give keys with "//" in them, a
// folder that looks like the right one in the console but is not what a
// later `--s3-prefix exports` finds.
func (r Request) Normalize() Request {
	r.Table = strings.TrimSpace(r.Table)
	r.Bucket = strings.TrimSpace(r.Bucket)
	r.Prefix = strings.Trim(strings.TrimSpace(r.Prefix), "/")
	r.BucketOwner = strings.TrimSpace(r.BucketOwner)
	r.KMSKeyID = strings.TrimSpace(r.KMSKeyID)
	if r.Format == "" {
		r.Format = FormatDynamoDBJSON
	} else if f, err := ParseFormat(string(r.Format)); err == nil {
		r.Format = f // an invalid one is left for Validate to report
	}
	return r
}

// Validate checks a normalized request against what DynamoDB accepts. now is
// the caller's clock: an incremental window must lie in the past.
func (r Request) Validate(now time.Time) error {
	if r.Table == "" {
		return &RequestError{Field: "table", Problem: "missing: give the DynamoDB table name or ARN"}
	}
	if r.Bucket == "" {
		return &RequestError{Field: "s3-bucket", Problem: "missing: give the name of the bucket to export into"}
	}
	if strings.Contains(r.Bucket, "://") || strings.Contains(r.Bucket, "/") {
		return &RequestError{Field: "s3-bucket", Problem: fmt.Sprintf("%q: give the bucket name only (put the path in --s3-prefix)", r.Bucket)}
	}
	if len(r.Bucket) > 255 || !bucketPattern.MatchString(r.Bucket) {
		return &RequestError{Field: "s3-bucket", Problem: fmt.Sprintf("%q is not a valid bucket name", r.Bucket)}
	}
	if r.BucketOwner != "" && !accountPattern.MatchString(r.BucketOwner) {
		return &RequestError{Field: "s3-bucket-owner", Problem: fmt.Sprintf("%q is not a 12-digit AWS account id", r.BucketOwner)}
	}
	if _, err := ParseFormat(string(r.Format)); err != nil {
		return err
	}
	if w := r.Incremental; w != nil {
		if w.From.IsZero() || w.To.IsZero() {
			return &RequestError{Field: "from", Problem: "an incremental export needs both --from and --to"}
		}
		if !w.From.Before(w.To) {
			return &RequestError{Field: "from", Problem: fmt.Sprintf("%s is not before --to %s", w.From.Format(time.RFC3339), w.To.Format(time.RFC3339))}
		}
		if d := w.To.Sub(w.From); d < MinIncrementalWindow || d > MaxIncrementalWindow {
			return &RequestError{Field: "from", Problem: fmt.Sprintf("the window [--from, --to) is %s; DynamoDB exports incremental windows of 15 minutes to 24 hours (split a longer gap into consecutive windows: the end of one is the start of the next)", d)}
		}
		if w.To.After(now) {
			return &RequestError{Field: "to", Problem: fmt.Sprintf("%s is in the future", w.To.Format(time.RFC3339))}
		}
	}
	return nil
}
