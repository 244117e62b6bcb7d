// Command bench measures ddb2pg against baselines measured in the same run
// on the same machine, and prints the ratios the issues set as targets.
// Machines are shared and noisy: only ratios within one run mean anything.
//
//	go run ./scripts/bench [-orders 200000] [-files 16] [suite ...]
//
// It needs the local stack's environment (scripts/stack.sh env) and a built
// bin/ddb2pg; `make bench` provides both.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
)

// suite is one group of measurements.
type suite struct {
	name string
	run  func(ctx context.Context, o *options) ([]measure, error)
}

// measure is one reported figure, with its target when it has one.
type measure struct {
	name   string
	value  float64
	unit   string
	target string // e.g. "<= 1.5"
	ok     *bool
}

type options struct {
	orders, files int
	bin           string
	cache         string
	databaseURL   string
}

var suites = map[string]suite{}

func register(s suite) { suites[s.name] = s }

func main() {
	var o options
	flag.IntVar(&o.orders, "orders", 200_000, "orders in the generated export")
	flag.IntVar(&o.files, "files", 16, "data files in the generated export")
	flag.StringVar(&o.bin, "bin", "bin/ddb2pg", "the ddb2pg binary to measure")
	flag.Parse()
	o.databaseURL = os.Getenv("DATABASE_URL")
	if o.databaseURL == "" {
		fmt.Fprintln(os.Stderr, "bench: DATABASE_URL is not set: run through `make bench`, or source the env that scripts/stack.sh writes")
		os.Exit(2)
	}
	home, _ := os.UserHomeDir()
	o.cache = os.Getenv("DDB2PG_CACHE")
	if o.cache == "" {
		o.cache = home + "/.cache/ddb2pg"
	}
	names := flag.Args()
	if len(names) == 0 {
		for n := range suites {
			names = append(names, n)
		}
		sort.Strings(names)
	}
	ctx := context.Background()
	failed := false
	for _, n := range names {
		s, ok := suites[n]
		if !ok {
			fmt.Fprintf(os.Stderr, "bench: unknown suite %q\n", n)
			os.Exit(2)
		}
		fmt.Printf("== %s\n", n)
		ms, err := s.run(ctx, &o)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: %v\n", n, err)
			failed = true
			continue
		}
		for _, m := range ms {
			line := fmt.Sprintf("  %-52s %12.2f %s", m.name, m.value, m.unit)
			if m.target != "" {
				verdict := "MET"
				if m.ok != nil && !*m.ok {
					verdict = "MISSED"
				}
				line += fmt.Sprintf("   target %s: %s", m.target, verdict)
			}
			fmt.Println(strings.TrimRight(line, " "))
		}
	}
	if failed {
		os.Exit(1)
	}
}

func boolp(b bool) *bool { return &b }
