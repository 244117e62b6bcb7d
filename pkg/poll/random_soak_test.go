//go:build soak

package poll_test

import (
	"fmt"
	"testing"
)

// TestSoakRandomLineage is `make soak`'s share: many more random lineages.
func TestSoakRandomLineage(t *testing.T) {
	for seed := 1000; seed < 1150; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { randomLineage(t, uint64(seed)) })
	}
}
