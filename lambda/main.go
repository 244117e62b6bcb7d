// Command bootstrap is ddb2pg's AWS Lambda function: it consumes a DynamoDB
// stream (an event source mapping with ReportBatchItemFailures) and applies
// each batch to PostgreSQL through the mapping, with the same engine as the
// `ddb2pg stream` poller. Build it with `make lambda` (provided.al2023,
// -tags lambda.norpc); its settings are in config.go and docs/stream.md.
package main

import (
	"context"
	"log/slog"
	"os"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"

	"github.com/ddb2pg/ddb2pg/pkg/apply"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx := context.Background()
	awsCfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		log.Error("loading the AWS configuration", "error", err.Error())
		os.Exit(1)
	}
	fetcher := &apply.DynamoDBFetcher{Client: dynamodb.NewFromConfig(awsCfg)}
	f, err := newFunction(ctx, os.Getenv, log, os.Stdout, fetcher, secretsmanager.NewFromConfig(awsCfg))
	if err != nil {
		// Failing init makes Lambda report the configuration error.
		log.Error("configuration", "error", err.Error())
		os.Exit(1)
	}
	lambda.Start(f.handle)
}
