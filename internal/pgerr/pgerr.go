// Package pgerr classifies PostgreSQL errors by SQLSTATE, never by message
// text, and holds the one retry policy of the product.
//
// A retryable error means the same work may succeed if tried again (the
// transaction was rolled back and nothing of it is committed); a permanent
// one will fail again the same way. Among retryable errors, IsUnavailable
// and IsLockTimeout name the ones that say "not now" rather than "not like
// this": PostgreSQL is unreachable or restarting, or another session holds
// a lock. Those are worth waiting out for a span of time (Policy.MaxElapsed)
// instead of a number of attempts.
//
// Callers test errors through the predicates here, never through SQLSTATE
// literals of their own, and retry through Policy:
//
//   - a step that is safe to repeat: Policy{...}.Do(ctx, step);
//   - a loop that resumes from where it got (the poller's committed
//     prefix, the backfill's next file): r := p.Start(), then after each
//     failure `if err := r.Wait(ctx, err); err != nil { give up }`;
//   - waiting out PostgreSQL restarts, failovers and lock timeouts for a
//     span of time: OutagePolicy(max) with IsOutage;
//   - conflicts and other transient errors for a number of attempts:
//     Policy{MaxAttempts: n} with IsRetryable (the default).
//
// SessionTimeouts puts lock_timeout and idle_in_transaction_session_timeout
// on the product's sessions, so that lock waits end in LockNotAvailable,
// which the policy waits out.
package pgerr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
)

// SQLSTATE codes the product acts on, by their PostgreSQL names.
const (
	UniqueViolation            = "23505"
	ForeignKeyViolation        = "23503"
	SerializationFailure       = "40001"
	DeadlockDetected           = "40P01"
	StatementCompletionUnknown = "40003"
	LockNotAvailable           = "55P03" // lock_timeout, NOWAIT
	QueryCanceled              = "57014" // statement_timeout, pg_cancel_backend
	AdminShutdown              = "57P01" // fast shutdown, pg_terminate_backend
	CrashShutdown              = "57P02"
	CannotConnectNow           = "57P03" // starting up, shutting down, recovery
	TooManyConnections         = "53300"
	ConfigurationLimitExceeded = "53400"
	IdleInTransactionTimeout   = "25P03" // idle_in_transaction_session_timeout
	InvalidPassword            = "28P01"
	InvalidAuthorization       = "28000"
)

// Class is the retry class of an error.
type Class int

const (
	// Permanent errors fail again when retried: bad data, bad schema, bad SQL.
	Permanent Class = iota
	// Retryable errors are transient: serialization failures, deadlocks,
	// lock timeouts, lost connections, server shutdown, too many connections.
	Retryable
	// Canceled means the caller's context ended; neither retry nor report.
	Canceled
)

func (c Class) String() string {
	switch c {
	case Retryable:
		return "retryable"
	case Canceled:
		return "canceled"
	}
	return "permanent"
}

// unavailableStates say the server cannot do any work for this session now;
// the session is usually gone with them.
var unavailableStates = map[string]bool{
	AdminShutdown:              true,
	CrashShutdown:              true,
	CannotConnectNow:           true,
	TooManyConnections:         true,
	ConfigurationLimitExceeded: true,
	IdleInTransactionTimeout:   true, // the server closed the session
	"08000":                    true, // connection_exception
	"08001":                    true, // sqlclient_unable_to_establish_sqlconnection
	"08003":                    true, // connection_does_not_exist
	"08004":                    true, // sqlserver_rejected_establishment_of_sqlconnection
	"08006":                    true, // connection_failure
	"08007":                    true, // transaction_resolution_unknown
}

// conflictStates say another transaction got in the way; the remedy is to
// retry the whole transaction.
var conflictStates = map[string]bool{
	SerializationFailure: true,
	DeadlockDetected:     true,
}

// otherRetryableStates are retryable without being an outage or a conflict.
var otherRetryableStates = map[string]bool{
	LockNotAvailable:           true,
	QueryCanceled:              true, // statement_timeout; context cancels are caught first
	StatementCompletionUnknown: true,
}

// Classify returns the retry class of err. Errors without a SQLSTATE are
// retryable when they are network failures (the server went away) and
// permanent otherwise. An *ExhaustedError is permanent: its retries are spent.
func Classify(err error) Class {
	if err == nil {
		return Permanent
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Canceled
	}
	var ex *ExhaustedError
	if errors.As(err, &ex) {
		return Permanent
	}
	if code := Code(err); code != "" {
		if unavailableStates[code] || conflictStates[code] || otherRetryableStates[code] {
			return Retryable
		}
		return Permanent
	}
	if networkFailure(err) {
		return Retryable
	}
	return Permanent
}

// networkFailure reports whether err, which has no SQLSTATE, is the network
// or the server going away (as opposed to a configuration error).
func networkFailure(err error) bool {
	// A certificate the client refuses is configuration (wrong CA bundle,
	// wrong host name), not weather: retrying cannot fix it.
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) {
		return false
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return true
	}
	var netErr net.Error
	var connectErr *pgconn.ConnectError
	switch {
	case errors.As(err, &connectErr),
		errors.As(err, &netErr),
		errors.Is(err, io.EOF),
		errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNREFUSED),
		errors.Is(err, syscall.EPIPE):
		return true
	}
	return false
}

// IsRetryable reports whether Classify(err) is Retryable.
func IsRetryable(err error) bool { return Classify(err) == Retryable }

// IsUnavailable reports whether err says PostgreSQL cannot serve this
// session now: the connection was lost or refused, the server is shutting
// down, starting up or in recovery, or it has no connection slot free. Such
// an outage ends by itself (a restart, a failover); the work is retried on
// a new connection. Canceled and exhausted errors are not unavailable.
func IsUnavailable(err error) bool {
	if Classify(err) != Retryable {
		return false
	}
	if code := Code(err); code != "" {
		return unavailableStates[code]
	}
	return true // a network failure
}

// IsLockTimeout reports whether err is lock_not_available: lock_timeout
// expired (or NOWAIT failed) because another session holds a lock.
func IsLockTimeout(err error) bool { return hasCode(err, LockNotAvailable) }

// IsConflict reports whether err is a serialization failure or a deadlock:
// another transaction got in the way, and retrying the transaction is the
// documented remedy.
func IsConflict(err error) bool {
	return Classify(err) == Retryable && conflictStates[Code(err)]
}

// IsUniqueViolation reports whether err is unique_violation (23505).
func IsUniqueViolation(err error) bool { return hasCode(err, UniqueViolation) }

// IsForeignKeyViolation reports whether err is foreign_key_violation (23503).
func IsForeignKeyViolation(err error) bool { return hasCode(err, ForeignKeyViolation) }

// IsAuthFailure reports whether the server refused the credentials (class
// 28: a wrong or rotated password, an unknown role).
func IsAuthFailure(err error) bool {
	c := Code(err)
	return c == InvalidPassword || c == InvalidAuthorization
}

// IsDataRefused reports whether the server refused the values written, not
// the statement or the session: a data exception (class 22), an integrity
// constraint (class 23: not null, unique, foreign key, check, exclusion) or
// a program limit such as a row too big (class 54). Another record's values
// may well be accepted.
func IsDataRefused(err error) bool {
	c := Code(err)
	if len(c) != 5 {
		return false
	}
	switch c[:2] {
	case "22", "23", "54":
		return true
	}
	return false
}

// Code returns err's SQLSTATE, or "" when it has none.
func Code(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

func hasCode(err error, code string) bool { return Code(err) == code }
