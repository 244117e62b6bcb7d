package pgerr

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"
)

// Policy is how work is retried after transient failures: exponential
// backoff with jitter, bounded by a number of attempts, by the time spent
// failing, or by both. The zero Policy is usable: 100 ms doubling up to
// 10 s, at most 5 attempts, retrying what IsRetryable accepts.
type Policy struct {
	// Initial is the first wait (default 100 ms); each further wait
	// doubles, up to Max (default 10 s). Each wait is drawn at random
	// between half and all of its step, so that workers that failed
	// together do not all retry at the same instant.
	Initial, Max time.Duration
	// MaxAttempts bounds the attempts, the first included (0: no bound by
	// count, but 5 when MaxElapsed is 0 too).
	MaxAttempts int
	// MaxElapsed bounds the time from the first failure of a streak to the
	// last attempt (0: no bound by time). The last wait is shortened so
	// that one attempt is made when the bound is reached.
	MaxElapsed time.Duration
	// Retryable tells which errors are retried (default IsRetryable). Do
	// returns any other error at once.
	Retryable func(error) bool
	// OnRetry, if set, is called before each wait (to log it): err is the
	// failure, attempt the number of attempts made so far.
	OnRetry func(err error, attempt int, wait time.Duration)
}

// ExhaustedError says a Policy's bound was reached: Err is the last
// failure. Classify calls it Permanent, so that an outer loop does not
// retry what an inner one gave up on.
type ExhaustedError struct {
	Attempts int
	Elapsed  time.Duration // from the first failure to the last
	Err      error
}

func (e *ExhaustedError) Error() string {
	return fmt.Sprintf("gave up after %d attempts in %s: %v", e.Attempts, e.Elapsed.Round(time.Millisecond), e.Err)
}

func (e *ExhaustedError) Unwrap() error { return e.Err }

// Retry is one streak of failures under a Policy: create it with Start
// before the first attempt, call Wait after each failed one. Not safe for
// concurrent use.
type Retry struct {
	p        Policy
	attempts int
	first    time.Time
}

// Start begins a streak.
func (p Policy) Start() *Retry {
	if p.Initial <= 0 {
		p.Initial = 100 * time.Millisecond
	}
	if p.Max <= 0 {
		p.Max = 10 * time.Second
	}
	if p.Max < p.Initial {
		p.Max = p.Initial
	}
	if p.MaxAttempts <= 0 && p.MaxElapsed <= 0 {
		p.MaxAttempts = 5
	}
	if p.Retryable == nil {
		p.Retryable = IsRetryable
	}
	return &Retry{p: p}
}

// Attempts is the number of failed attempts recorded by Wait.
func (r *Retry) Attempts() int { return r.attempts }

// Elapsed is the time since the first failure of the streak (0 before it).
func (r *Retry) Elapsed() time.Duration {
	if r.first.IsZero() {
		return 0
	}
	return time.Since(r.first)
}

// Wait records that an attempt failed with err. When the policy allows
// another attempt it sleeps the backoff and returns nil. It returns an
// *ExhaustedError wrapping err when the bound is reached, and ctx's error
// (wrapping err's text) when ctx ends first. Wait does not look at err's
// class: the caller decides what to retry.
func (r *Retry) Wait(ctx context.Context, err error) error {
	now := time.Now()
	if r.first.IsZero() {
		r.first = now
	}
	r.attempts++
	elapsed := now.Sub(r.first)
	p := r.p
	if (p.MaxAttempts > 0 && r.attempts >= p.MaxAttempts) || (p.MaxElapsed > 0 && elapsed >= p.MaxElapsed) {
		return &ExhaustedError{Attempts: r.attempts, Elapsed: elapsed, Err: err}
	}
	step := p.Max
	if shift := r.attempts - 1; shift < 30 && p.Initial<<shift < p.Max {
		step = p.Initial << shift
	}
	wait := step/2 + rand.N(step/2+1)
	if p.MaxElapsed > 0 && elapsed+wait > p.MaxElapsed {
		wait = p.MaxElapsed - elapsed
	}
	if p.OnRetry != nil {
		p.OnRetry(err, r.attempts, wait)
	}
	if serr := Sleep(ctx, wait); serr != nil {
		return fmt.Errorf("%w while retrying after: %v", serr, err)
	}
	return nil
}

// Do calls op until it succeeds, fails with an error the policy does not
// retry (returned as is), the policy is exhausted (*ExhaustedError), or ctx
// ends.
func (p Policy) Do(ctx context.Context, op func(ctx context.Context) error) error {
	r := p.Start()
	for {
		err := op(ctx)
		if err == nil {
			return nil
		}
		if ctx.Err() != nil || !r.p.Retryable(err) {
			return err
		}
		if werr := r.Wait(ctx, err); werr != nil {
			return werr
		}
	}
}

// Sleep waits d or until ctx ends, whichever comes first; it returns
// ctx.Err() in the second case.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// IsOutage reports whether err says the work cannot be done now for a
// reason outside it: PostgreSQL unavailable (IsUnavailable) or a lock held
// by another session past lock_timeout (IsLockTimeout). Such failures are
// waited out for a span of time (OutagePolicy), not a number of attempts.
func IsOutage(err error) bool { return IsUnavailable(err) || IsLockTimeout(err) }

// OutagePolicy waits out what IsOutage accepts for up to maxOutage from the
// first failure, with waits from 100 ms up to 5 s, so that work resumes
// within seconds of PostgreSQL coming back.
func OutagePolicy(maxOutage time.Duration) Policy {
	return Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second, MaxElapsed: maxOutage, Retryable: IsOutage}
}
