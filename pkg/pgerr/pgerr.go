// Package pgerr classifies PostgreSQL errors by SQLSTATE, never by message
// text: a retryable error means the same work may succeed if tried again
// (the transaction was rolled back and nothing of it is committed); a
// permanent one will fail again the same way.
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

// retryableStates are SQLSTATEs after which retrying the whole transaction
// is the documented remedy.
var retryableStates = map[string]bool{
	"40001": true, // serialization_failure
	"40P01": true, // deadlock_detected
	"55P03": true, // lock_not_available (lock_timeout)
	"57014": true, // query_canceled (statement_timeout); context cancels are caught first
	"57P01": true, // admin_shutdown
	"57P02": true, // crash_shutdown
	"57P03": true, // cannot_connect_now (starting up, recovery)
	"53300": true, // too_many_connections
	"53400": true, // configuration_limit_exceeded
	"08000": true, // connection_exception
	"08003": true, // connection_does_not_exist
	"08006": true, // connection_failure
	"08001": true, // sqlclient_unable_to_establish_sqlconnection
	"08004": true, // sqlserver_rejected_establishment_of_sqlconnection
	"08007": true, // transaction_resolution_unknown
	"25P03": true, // idle_in_transaction_session_timeout
	"40003": true, // statement_completion_unknown
}

// Classify returns the retry class of err. Errors without a SQLSTATE are
// retryable when they are network failures (the server went away) and
// permanent otherwise.
func Classify(err error) Class {
	if err == nil {
		return Permanent
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return Canceled
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if retryableStates[pgErr.Code] {
			return Retryable
		}
		return Permanent
	}
	// A certificate the client refuses is configuration (wrong CA bundle,
	// wrong host name), not weather: retrying cannot fix it.
	var certErr *tls.CertificateVerificationError
	var unknownCA x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalid x509.CertificateInvalidError
	if errors.As(err, &certErr) || errors.As(err, &unknownCA) || errors.As(err, &hostErr) || errors.As(err, &invalid) {
		return Permanent
	}
	if pgconn.SafeToRetry(err) || pgconn.Timeout(err) {
		return Retryable
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
		return Retryable
	}
	return Permanent
}

// IsRetryable reports whether Classify(err) is Retryable.
func IsRetryable(err error) bool { return Classify(err) == Retryable }

// Code returns err's SQLSTATE, or "" when it has none.
func Code(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}
