package pgerr

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

var shutdown = fmt.Errorf("claiming: %w", &pgconn.PgError{Code: AdminShutdown, Message: "terminating connection"})

func TestPolicyDo(t *testing.T) {
	t.Parallel()
	permanent := &pgconn.PgError{Code: "42P01"}
	cases := []struct {
		name      string
		p         Policy
		fails     int   // op fails this many times, then succeeds
		failWith  error // what it fails with
		wantCalls int
		wantErr   func(error) bool
	}{
		{"succeeds after transient failures", Policy{Initial: time.Millisecond, MaxAttempts: 4}, 3, shutdown, 4, nil},
		{"attempts bound", Policy{Initial: time.Millisecond, MaxAttempts: 3}, 10, shutdown, 3,
			func(err error) bool {
				var ex *ExhaustedError
				return errors.As(err, &ex) && ex.Attempts == 3 && IsUnavailable(ex.Err)
			}},
		{"default bound is 5 attempts", Policy{Initial: time.Millisecond}, 10, shutdown, 5,
			func(err error) bool { var ex *ExhaustedError; return errors.As(err, &ex) }},
		{"permanent error at once", Policy{Initial: time.Millisecond, MaxAttempts: 9}, 10, permanent, 1,
			func(err error) bool { return errors.Is(err, permanent) }},
		{"own predicate", Policy{Initial: time.Millisecond, MaxAttempts: 9, Retryable: IsLockTimeout}, 10, shutdown, 1,
			func(err error) bool { return errors.Is(err, shutdown) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			err := c.p.Do(context.Background(), func(context.Context) error {
				calls++
				if calls <= c.fails {
					return c.failWith
				}
				return nil
			})
			if calls != c.wantCalls {
				t.Errorf("op called %d times, want %d", calls, c.wantCalls)
			}
			if c.wantErr == nil && err != nil || c.wantErr != nil && !c.wantErr(err) {
				t.Errorf("Do returned %v", err)
			}
		})
	}
}

// The time bound is kept to within one short wait, and the last attempt is
// made at the bound, not a whole backoff step before it.
func TestPolicyMaxElapsed(t *testing.T) {
	t.Parallel()
	p := Policy{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond, MaxElapsed: 500 * time.Millisecond}
	start := time.Now()
	var last time.Time
	err := p.Do(context.Background(), func(context.Context) error { last = time.Now(); return shutdown })
	var ex *ExhaustedError
	if !errors.As(err, &ex) {
		t.Fatalf("Do returned %v, want an ExhaustedError", err)
	}
	if d := last.Sub(start); d < 480*time.Millisecond || d > 900*time.Millisecond {
		t.Errorf("last attempt %v after the first, want at the 500ms bound", d)
	}
	if ex.Attempts < 4 {
		t.Errorf("%d attempts in 500ms of 20..200ms waits, want more", ex.Attempts)
	}
}

// Waits double from Initial up to Max, each between half and all of its step.
func TestPolicyBackoffGrowsWithJitter(t *testing.T) {
	t.Parallel()
	var waits []time.Duration
	p := Policy{Initial: time.Millisecond, Max: 8 * time.Millisecond, MaxAttempts: 7,
		OnRetry: func(_ error, _ int, d time.Duration) { waits = append(waits, d) }}
	_ = p.Do(context.Background(), func(context.Context) error { return shutdown })
	steps := []time.Duration{1, 2, 4, 8, 8, 8}
	if len(waits) != len(steps) {
		t.Fatalf("%d waits, want %d", len(waits), len(steps))
	}
	for i, w := range waits {
		step := steps[i] * time.Millisecond
		if w < step/2 || w > step {
			t.Errorf("wait %d is %v, want in [%v, %v]", i, w, step/2, step)
		}
	}
}

func TestPolicyStopsWithContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := Policy{Initial: time.Hour, MaxElapsed: 2 * time.Hour}.Do(ctx, func(context.Context) error { return shutdown })
	if !errors.Is(err, context.DeadlineExceeded) || Classify(err) != Canceled {
		t.Fatalf("Do returned %v, want the context's deadline", err)
	}
	if time.Since(start) > time.Second {
		t.Fatal("the wait did not end with the context")
	}
}
