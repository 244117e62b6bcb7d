package main

import (
	"os"
	"runtime/debug"
)

// tuneGC trades memory for CPU within a bound: backfill and verify allocate
// many short-lived values (decoded items, rows), and the default GC pace
// spends a large share of the CPU collecting them. A higher GOGC collects
// less often; the soft memory limit makes the collector work harder before
// the heap passes limit, so peak RSS stays bounded. GOGC / GOMEMLIMIT in the
// environment override both.
func tuneGC(percent int, limit int64) {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(percent)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(limit)
	}
}
