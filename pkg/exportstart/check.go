package exportstart

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// TableInfo is what the checks learned about the table.
type TableInfo struct {
	Name           string
	ARN            string
	StreamARN      string // empty when the stream is off
	StreamViewType string // empty when the stream is off
	PITREnabled    bool
	// The point-in-time recovery window, when DynamoDB reports it.
	EarliestRestorable time.Time
	LatestRestorable   time.Time
}

// Problem is one unmet precondition and the commands that fix it.
type Problem struct {
	Check  string   // what was checked: "point-in-time recovery", "stream", ...
	Detail string   // what is wrong and why it matters
	Fix    []string // commands to run, in order
}

// PreconditionError lists everything that must change on the table before an
// export is useful. All problems are reported at once so the operator fixes
// them in one go rather than one rerun per problem.
type PreconditionError struct {
	Table    string
	Problems []Problem
}

func (e *PreconditionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "table %s is not ready for export:", e.Table)
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  - %s: %s", p.Check, p.Detail)
		if len(p.Fix) > 0 {
			b.WriteString("\n    fix:")
			for _, c := range p.Fix {
				b.WriteString("\n      " + c)
			}
		}
	}
	return b.String()
}

// Check describes the table and its continuous backups and reports, as a
// *PreconditionError, what keeps the migration's hand-off from working:
//   - point-in-time recovery off: ExportTableToPointInTime refuses the table;
//   - the stream off: changes made after the export's time would reach
//     PostgreSQL by no path;
//   - a KEYS_ONLY or OLD_IMAGE stream: the stream must carry the item's new
//     image for changes to be applied from it (NEW_AND_OLD_IMAGES or
//     NEW_IMAGE);
//   - an incremental window that starts before the recovery window.
func Check(ctx context.Context, api API, req Request) (*TableInfo, error) {
	req = req.Normalize()
	dt, err := api.DescribeTable(ctx, &dynamodb.DescribeTableInput{TableName: aws.String(req.Table)})
	if err != nil {
		return nil, fmt.Errorf("describe table %s: %w", req.Table, err)
	}
	if dt.Table == nil || dt.Table.TableArn == nil {
		return nil, fmt.Errorf("describe table %s: the response has no table ARN", req.Table)
	}
	info := &TableInfo{
		Name: aws.ToString(dt.Table.TableName),
		ARN:  aws.ToString(dt.Table.TableArn),
	}
	if info.Name == "" {
		info.Name = req.Table
	}
	cb, err := api.DescribeContinuousBackups(ctx, &dynamodb.DescribeContinuousBackupsInput{TableName: aws.String(req.Table)})
	if err != nil {
		return nil, fmt.Errorf("describe continuous backups of table %s: %w", req.Table, err)
	}
	if d := cb.ContinuousBackupsDescription; d != nil && d.PointInTimeRecoveryDescription != nil {
		p := d.PointInTimeRecoveryDescription
		info.PITREnabled = p.PointInTimeRecoveryStatus == types.PointInTimeRecoveryStatusEnabled
		info.EarliestRestorable = aws.ToTime(p.EarliestRestorableDateTime)
		info.LatestRestorable = aws.ToTime(p.LatestRestorableDateTime)
	}
	if s := dt.Table.StreamSpecification; s != nil && aws.ToBool(s.StreamEnabled) {
		info.StreamViewType = string(s.StreamViewType)
		info.StreamARN = aws.ToString(dt.Table.LatestStreamArn)
	}

	var problems []Problem
	if !info.PITREnabled {
		problems = append(problems, Problem{
			Check: "point-in-time recovery",
			Detail: "off; DynamoDB exports only tables with point-in-time recovery on, " +
				"and an export can reach back only to when it was turned on",
			Fix: []string{fmt.Sprintf("aws dynamodb update-continuous-backups --table-name %s --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true", info.Name)},
		})
	}
	enable := fmt.Sprintf("aws dynamodb update-table --table-name %s --stream-specification StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES", info.Name)
	switch types.StreamViewType(info.StreamViewType) {
	case types.StreamViewTypeNewAndOldImages, types.StreamViewTypeNewImage:
	case "":
		problems = append(problems, Problem{
			Check: "stream",
			Detail: "off; the stream carries every change made after the export's time to PostgreSQL, " +
				"so it must be on before the export starts (it keeps records for 24 hours)",
			Fix: []string{enable},
		})
	default:
		problems = append(problems, Problem{
			Check: "stream",
			Detail: fmt.Sprintf("its view type is %s; changes are applied from the item's new image, "+
				"so the stream must be NEW_AND_OLD_IMAGES or NEW_IMAGE. A view type cannot be changed in place: "+
				"disable the stream and enable it again. That creates a new stream with a new ARN: point the "+
				"stream consumer at it (run terraform apply again)", info.StreamViewType),
			Fix: []string{
				fmt.Sprintf("aws dynamodb update-table --table-name %s --stream-specification StreamEnabled=false", info.Name),
				enable,
			},
		})
	}
	if w := req.Incremental; w != nil && info.PITREnabled && !info.EarliestRestorable.IsZero() && w.From.Before(info.EarliestRestorable) {
		problems = append(problems, Problem{
			Check: "incremental window",
			Detail: fmt.Sprintf("--from %s is before the earliest restorable time %s; point-in-time recovery "+
				"holds no changes before it, so take a new full export instead",
				w.From.UTC().Format(time.RFC3339), info.EarliestRestorable.UTC().Format(time.RFC3339)),
		})
	}
	if len(problems) > 0 {
		return info, &PreconditionError{Table: info.Name, Problems: problems}
	}
	return info, nil
}
