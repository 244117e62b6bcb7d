package verify

import (
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
)

func TestMain(m *testing.M) { os.Exit(teststack.Run(m)) }

func testPostgres(t *testing.T) string { return teststack.Postgres(t) }

func testDynamoDB(t *testing.T) *dynamodb.Client { return teststack.DynamoDB(t).Client(t) }
