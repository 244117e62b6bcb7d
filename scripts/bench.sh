#!/usr/bin/env bash
# make bench: builds ddb2pg and runs the benchmark suites on a private local
# stack. Every target is a ratio against a baseline measured in the same run
# on the same machine (shared machines are noisy; absolute numbers are not
# comparable between runs). Pass suite names to run a subset:
#   scripts/bench.sh backfill
#   BENCH_FLAGS='-orders 50000' scripts/bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh >/dev/null
go build -o bin/ddb2pg ./cmd/ddb2pg
go build -o bin/bench ./scripts/bench
# shellcheck disable=SC2086 # BENCH_FLAGS is a list of flags
# A durable PostgreSQL: see scripts/stack.sh.
STACK_PG_DURABLE=1 exec scripts/stack.sh run -- bin/bench ${BENCH_FLAGS:-} "$@"
