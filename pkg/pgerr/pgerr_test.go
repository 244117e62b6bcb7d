package pgerr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return fmt.Errorf("applying: %w", &pgconn.PgError{Code: code, Message: "x"}) }
	cases := []struct {
		name string
		err  error
		want Class
	}{
		{"serialization failure", pg("40001"), Retryable},
		{"deadlock", pg("40P01"), Retryable},
		{"lock timeout", pg("55P03"), Retryable},
		{"admin shutdown", pg("57P01"), Retryable},
		{"too many connections", pg("53300"), Retryable},
		{"connection failure", pg("08006"), Retryable},
		{"unique violation", pg("23505"), Permanent},
		{"not null violation", pg("23502"), Permanent},
		{"undefined table", pg("42P01"), Permanent},
		{"invalid text", pg("22P02"), Permanent},
		{"untranslatable character", pg("22P05"), Permanent},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), Canceled},
		{"unexpected eof", fmt.Errorf("reading: %w", io.ErrUnexpectedEOF), Retryable},
		{"plain error", errors.New("boom"), Permanent},
		{"connect error without a cause", &pgconn.ConnectError{Config: &pgconn.Config{}}, Retryable},
		{"certificate from an unknown CA", fmt.Errorf("connecting: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), Permanent},
		{"certificate for another host", fmt.Errorf("connecting: %w", x509.HostnameError{Host: "db"}), Permanent},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := Classify(c.err); got != c.want {
				t.Fatalf("Classify(%v) = %v, want %v", c.err, got, c.want)
			}
		})
	}
	if Code(pg("40001")) != "40001" || Code(errors.New("x")) != "" {
		t.Fatal("Code does not unwrap the SQLSTATE")
	}
}
