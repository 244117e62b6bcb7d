package status

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/ledger"
)

// A shard's line breaks where the poller recorded nothing for longer than
// gapAfter (it stopped, or the shard was idle), and only there; labels are
// escaped.
func TestLagChartBreaksAtGaps(t *testing.T) {
	t0 := time.Date(2026, 12, 8, 0, 0, 0, 0, time.UTC)
	r := &Report{SourceTable: "Orders", At: t0.Add(3 * time.Hour)}
	add := func(shard string, at time.Duration, lag float64) {
		r.LagHistory = append(r.LagHistory, ledger.LagSample{StreamARN: "arn:aws:dynamodb:r:1:table/Orders/stream/x",
			ShardID: shard, At: t0.Add(at), Lag: lag})
	}
	for i := range 4 {
		add("a", time.Duration(i)*30*time.Second, float64(i))
	}
	for i := range 3 {
		add("a", 2*time.Hour+time.Duration(i)*30*time.Second, 9)
	}
	add(`b<"&>`, time.Minute, 1)
	add(`b<"&>`, time.Minute+gapAfter, 1) // exactly gapAfter: no break
	var buf bytes.Buffer
	if err := r.HTML(&buf); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	got := regexp.MustCompile(`data-shard="([^"]*)"[^>]* points="([^"]*)"`).FindAllStringSubmatch(page, -1)
	var segs []string
	for _, g := range got {
		segs = append(segs, g[1]+":"+string(rune('0'+len(strings.Fields(g[2])))))
	}
	want := "a:4 a:3 b&lt;&#34;&amp;&gt;:2"
	if strings.Join(segs, " ") != want {
		t.Errorf("segments %v, want %s", segs, want)
	}
	if strings.Contains(page, `b<"&>`) {
		t.Error("a shard label is not escaped")
	}
}
