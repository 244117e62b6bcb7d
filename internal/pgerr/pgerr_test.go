package pgerr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"slices"
	"syscall"
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
	if got := Classify(&ExhaustedError{Attempts: 3, Err: pg("57P01")}); got != Permanent {
		t.Fatalf("an exhausted retry is %v, want permanent (an outer loop must not retry it)", got)
	}
}

// TestPredicates pins each named predicate to the SQLSTATEs it covers, and
// checks that they see through wrapping.
func TestPredicates(t *testing.T) {
	t.Parallel()
	pg := func(code string) error { return fmt.Errorf("writing: %w", &pgconn.PgError{Code: code, Message: "x"}) }
	refused := fmt.Errorf("dial: %w", syscall.ECONNREFUSED)
	preds := map[string]func(error) bool{
		"unavailable": IsUnavailable, "outage": IsOutage, "lock timeout": IsLockTimeout, "conflict": IsConflict,
		"unique": IsUniqueViolation, "foreign key": IsForeignKeyViolation, "auth": IsAuthFailure, "data": IsDataRefused,
	}
	cases := []struct {
		err  error
		want []string // the predicates that hold
	}{
		{pg("57P01"), []string{"unavailable", "outage"}},
		{pg("57P03"), []string{"unavailable", "outage"}},
		{pg("53300"), []string{"unavailable", "outage"}},
		{pg("08006"), []string{"unavailable", "outage"}},
		{pg("25P03"), []string{"unavailable", "outage"}},
		{refused, []string{"unavailable", "outage"}},
		{&pgconn.ConnectError{Config: &pgconn.Config{}}, []string{"unavailable", "outage"}},
		{pg("55P03"), []string{"lock timeout", "outage"}},
		{pg("40001"), []string{"conflict"}},
		{pg("40P01"), []string{"conflict"}},
		{pg("23505"), []string{"unique", "data"}},
		{pg("23503"), []string{"foreign key", "data"}},
		{pg("23514"), []string{"data"}},
		{pg("22021"), []string{"data"}},
		{pg("54000"), []string{"data"}},
		{pg("28P01"), []string{"auth"}},
		{pg("28000"), []string{"auth"}},
		{pg("42P01"), nil},
		{fmt.Errorf("x: %w", context.Canceled), nil},
		{&ExhaustedError{Err: pg("57P01")}, nil},
		{errors.New("boom"), nil},
	}
	for _, c := range cases {
		for name, pred := range preds {
			if got, want := pred(c.err), slices.Contains(c.want, name); got != want {
				t.Errorf("%s(%v) = %v, want %v", name, c.err, got, want)
			}
		}
	}
}
