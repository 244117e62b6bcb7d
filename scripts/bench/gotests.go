package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
)

// The stream and verify measurements live beside their packages as Go
// tests/benchmarks (they need the packages' test fixtures); these suites run
// them against the bench's stack and show what they print: each reports its
// own ratio against a baseline measured in the same run.
func init() {
	register(suite{name: "stream", run: goTestSuite("DDB2PG_BENCH=1",
		"test", "-count=1", "-run", "^TestApplyThroughput$", "-v", "./pkg/apply/")})
	register(suite{name: "poller", run: goTestSuite("DDB2PG_BENCH=1",
		"test", "-count=1", "-run", "^TestPollerBench$", "-v", "-timeout", "20m", "./pkg/poll/")})
	register(suite{name: "verify", run: goTestSuite("DDB2PG_BENCH_ITEMS=200000",
		"test", "-count=1", "-run", "^$", "-bench", "^BenchmarkVerifyVsScan$", "-benchtime", "1x", "-timeout", "30m", "./pkg/verify/")})
}

func goTestSuite(env string, args ...string) func(context.Context, *options) ([]measure, error) {
	return func(ctx context.Context, _ *options) ([]measure, error) {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Env = append(os.Environ(), env)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go %v: %w", args, err)
		}
		return nil, nil
	}
}
