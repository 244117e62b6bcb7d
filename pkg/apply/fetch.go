package apply

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// GetItemAPI is the part of the DynamoDB client the fetcher uses.
type GetItemAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, opts ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
}

// DynamoDBFetcher reads items with strongly consistent GetItem calls, for
// KEYS_ONLY streams.
type DynamoDBFetcher struct {
	Client GetItemAPI
	Table  string
}

// GetItem implements Fetcher.
func (f *DynamoDBFetcher) GetItem(ctx context.Context, keys ddbitem.Item) (ddbitem.Item, bool, error) {
	out, err := f.Client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(f.Table),
		Key:            keys.AttributeValues(),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, false, err
	}
	if out.Item == nil {
		return nil, false, nil
	}
	it, err := ddbitem.ItemFromAttributeValues(out.Item)
	return it, err == nil, err
}
