package stream

import (
	"fmt"
	"testing"

	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/dynamodbstreams/types"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
)

// TestEveryFamilyRejectsTheSameNumbers: a number attribute arrives through
// four families — the DynamoDB SDK (Scan, GetItem), the Streams API, a
// Lambda event, an export line — and each accepts and refuses exactly the
// same texts (ddbitem's one number rule).
func TestEveryFamilyRejectsTheSameNumbers(t *testing.T) {
	for _, c := range []struct {
		text string
		ok   bool
	}{
		{"1", true}, {"-1.50", true}, {"1E+2", true}, {"0.000", true}, {"1e-130", true},
		{"", false}, {"abc", false}, {"1.2.3", false}, {"--1", false}, {"1e", false},
		{"NaN", false}, {"Infinity", false}, {" 1", false}, {"0x10", false}, {"1_000", false},
	} {
		t.Run(fmt.Sprintf("%q", c.text), func(t *testing.T) {
			results := map[string]bool{}
			_, err := ddbitem.FromAttributeValue(&ddbtypes.AttributeValueMemberN{Value: c.text})
			results["sdk N"] = err == nil
			_, err = ddbitem.FromAttributeValue(&ddbtypes.AttributeValueMemberNS{Value: []string{"1", c.text}})
			results["sdk NS"] = err == nil
			_, err = SDKItem(map[string]types.AttributeValue{"n": &types.AttributeValueMemberN{Value: c.text}})
			results["streams N"] = err == nil
			_, err = SDKItem(map[string]types.AttributeValue{"n": &types.AttributeValueMemberNS{Value: []string{"1", c.text}}})
			results["streams NS"] = err == nil
			ev := fmt.Sprintf(`{"Records":[{"eventID":"1","eventName":"INSERT","eventSource":"aws:dynamodb",
				"dynamodb":{"Keys":{"pk":{"S":"a"}},"NewImage":{"pk":{"S":"a"},"n":{"N":%q}},
				"SequenceNumber":"100000000000000000001","StreamViewType":"NEW_AND_OLD_IMAGES"}}]}`, c.text)
			recs, err := DecodeLambdaEvent([]byte(ev))
			results["lambda N"] = err == nil && len(recs) == 1 && recs[0].Err == nil
			_, err = ddbjson.DecodeExportLine([]byte(fmt.Sprintf(`{"Item":{"pk":{"S":"a"},"n":{"N":%q}}}`, c.text)))
			results["export N"] = err == nil
			for family, ok := range results {
				if ok != c.ok {
					t.Errorf("%s: accepted=%v, want %v", family, ok, c.ok)
				}
			}
		})
	}
}
