// Package lambdaenv names the environment variables the stream Lambda reads.
// It is its own package so that what deploys the function (the Terraform
// module, checked by terraform/hcltest) and the function itself share one
// list.
package lambdaenv

const (
	// Mapping is the mapping file's path (default: mapping.yaml beside the binary).
	Mapping = "DDB2PG_MAPPING"
	// DatabaseURL is the PostgreSQL URL (takes precedence over DatabaseSecretARN).
	DatabaseURL = "DATABASE_URL"
	// DatabaseSecretARN names a Secrets Manager secret in the RDS format
	// (host, port, username, password, dbname).
	DatabaseSecretARN = "DATABASE_SECRET_ARN"
	// DatabaseOptions is a query string added to the URL built from the
	// secret, e.g. "sslmode=verify-full&sslrootcert=/var/task/global-bundle.pem".
	DatabaseOptions = "DDB2PG_DATABASE_OPTIONS"
	// TTLDeletes is delete (default), ignore or soft.
	TTLDeletes = "DDB2PG_TTL_DELETES"
	// SoftDeleteColumn is the column "soft" sets (e.g. deleted_at).
	SoftDeleteColumn = "DDB2PG_SOFT_DELETE_COLUMN"
	// StateSchema is the bookkeeping schema (default ddb2pg).
	StateSchema = "DDB2PG_STATE_SCHEMA"
	// MaxConns is the pool size (default 2).
	MaxConns = "DDB2PG_MAX_CONNS"
	// ChunkRecords is the number of records per transaction (default: the whole batch).
	ChunkRecords = "DDB2PG_CHUNK_RECORDS"
	// MetricsNamespace is the CloudWatch namespace of the EMF metrics (default ddb2pg).
	MetricsNamespace = "DDB2PG_METRICS_NAMESPACE"
)

// All lists every setting the function reads.
var All = []string{Mapping, DatabaseURL, DatabaseSecretARN, DatabaseOptions, TTLDeletes,
	SoftDeleteColumn, StateSchema, MaxConns, ChunkRecords, MetricsNamespace}

// Required are those a deployment must always be able to set (issue 3): the
// mapping, the database as a URL or a secret, the TTL mode.
var Required = []string{Mapping, DatabaseURL, DatabaseSecretARN, TTLDeletes}
