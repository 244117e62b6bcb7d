//go:build soak

package apply_test

import (
	"fmt"
	"testing"
)

// TestSoakRandomHistories is `make soak`'s share: many more random histories, on
// every user schema.
func TestSoakRandomHistories(t *testing.T) {
	for _, us := range userSchemas() {
		for seed := 1000; seed < 1200; seed++ {
			t.Run(fmt.Sprint(us.name, "/seed", seed), func(t *testing.T) { randomHistory(t, us, uint64(seed)) })
		}
	}
}
