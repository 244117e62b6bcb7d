package status

import (
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"
)

// Chart geometry of the lag-over-time SVG, in pixels.
const (
	chartW, chartH         = 760, 260
	padL, padR, padT, padB = 64, 16, 12, 36
)

var palette = []string{"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"}

// gapAfter is how long a shard may go without a sample before its line is
// broken (the poller samples an active shard every 30s).
const gapAfter = 5 * time.Minute

// Series is one shard's lag line in the chart.
type Series struct {
	Label    string
	Color    string
	Segments []string // SVG polyline points, one per run of samples without a gap
	Last     float64
}

type chart struct {
	W, H, X0, X1, Y0, Y1 int
	Series               []Series
	YMax                 string
	From, To             string
}

func (r *Report) lagChart() *chart {
	if len(r.LagHistory) == 0 {
		return nil
	}
	t0, t1 := r.LagHistory[0].At, r.LagHistory[len(r.LagHistory)-1].At
	if t1.Sub(t0) < time.Minute {
		t0 = t1.Add(-time.Minute)
	}
	ymax := 1.0
	for _, s := range r.LagHistory {
		ymax = max(ymax, s.Lag)
	}
	ymax *= 1.1
	c := &chart{W: chartW, H: chartH, X0: padL, X1: chartW - padR, Y0: padT, Y1: chartH - padB,
		YMax: (time.Duration(ymax) * time.Second).Round(time.Second).String(),
		From: t0.Format(time.RFC3339), To: t1.Format(time.RFC3339)}
	pts := map[string][][]string{}
	last := map[string]float64{}
	lastAt := map[string]time.Time{}
	for _, s := range r.LagHistory {
		key := s.ShardID
		if arns := distinctARNs(r); arns > 1 {
			key = s.StreamARN[strings.LastIndex(s.StreamARN, "/")+1:] + " " + s.ShardID
		}
		x := float64(c.X0) + float64(c.X1-c.X0)*s.At.Sub(t0).Seconds()/t1.Sub(t0).Seconds()
		y := float64(c.Y1) - float64(c.Y1-c.Y0)*s.Lag/ymax
		segs := pts[key]
		if len(segs) == 0 || s.At.Sub(lastAt[key]) > gapAfter {
			segs = append(segs, nil)
		}
		segs[len(segs)-1] = append(segs[len(segs)-1], fmt.Sprintf("%.1f,%.1f", x, y))
		pts[key] = segs
		last[key], lastAt[key] = s.Lag, s.At
	}
	keys := make([]string, 0, len(pts))
	for k := range pts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		se := Series{Label: k, Color: palette[i%len(palette)], Last: last[k]}
		for _, seg := range pts[k] {
			se.Segments = append(se.Segments, strings.Join(seg, " "))
		}
		c.Series = append(c.Series, se)
	}
	return c
}

func distinctARNs(r *Report) int {
	seen := map[string]bool{}
	for _, s := range r.LagHistory {
		seen[s.StreamARN] = true
	}
	return len(seen)
}

