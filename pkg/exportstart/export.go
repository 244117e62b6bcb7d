package exportstart

import (
	"context"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// Export is the state of one export as DynamoDB reports it.
type Export struct {
	ARN        string
	ID         string
	URI        string // s3://bucket/prefix/AWSDynamoDB/<id>: what `ddb2pg backfill --export` takes
	Status     string // IN_PROGRESS, COMPLETED or FAILED
	Type       string // FULL_EXPORT or INCREMENTAL_EXPORT
	Format     string
	ExportTime time.Time // the snapshot's instant (full exports)
	From, To   time.Time // the window (incremental exports)
	StartTime  time.Time
	EndTime    time.Time
	ItemCount  int64 // known once COMPLETED
	BilledSize int64 // bytes, known once COMPLETED

	FailureCode    string
	FailureMessage string
}

// ExportFailedError is an export DynamoDB reports as FAILED.
type ExportFailedError struct {
	ARN     string
	Code    string
	Message string
}

func (e *ExportFailedError) Error() string {
	code, msg := e.Code, e.Message
	if code == "" {
		code = "no failure code"
	}
	if msg == "" {
		msg = "no failure message"
	}
	return fmt.Sprintf("export %s failed: %s: %s", e.ARN, code, msg)
}

// Start validates the request, runs Check, and starts the export. It returns
// the export as the start call describes it (IN_PROGRESS) and the table
// information; on a failed check it returns the *PreconditionError and starts
// nothing.
func Start(ctx context.Context, api API, req Request, now time.Time) (*Export, *TableInfo, error) {
	req = req.Normalize()
	if err := req.Validate(now); err != nil {
		return nil, nil, err
	}
	info, err := Check(ctx, api, req)
	if err != nil {
		return nil, info, err
	}
	in := &dynamodb.ExportTableToPointInTimeInput{
		TableArn:     aws.String(info.ARN),
		S3Bucket:     aws.String(req.Bucket),
		ExportFormat: types.ExportFormat(req.Format),
		ExportType:   types.ExportTypeFullExport,
	}
	if req.Prefix != "" {
		in.S3Prefix = aws.String(req.Prefix)
	}
	if req.BucketOwner != "" {
		in.S3BucketOwner = aws.String(req.BucketOwner)
	}
	if req.KMSKeyID != "" {
		in.S3SseAlgorithm = types.S3SseAlgorithmKms
		in.S3SseKmsKeyId = aws.String(req.KMSKeyID)
	}
	if w := req.Incremental; w != nil {
		in.ExportType = types.ExportTypeIncrementalExport
		in.IncrementalExportSpecification = &types.IncrementalExportSpecification{
			ExportFromTime: aws.Time(w.From),
			ExportToTime:   aws.Time(w.To),
			// Both images, always: a line with Keys and only an OldImage is how
			// the backfill recognises a delete; with NEW_IMAGE a delete and a
			// write that left no new image could not be told apart as clearly.
			ExportViewType: types.ExportViewTypeNewAndOldImages,
		}
	}
	// No ExportTime for a full export: DynamoDB then uses the time of the
	// request, which is after the checks above saw the stream on, so every
	// change after the snapshot is in the stream.
	out, err := api.ExportTableToPointInTime(ctx, in)
	if err != nil {
		var unavailable *types.PointInTimeRecoveryUnavailableException
		if errors.As(err, &unavailable) {
			// Right after PITR is turned on it reports ENABLED while the
			// export call still refuses; that passes within minutes.
			return nil, info, fmt.Errorf("start export of table %s: point-in-time recovery is not ready yet (it was probably just turned on); retry in a few minutes: %w", info.Name, err)
		}
		return nil, info, fmt.Errorf("start export of table %s to s3://%s/%s: %w", info.Name, req.Bucket, req.Prefix, err)
	}
	if out.ExportDescription == nil {
		return nil, info, fmt.Errorf("start export of table %s: the response has no export description", info.Name)
	}
	exp, err := fromDescription(out.ExportDescription, req.Bucket, req.Prefix)
	if err != nil {
		return nil, info, fmt.Errorf("start export of table %s: %w", info.Name, err)
	}
	return exp, info, nil
}

// DefaultPollInterval is how often Wait asks by default. Exports take minutes
// to hours, and DescribeExport is rate limited per account; twice a minute
// keeps the progress line alive without spending that budget.
const DefaultPollInterval = 30 * time.Second

// WaitOptions tune Wait.
type WaitOptions struct {
	PollInterval time.Duration          // DefaultPollInterval when zero
	Progress     func(Export, Progress) // called after every poll; may be nil
	// Bucket and Prefix as requested: used for the URI when DynamoDB has not
	// reported the manifest's key yet.
	Bucket, Prefix string
}

// Progress is the waiting's own bookkeeping, passed to the progress callback.
type Progress struct {
	Polls   int
	Elapsed time.Duration // since Wait began
}

// Wait polls DescribeExport until the export is COMPLETED (returning it) or
// FAILED (returning an *ExportFailedError). When ctx ends first the export
// goes on in AWS, and the error says how to look at it.
func Wait(ctx context.Context, api API, exportARN string, opt WaitOptions) (*Export, error) {
	interval := opt.PollInterval
	if interval <= 0 {
		interval = DefaultPollInterval
	}
	began := time.Now()
	hint := fmt.Sprintf("the export goes on in AWS; check it with: aws dynamodb describe-export --export-arn %s", exportARN)
	timer := time.NewTimer(0) // first poll at once
	defer timer.Stop()
	for polls := 1; ; polls++ {
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for export %s: %w (%s)", exportARN, ctx.Err(), hint)
		case <-timer.C:
		}
		out, err := api.DescribeExport(ctx, &dynamodb.DescribeExportInput{ExportArn: aws.String(exportARN)})
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("wait for export %s: %w (%s)", exportARN, ctx.Err(), hint)
			}
			return nil, fmt.Errorf("describe export %s: %w (%s)", exportARN, err, hint)
		}
		if out.ExportDescription == nil {
			return nil, fmt.Errorf("describe export %s: the response has no export description", exportARN)
		}
		exp, err := fromDescription(out.ExportDescription, opt.Bucket, opt.Prefix)
		if err != nil {
			return nil, fmt.Errorf("describe export %s: %w", exportARN, err)
		}
		if opt.Progress != nil {
			opt.Progress(*exp, Progress{Polls: polls, Elapsed: time.Since(began)})
		}
		switch types.ExportStatus(exp.Status) {
		case types.ExportStatusCompleted:
			if exp.URI == "" {
				return exp, fmt.Errorf("export %s completed, but DynamoDB did not say in which bucket", exportARN)
			}
			return exp, nil
		case types.ExportStatusFailed:
			return exp, &ExportFailedError{ARN: exp.ARN, Code: exp.FailureCode, Message: exp.FailureMessage}
		}
		timer.Reset(interval)
	}
}

