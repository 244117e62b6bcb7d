package main

import (
	"strings"
	"testing"
)

// TestVersionAndStrayArguments: --version and -v answer like `ddb2pg
// version`; a mapping file given as an argument is refused with the flag to
// use, other stray arguments with a pointer to --help (exit 2 each).
func TestVersionAndStrayArguments(t *testing.T) {
	t.Parallel()
	want := runBin(t, nil, "version")
	if want.code != 0 || !strings.HasPrefix(want.stdout, "ddb2pg ") {
		t.Fatalf("version: exit %d, %q %q", want.code, want.stdout, want.stderr)
	}
	for _, flag := range []string{"--version", "-v"} {
		r := runBin(t, nil, flag)
		if r.code != 0 || r.stdout != want.stdout {
			t.Errorf("%s: exit %d, stdout %q, want %q", flag, r.code, r.stdout, want.stdout)
		}
	}
	for _, c := range []struct {
		args []string
		in   string
	}{
		{[]string{"schema", "mapping.yaml"}, "pass the mapping as --mapping mapping.yaml"},
		{[]string{"backfill", "orders.yml"}, "pass the mapping as --mapping orders.yml"},
		{[]string{"verify", "now"}, `verify takes no arguments, got "now"`},
		{[]string{"export", "Orders"}, "see ddb2pg export --help"},
	} {
		r := runBin(t, nil, c.args...)
		if r.code != 2 || !strings.Contains(r.stderr, c.in) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, r.code, r.stderr, c.in)
		}
	}
}