var page = template.Must(template.New("status").Funcs(template.FuncMap{
	"ts": func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format(time.RFC3339)
	},
	"lag": func(s *float64) string {
		if s == nil {
			return "-"
		}
		return (time.Duration(*s) * time.Second).String()
	},
	"sum": func(a, b, c int64) int64 { return a + b + c },
}).Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>ddb2pg status: {{.R.SourceTable}}</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222}
table{border-collapse:collapse;margin:8px 0 20px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}
td.n{text-align:right}.ok{color:#2a7d2a}.no{color:#b22}.big{font-size:20px;font-weight:bold}
svg text{font-size:11px;fill:#444}
</style></head><body>
<h1>ddb2pg status: {{.R.SourceTable}}</h1>
<p>as of {{.R.At.Format "2006-01-02T15:04:05Z07:00"}} (the database's clock)</p>
<section id="cutover"><h2>Cutover</h2>
<div class="big {{if .R.Ready}}ok{{else}}no{{end}}">{{if .R.Ready}}ready as far as the bookkeeping knows{{else}}NOT READY{{end}}</div>
<table>{{range .R.Checks}}<tr><td class="{{if .OK}}ok{{else}}no{{end}}">{{if .OK}}ok{{else}}no{{end}}</td><td>{{.Name}}</td><td>{{.Detail}}</td></tr>{{end}}
<tr><td>?</td><td>verify</td><td>not recorded in the bookkeeping: run ddb2pg verify (a GO decides the cutover)</td></tr></table></section>
<section id="backfill"><h2>Backfill</h2>{{if .R.Exports}}
<table><tr><th>export</th><th>export time</th><th>files</th><th>manifest</th><th>loaded</th><th>already newer</th><th>rejected</th><th>state</th></tr>
{{range .R.Exports}}<tr><td>{{.ExportID}}</td><td>{{ts .ExportTime}}</td><td class="n">{{.FilesDone}}/{{.Files}}</td><td class="n">{{.ManifestItems}}</td><td class="n">{{.LoadedItems}}</td><td class="n">{{.SkippedItems}}</td><td class="n">{{.RejectedItems}}</td><td>{{if .Complete}}complete{{else}}INCOMPLETE ({{sum .LoadedItems .SkippedItems .RejectedItems}} accounted){{end}}</td></tr>
{{end}}</table>{{else}}<p>No export loaded.</p>{{end}}</section>
<section id="stream"><h2>Stream</h2>
<p>Last stream apply (Lambda or poller): {{ts .R.LastStreamApply}}</p>
{{if .R.Shards}}<table><tr><th>stream</th><th>shard</th><th>state</th><th>last sequence</th><th>last record</th><th>lag</th></tr>
{{range .R.Shards}}<tr><td>{{.StreamARN}}</td><td>{{.ShardID}}</td><td>{{if .Closed}}closed{{else}}open{{end}}</td><td>{{.LastSeq}}</td><td>{{ts .LastRecordTime}}</td><td class="n">{{lag .LagSeconds}}</td></tr>
{{end}}</table>{{else}}<p>No poller checkpoint.</p>{{end}}
<h3>Lag over time (last 24 hours)</h3>
{{with .Chart}}<svg id="lag-chart" xmlns="http://www.w3.org/2000/svg" width="{{.W}}" height="{{.H}}" viewBox="0 0 {{.W}} {{.H}}" role="img" aria-label="replication lag per shard over time">
<line x1="{{.X0}}" y1="{{.Y1}}" x2="{{.X1}}" y2="{{.Y1}}" stroke="#888"/><line x1="{{.X0}}" y1="{{.Y0}}" x2="{{.X0}}" y2="{{.Y1}}" stroke="#888"/>
<text x="{{.X0}}" y="{{.Y0}}" text-anchor="end" dx="-4" dy="8">{{.YMax}}</text><text x="{{.X0}}" y="{{.Y1}}" text-anchor="end" dx="-4">0s</text>
<text x="{{.X0}}" y="{{.H}}" dy="-8">{{.From}}</text><text x="{{.X1}}" y="{{.H}}" dy="-8" text-anchor="end">{{.To}}</text>
{{range .Series}}{{$s := .}}{{range .Segments}}<polyline class="lag-series" data-shard="{{$s.Label}}" fill="none" stroke="{{$s.Color}}" stroke-width="1.5" points="{{.}}"/>
{{end}}{{end}}</svg>
<ul>{{range .Series}}<li><span style="color:{{.Color}}">&#9632;</span> {{.Label}} (last {{printf "%.0f" .Last}}s)</li>{{end}}</ul>
{{else}}<p>No lag samples in the last 24 hours: the poller (ddb2pg stream) records one per shard every 30 seconds while it applies records; the Lambda records none (see its IteratorAge metric).</p>{{end}}
</section>
<section id="rejects"><h2>Rejects: {{.R.RejectTotal}}</h2>{{if .R.Rejects}}
<table><tr><th>table</th><th>column</th><th>count</th><th>reason</th><th>example key</th></tr>
{{range .R.Rejects}}<tr><td>{{.Table}}</td><td>{{.Column}}</td><td class="n">{{.Count}}</td><td>{{.Reason}}</td><td>{{.ExampleKey}}</td></tr>
{{end}}</table>{{end}}</section>
</body></html>
`))

// HTML writes the report as one self-contained page (no script, no
// external resource) with the lag history drawn as an inline SVG chart.
func (r *Report) HTML(w io.Writer) error {
	return page.Execute(w, struct {
		R     *Report
		Chart *chart
	}{r, r.lagChart()})
}
