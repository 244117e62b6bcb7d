//go:build soak

package apply_test

import (
	"fmt"
	"testing"
)

// TestSoakRandomHistories is `make soak`'s share: many more random histories.
func TestSoakRandomHistories(t *testing.T) {
	for seed := 1000; seed < 1300; seed++ {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { randomHistory(t, uint64(seed)) })
	}
}
