//go:build soak

package apply_test

import (
	"fmt"
	"testing"
)

// TestSoakOrderIndependence is `make soak`'s share of TestOrderIndependence.
func TestSoakOrderIndependence(t *testing.T) {
	for seed := 2000; seed < 2060; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { orderIndependence(t, uint64(seed)) })
	}
}
