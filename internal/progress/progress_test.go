package progress

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestLine(t *testing.T) {
	t.Parallel()
	cases := []struct {
		s    Snapshot
		want []string
	}{
		{Snapshot{Step: "backfill", FilesDone: 7, FilesTotal: 16, Items: 50000, ItemsTotal: 200000, Elapsed: 5 * time.Second},
			[]string{"backfill [=======>", " 25% ", "files 7/16", "items 50,000/200,000", "10,000/s", "ETA 15s"}},
		{Snapshot{Step: "backfill", Items: 10, ItemsTotal: 10, Rejected: 2, Elapsed: time.Second},
			[]string{"100%", "rejected 2"}},
		{Snapshot{Step: "verify", Items: 1200, Elapsed: time.Second}, []string{"  0%", "items 1,200 ", "1,200/s"}},
	}
	for _, c := range cases {
		got := Line(c.s, 30)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("Line(%+v) = %q, missing %q", c.s, got, w)
			}
		}
	}
}

func TestRendererTerminalRedraws(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	r := NewRenderer(&buf, true, time.Second, nil)
	r.Update(Snapshot{Step: "x", Items: 1, ItemsTotal: 2})
	r.Done()
	if !strings.HasPrefix(buf.String(), "\r\033[K") || !strings.HasSuffix(buf.String(), "\n") {
		t.Fatalf("terminal output %q should redraw in place and end the line", buf.String())
	}
}

func TestLineOmitsUnknownTotals(t *testing.T) {
	t.Parallel()
	if got := Line(Snapshot{Step: "verify", Items: 5}, 10); strings.Contains(got, "files") || strings.Contains(got, "/0") {
		t.Errorf("Line without totals = %q; want no files part and no /0", got)
	}
}
