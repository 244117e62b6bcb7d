package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/logging"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/term"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/internal/progress"
	"github.com/ddb2pg/ddb2pg/pkg/export"
	"github.com/ddb2pg/ddb2pg/pkg/infer"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

// databaseURL returns the flag's value, else $DATABASE_URL.
func databaseURL(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	if env := os.Getenv("DATABASE_URL"); env != "" {
		return env, nil
	}
	return "", usageError{errors.New("no database: pass --database-url or set DATABASE_URL")}
}

// openPool connects with at most maxConns connections and checks the server
// answers. Its sessions get pgerr.CLISessions' lock_timeout and
// idle_in_transaction_session_timeout unless the URL sets them.
func openPool(ctx context.Context, url string, maxConns int) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, usageError{fmt.Errorf("--database-url: %w", err)}
	}
	if maxConns > 0 {
		cfg.MaxConns = int32(maxConns)
	}
	cfg.ConnConfig.RuntimeParams["application_name"] = "ddb2pg"
	pgerr.CLISessions.Apply(cfg.ConnConfig.RuntimeParams)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connecting to PostgreSQL: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// A server that answers "not now" (starting up, shutting down, no
	// connection slot free) is waited for; one that cannot be reached at
	// all is more likely a wrong URL, reported at once.
	notNow := pgerr.OutagePolicy(25 * time.Second)
	notNow.Retryable = func(err error) bool { return pgerr.IsUnavailable(err) && pgerr.Code(err) != "" }
	if err := notNow.Do(pingCtx, pool.Ping); err != nil {
		pool.Close()
		return nil, connectError(cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.User, err)
	}
	return pool, nil
}

// loadMapping reads and validates the mapping file; an invalid mapping is the
// user's input being wrong (exit 2), reported with its lines.
func loadMapping(path string) (*mapping.Mapping, error) {
	if path == "" {
		return nil, usageError{errors.New("--mapping is required")}
	}
	m, err := mapping.Load(path)
	if err != nil {
		return nil, usageError{fmt.Errorf("invalid mapping:\n%w", err)}
	}
	return m, nil
}

// progressModes are the words --progress takes.
var progressModes = []string{"auto", "bar", "log", "none"}

// progressRenderer picks how progress is shown: "auto" draws a bar when
// stderr is a terminal and logs periodic lines otherwise.
func progressRenderer(mode string) (*progress.Renderer, error) {
	log, err := logger()
	if err != nil {
		return nil, err
	}
	tty := term.IsTerminal(int(os.Stderr.Fd()))
	switch mode {
	case "auto":
	case "bar":
		tty = true
	case "log":
		tty = false
	case "none":
		return nil, nil
	default:
		return nil, usageError{fmt.Errorf("--progress %q: want auto, bar, log or none", mode)}
	}
	return progress.NewRenderer(os.Stderr, tty, 10*time.Second, log), nil
}

// connectError says why the first connection failed. A refused login is
// said as such: with sslmode=prefer (the default) pgx lists its TLS attempt
// first, and "server refused TLS connection" then hides the real cause.
func connectError(host string, port uint16, user string, err error) error {
	if pgerr.IsAuthFailure(err) {
		var pgErr *pgconn.PgError
		errors.As(err, &pgErr)
		return fmt.Errorf("PostgreSQL at %s:%d refused the login of user %q: %s (SQLSTATE %s): check the user name and password in --database-url or DATABASE_URL",
			host, port, user, pgErr.Message, pgErr.Code)
	}
	return fmt.Errorf("connecting to PostgreSQL at %s:%d: %w", host, port, err)
}

