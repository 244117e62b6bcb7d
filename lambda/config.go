package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/lambda/lambdaenv"
	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
)

type settings struct {
	mappingPath      string
	databaseURL      string
	secretARN        string
	dbOptions        string
	ttl              apply.TTLMode
	softDeleteColumn string
	stateSchema      string
	maxConns         int
	chunk            int
	namespace        string
}

func readSettings(getenv func(string) string) (settings, error) {
	s := settings{
		mappingPath:      getenv(lambdaenv.Mapping),
		databaseURL:      getenv(lambdaenv.DatabaseURL),
		secretARN:        getenv(lambdaenv.DatabaseSecretARN),
		dbOptions:        getenv(lambdaenv.DatabaseOptions),
		softDeleteColumn: getenv(lambdaenv.SoftDeleteColumn),
		stateSchema:      getenv(lambdaenv.StateSchema),
		maxConns:         2,
		namespace:        getenv(lambdaenv.MetricsNamespace),
	}
	if s.mappingPath == "" {
		exe, err := os.Executable()
		if err != nil {
			return s, fmt.Errorf("locating the mapping beside the binary: %w", err)
		}
		s.mappingPath = filepath.Join(filepath.Dir(exe), "mapping.yaml")
	}
	if s.databaseURL == "" && s.secretARN == "" {
		return s, fmt.Errorf("no database: set %s or %s", lambdaenv.DatabaseURL, lambdaenv.DatabaseSecretARN)
	}
	var err error
	if s.ttl, err = apply.ParseTTLMode(getenv(lambdaenv.TTLDeletes)); err != nil {
		return s, fmt.Errorf("%s: %w", lambdaenv.TTLDeletes, err)
	}
	if s.ttl == apply.TTLSoft && s.softDeleteColumn == "" {
		return s, fmt.Errorf("%s=soft needs %s (the timestamptz column to set, e.g. deleted_at)", lambdaenv.TTLDeletes, lambdaenv.SoftDeleteColumn)
	}
	if v := getenv(lambdaenv.MaxConns); v != "" {
		if s.maxConns, err = strconv.Atoi(v); err != nil || s.maxConns < 1 {
			return s, fmt.Errorf("%s=%q: want a positive integer", lambdaenv.MaxConns, v)
		}
	}
	if v := getenv(lambdaenv.ChunkRecords); v != "" {
		if s.chunk, err = strconv.Atoi(v); err != nil || s.chunk < 0 {
			return s, fmt.Errorf("%s=%q: want a non-negative integer", lambdaenv.ChunkRecords, v)
		}
	}
	if s.namespace == "" {
		s.namespace = "ddb2pg"
	}
	if _, err := ledger.New(s.stateSchema); err != nil {
		return s, fmt.Errorf("%s: %w", lambdaenv.StateSchema, err)
	}
	return s, nil
}

// rdsSecret is the JSON of an RDS-format Secrets Manager secret.
type rdsSecret struct {
	Host     string          `json:"host"`
	Port     json.RawMessage `json:"port"` // a number or a string
	Username string          `json:"username"`
	Password string          `json:"password"`
	DBName   string          `json:"dbname"`
}

// secretURL builds a PostgreSQL URL from an RDS-format secret and extra options.
func secretURL(secret, options string) (string, error) {
	var s rdsSecret
	if err := json.Unmarshal([]byte(secret), &s); err != nil {
		return "", fmt.Errorf("the database secret is not RDS-format JSON: %w", err)
	}
	if s.Host == "" || s.Username == "" {
		return "", errors.New("the database secret lacks host or username")
	}
	port := strings.Trim(string(s.Port), `"`)
	if port == "" || port == "null" {
		port = "5432"
	}
	if _, err := strconv.Atoi(port); err != nil {
		return "", fmt.Errorf("the database secret's port %q is not a number", port)
	}
	u := url.URL{Scheme: "postgres", User: url.UserPassword(s.Username, s.Password), Host: s.Host + ":" + port, Path: "/" + s.DBName}
	if options != "" {
		if _, err := url.ParseQuery(options); err != nil {
			return "", fmt.Errorf("%s: %w", lambdaenv.DatabaseOptions, err)
		}
		u.RawQuery = options
	}
	return u.String(), nil
}

// SecretsAPI is the part of the Secrets Manager client the function uses.
type SecretsAPI interface {
	GetSecretValue(ctx context.Context, in *secretsmanager.GetSecretValueInput, opts ...func(*secretsmanager.Options)) (*secretsmanager.GetSecretValueOutput, error)
}

func fetchSecretURL(ctx context.Context, c SecretsAPI, arn, options string) (string, error) {
	out, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String(arn)})
	if err != nil {
		return "", fmt.Errorf("reading the database secret %s: %w", arn, err)
	}
	return secretURL(aws.ToString(out.SecretString), options)
}

// poolConfig parses the URL for Lambda: a small pool, and the simple
// "exec" query mode (no server-side prepared statements, so RDS Proxy and
// PgBouncer in transaction mode work) unless the URL chooses another.
func poolConfig(dsn string, maxConns int) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("database URL: %w", err)
	}
	if !strings.Contains(dsn, "default_query_exec_mode") {
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	cfg.MaxConns = int32(maxConns)
	cfg.MinConns = 0
	cfg.ConnConfig.RuntimeParams["application_name"] = "ddb2pg-lambda"
	pgerr.LambdaSessions.Apply(cfg.ConnConfig.RuntimeParams) // a frozen sandbox cannot hold locks for long
	return cfg, nil
}
