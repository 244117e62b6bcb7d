package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/term"

	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/pgerr"
	"github.com/ddb2pg/ddb2pg/pkg/progress"
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