func fromDescription(d *types.ExportDescription, bucket, prefix string) (*Export, error) {
	e := &Export{
		ARN:            aws.ToString(d.ExportArn),
		Status:         string(d.ExportStatus),
		Type:           string(d.ExportType),
		Format:         string(d.ExportFormat),
		ExportTime:     aws.ToTime(d.ExportTime),
		StartTime:      aws.ToTime(d.StartTime),
		EndTime:        aws.ToTime(d.EndTime),
		ItemCount:      aws.ToInt64(d.ItemCount),
		BilledSize:     aws.ToInt64(d.BilledSizeBytes),
		FailureCode:    aws.ToString(d.FailureCode),
		FailureMessage: aws.ToString(d.FailureMessage),
	}
	if s := d.IncrementalExportSpecification; s != nil {
		e.From = aws.ToTime(s.ExportFromTime)
		e.To = aws.ToTime(s.ExportToTime)
	}
	// What DynamoDB reports wins over what was asked for.
	if b := aws.ToString(d.S3Bucket); b != "" {
		bucket = b
	}
	if d.S3Prefix != nil {
		prefix = aws.ToString(d.S3Prefix)
	}
	id, err := ExportID(e.ARN)
	if err != nil {
		return nil, err
	}
	e.ID = id
	// DynamoDB always names the bucket; should a response not, the URI stays
	// empty and Wait refuses to call such an export done.
	if bucket != "" {
		e.URI, _ = FolderURI(bucket, prefix, id, aws.ToString(d.ExportManifest))
	}
	return e, nil
}

// ExportID is the last part of an export ARN
// (arn:aws:dynamodb:REGION:ACCOUNT:table/TABLE/export/ID), the name of the
// export's folder under AWSDynamoDB/.
func ExportID(exportARN string) (string, error) {
	i := strings.LastIndex(exportARN, "/export/")
	if i < 0 || !strings.HasPrefix(exportARN, "arn:") {
		return "", fmt.Errorf("%q is not an export ARN (arn:...:table/NAME/export/ID)", exportARN)
	}
	id := exportARN[i+len("/export/"):]
	if id == "" || strings.Contains(id, "/") {
		return "", fmt.Errorf("%q is not an export ARN (arn:...:table/NAME/export/ID)", exportARN)
	}
	return id, nil
}

// FolderURI is the s3:// URI of the folder holding manifest-summary.json. The
// manifest's key, once DynamoDB reports it, is authoritative (it is where the
// files are); before that the folder is derived the way DynamoDB lays exports
// out: <prefix>/AWSDynamoDB/<id>.
func FolderURI(bucket, prefix, id, manifestKey string) (string, error) {
	if bucket == "" {
		return "", fmt.Errorf("export %s: no bucket to build its s3:// URI from", id)
	}
	if manifestKey != "" {
		dir := path.Dir(strings.TrimPrefix(manifestKey, "/"))
		if dir != "." && dir != "/" {
			return "s3://" + bucket + "/" + dir, nil
		}
	}
	key := "AWSDynamoDB/" + id
	if p := strings.Trim(prefix, "/"); p != "" {
		key = p + "/" + key
	}
	return "s3://" + bucket + "/" + key, nil
}
