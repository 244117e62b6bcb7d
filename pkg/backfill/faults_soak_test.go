//go:build soak

package backfill_test

import (
	"testing"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
)

// TestSoakBackfillFaults is `make soak`'s share of the fault tests: many
// more restart points and kill points than `make test` tries.
func TestSoakBackfillFaults(t *testing.T) {
	f := newFaultFixture(t)
	cluster := teststack.PostgresCluster(t)
	for seed := uint64(100); seed < 140; seed++ {
		restartedRun(t, f, cluster, seed)
	}
	for seed := uint64(100); seed < 120; seed++ {
		killedRun(t, f, seed)
	}
}
