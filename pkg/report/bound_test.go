package report

import (
	"io"
	"math"
	"strings"
	"testing"
	"time"
)

func TestBinomialUpper(t *testing.T) {
	for _, tc := range []struct {
		n, k int64
		want float64
	}{
		{100000, 0, 1 - math.Pow(0.05, 1.0/100000)}, // 2.9957e-05: "below 0.003%"
		{1, 0, 0.95},
		{300, 0, 1 - math.Pow(0.05, 1.0/300)}, // ~ the rule of three: 3/300
		{10, 9, math.Pow(0.95, 0.1)},          // P(X <= n-1) = 1 - p^n
		{1000, 999, math.Pow(0.95, 0.001)},
		{10, 1, 0.3941633024},  // Beta(2, 9) 95th percentile
		{100, 5, 0.1022533776}, // exact sums in Python integers, bisected
		{1000, 3, 0.0077352447},
		{20, 20, 1}, // everything divergent
		{0, 0, 1},   // nothing sampled: nothing known
	} {
		got := BinomialUpper(tc.n, tc.k, 0.95)
		if math.Abs(got-tc.want) > 2e-5*math.Max(tc.want, 1e-3) && math.Abs(got-tc.want) > 1e-9 {
			t.Errorf("BinomialUpper(%d, %d) = %.8g, want %.8g", tc.n, tc.k, got, tc.want)
		}
	}
}

func TestPercent(t *testing.T) {
	for _, tc := range []struct {
		rate float64
		want string
	}{
		{2.9957e-05, "0.0030"}, {0.95, "95.0"}, {0.039416, "3.9"}, {0.0001, "0.010"}, {0, "0"}, {1, "100.0"},
	} {
		if got := Percent(tc.rate); got != tc.want {
			t.Errorf("Percent(%g) = %q, want %q", tc.rate, got, tc.want)
		}
	}
	b := NewSampleBound(100000, 0)
	if got, want := b.Describe(), "0 divergent in 100000 sampled items: divergent-item rate below 0.0030% (95% confidence, exact binomial)"; got != want {
		t.Errorf("Describe() = %q, want %q", got, want)
	}
}

// Every report format states the bound of a sample-mode run.
func TestSampleBoundInEveryFormat(t *testing.T) {
	r := fixed()
	r.Mode = "sample"
	r.SampleBound = NewSampleBound(100000, 0)
	want := "0 divergent in 100000 sampled items: divergent-item rate below 0.0030% (95% confidence, exact binomial)"
	for name, write := range map[string]func(io.Writer, *Result) error{
		"terminal": WriteTerminal, "markdown": WriteMarkdown, "html": WriteHTML,
	} {
		var b strings.Builder
		if err := write(&b, r); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), want) {
			t.Errorf("%s report lacks %q", name, want)
		}
	}
	var b strings.Builder
	if err := WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), `"sample_bound": {
    "items": 100000,
    "divergent": 0,
    "confidence": 0.95,
    "upper_rate": 0.0000299568`) {
		t.Errorf("JSON report:\n%s", b.String())
	}
}

// Orphaned rows are shown but count as divergence only when asked.
func TestOrphansDiverge(t *testing.T) {
	r := fixed()
	if r.DivergentRows != 3 {
		t.Fatalf("divergent rows %d, want 3 (orphans not counted)", r.DivergentRows)
	}
	r.OrphansDiverge = true
	r.Finish()
	if r.DivergentRows != 5 || r.Verdict != NOGO {
		t.Fatalf("with orphans counted: %d divergent, %s", r.DivergentRows, r.Verdict)
	}
}

// The HTML report charts the earlier runs and this one; without earlier
// runs there is no History section.
func TestHTMLHistory(t *testing.T) {
	r := fixed()
	var b strings.Builder
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), `id="history"`) {
		t.Fatal("History section without earlier runs")
	}
	t0 := r.Timing.StartedAt
	for i := range 30 {
		r.History = append(r.History, HistoryRun{Mode: "scan", StartedAt: t0.Add(time.Duration(i-30) * time.Hour),
			Verdict: NOGO, Complete: true, DivergentRows: int64(1000 - 30*i), ItemsRead: 1000})
	}
	b.Reset()
	if err := WriteHTML(&b, r); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	if !strings.Contains(html, `id="history"`) || strings.Count(html, "divergent rows, ") != 31 {
		t.Fatalf("History: %d bars", strings.Count(html, "divergent rows, "))
	}
	if !strings.Contains(html, "NO-GO: 1000 divergent rows") || !strings.Contains(html, "NO-GO: 3 divergent rows, 1000 items") {
		t.Errorf("History bars lack the runs' counts")
	}
}
