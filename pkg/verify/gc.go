package verify

// Verify allocates at a high rate but keeps little alive (memory is bounded
// by chunk size × segments), so with the default GOGC=100 the collector runs
// very often and takes CPU that DynamoDB and PostgreSQL need too. The
// library does not touch process-wide settings itself; programs that run
// verify (cmd/ddb2pg, the benchmark) apply these.
const (
	// GCPercent lets the heap grow to 5× the live data between collections.
	GCPercent     = 400
	gcLimitBase   = 200 << 20 // up to 8 segments
	gcLimitPerSeg = 25 << 20
)

// MemoryLimit is the soft memory limit that keeps a run with the given
// number of segments bounded under GCPercent.
func MemoryLimit(segments int) int64 {
	return max(int64(gcLimitBase), int64(segments)*gcLimitPerSeg)
}