// awsConfig loads the standard AWS SDK configuration and makes sure it
// yields credentials before any work starts, so that a missing credential is
// said once, in words, instead of as the SDK's chain of provider errors
// (repeated by every call that needed it).
func awsConfig(ctx context.Context) (aws.Config, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithLogger(sdkLogger{logging.NewStandardLogger(os.Stderr)}))
	if err != nil {
		return cfg, usageError{fmt.Errorf("loading the AWS configuration (AWS_PROFILE, AWS_CONFIG_FILE, ~/.aws/config): %w", err)}
	}
	if err := checkAWSCredentials(ctx, cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// sdkLogger passes the AWS SDK's log lines on, except its notice that the
// instance metadata service did not hand out an IMDSv2 token: off EC2 that is
// every run without credentials, and the missing credentials are said in
// words instead.
type sdkLogger struct{ next logging.Logger }

func (l sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	if strings.HasPrefix(format, "falling back to IMDSv1") {
		return
	}
	l.next.Logf(c, format, v...)
}

// checkAWSCredentials retrieves the configuration's credentials (the result
// is cached for the clients made from cfg). When the chain fell through to
// the last source, the EC2 instance role, and found none there either, no
// source had any: that is said with the sources tried and how to set one.
// Any other failure (an expired SSO session, a refused role) keeps the SDK's
// own reason.
func checkAWSCredentials(ctx context.Context, cfg aws.Config) error {
	if cfg.Credentials == nil {
		return nil
	}
	_, err := cfg.Credentials.Retrieve(ctx)
	switch {
	case err == nil:
		return nil
	case strings.Contains(err.Error(), "EC2 IMDS"):
		return usageError{errors.New(noAWSCredentials())}
	}
	return fmt.Errorf("getting AWS credentials: %w", err)
}

// noAWSCredentials says which sources the SDK's default chain looked in
// (as this process's environment set them up) and how to set one.
func noAWSCredentials() string {
	env := "not set"
	switch id, secret := os.Getenv("AWS_ACCESS_KEY_ID") != "", os.Getenv("AWS_SECRET_ACCESS_KEY") != ""; {
	case id && !secret:
		env = "only AWS_ACCESS_KEY_ID is set: both are needed"
	case secret && !id:
		env = "only AWS_SECRET_ACCESS_KEY is set: both are needed"
	}
	profile := `profile "default" (set AWS_PROFILE for another)`
	if p := os.Getenv("AWS_PROFILE"); p != "" {
		profile = fmt.Sprintf("profile %q (from AWS_PROFILE)", p)
	}
	files := "~/.aws/config and ~/.aws/credentials"
	if f := os.Getenv("AWS_CONFIG_FILE"); f != "" {
		files = "$AWS_CONFIG_FILE"
	}
	return fmt.Sprintf(`no AWS credentials found. Looked in, in order:
  - the environment variables AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: %s
  - the shared config files (%s), %s: no keys, SSO session or role there
  - an ECS task role or EC2 instance role: none reachable
Set one, for example:
  export AWS_PROFILE=NAME   (a profile made by 'aws configure', or 'aws configure sso' then 'aws sso login')
  export AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...   (DynamoDB Local and MinIO accept any non-empty keys)`, env, files, profile)
}

// checkS3Credentials makes sure an s3:// export can be read with the
// standard AWS configuration's credentials (a local folder needs none).
func checkS3Credentials(ctx context.Context, uri string) error {
	if !strings.HasPrefix(uri, "s3://") {
		return nil
	}
	_, err := awsConfig(ctx)
	return err
}

// checkedItems is how many items from the start of an export are checked
// against the mapping before anything is written.
const checkedItems = 1000

// checkMappingOnExport refuses (exit 2) a mapping that the export's first
// items show cannot work, e.g. a from: path into a list outside for_each,
// which would reject nearly every item. An export that cannot be read here
// is left to the load to report.
func checkMappingOnExport(ctx context.Context, m *mapping.Mapping, exp *export.Export, log *slog.Logger) (int, error) {
	items, err := infer.FirstItems(ctx, exp, checkedItems)
	if err != nil {
		log.Warn("could not read the export's first items to check the mapping against them", "err", err)
		return 0, nil
	}
	if err := m.CheckSample(items); err != nil {
		return len(items), usageError{fmt.Errorf("the mapping does not fit export %s (checked on its first %d items):\n%w", exp.Location(), len(items), err)}
	}
	return len(items), nil
}
