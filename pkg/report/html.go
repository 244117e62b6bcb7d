package report

import (
	"fmt"
	"html/template"
	"io"
	"math"
)

// WriteHTML writes the report as one self-contained HTML page: inline CSS,
// an inline SVG bar chart, no scripts and nothing fetched from a network.
func WriteHTML(w io.Writer, r *Result) error {
	return htmlTmpl.Execute(w, newHTMLView(r))
}

type segment struct {
	X, W  float64
	Class string
	Count int64
}

type chartRow struct {
	Name     string
	Y        int
	Segments []segment
	Label    string
}

type htmlView struct {
	*Result
	HistoryBars []historyBar
	Tables      []tableView
	Chart       []chartRow
	ChartHeight int
	Legend      []legendItem
	Fingerprint string
}

type tableView struct {
	Name string
	*TableCounts
}

type legendItem struct {
	X     int
	Class string
	Label string
}

const chartX, chartW = 150, 480

var classColors = []struct{ class, label string }{
	{"matched", "matched"}, {"missing", "missing"}, {"mismatched", "mismatched"}, {"extra", "extra"},
	{"conflict", "shared conflict"}, {"rejected", "rejected"},
}

func newHTMLView(r *Result) *htmlView {
	v := &htmlView{Result: r, Fingerprint: shorten(r.Parameters.MappingFingerprint, 16)}
	for i, name := range r.OrderedTables() {
		c := r.Tables[name]
		v.Tables = append(v.Tables, tableView{name, c})
		counts := []int64{c.Matched, c.Missing, c.Mismatched, c.Extra, c.SharedConflict, c.Rejected}
		var total int64
		nonzero := 0
		for _, n := range counts {
			total += n
			if n > 0 {
				nonzero++
			}
		}
		row := chartRow{Name: name, Y: 30 + i*34,
			Label: fmt.Sprintf("%d expected, %d divergent", c.ExpectedRows, c.Divergent())}
		if total > 0 {
			// every non-zero class gets at least 6px, so one bad row among a
			// million is still visible
			const minW = 6.0
			avail := float64(chartW) - minW*float64(nonzero)
			x := float64(chartX)
			for k, n := range counts {
				if n == 0 {
					continue
				}
				wd := minW + avail*float64(n)/float64(total)
				row.Segments = append(row.Segments, segment{X: x, W: wd, Class: classColors[k].class, Count: n})
				x += wd
			}
		}
		v.Chart = append(v.Chart, row)
	}
	v.ChartHeight = 30 + len(v.Chart)*34 + 10
	v.HistoryBars = historyBars(r)
	x := chartX
	for _, c := range classColors {
		v.Legend = append(v.Legend, legendItem{X: x, Class: c.class, Label: c.label})
		x += 30 + 7*len(c.label)
	}
	return v
}

var htmlTmpl = template.Must(template.New("report").Funcs(template.FuncMap{
	"val": func(p *string) string {
		if p == nil {
			return "NULL"
		}
		return *p
	},
	"isnull": func(p *string) bool { return p == nil },
	"f1":     func(f float64) string { return fmt.Sprintf("%.1f", f) },
	"f1p": func(f *float64) string {
		if f == nil {
			return "–"
		}
		return fmt.Sprintf("%.1fs", *f)
	},
	"add":     func(a, b int) int { return a + b },
	"orphans": orphanPass,
}).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>ddb2pg verify: {{.Verdict}} — {{.SourceTable}}</title>
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{margin:0;font-size:22px}
h2{font-size:17px;margin:28px 0 10px}
.verdict{border-radius:10px;padding:18px 22px;color:#fff;display:flex;gap:24px;align-items:center;flex-wrap:wrap}
.verdict.go{background:#1f8a4c}.verdict.nogo{background:#b3261e}
.verdict .big{font-size:40px;font-weight:800;letter-spacing:1px}
.verdict p{margin:2px 0}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #dfe3ea}
th,td{padding:6px 9px;border-bottom:1px solid #e8ebf0;text-align:left;vertical-align:top}
th{background:#eef1f5;font-weight:600}
td.n{text-align:right;font-variant-numeric:tabular-nums}
td.bad{color:#b3261e;font-weight:600}
code,.mono{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px;word-break:break-all}
.null{color:#8a93a3;font-style:italic}
.card{background:#fff;border:1px solid #dfe3ea;border-radius:8px;padding:12px 16px}
.note{color:#5b6473}
.warn{background:#fff4e5;border:1px solid #f0c27a;border-radius:8px;padding:10px 14px}
svg text{font:12px system-ui,sans-serif;fill:#1d2330}
.s-matched{fill:#2e9d5b}.s-missing{fill:#d93025}.s-mismatched{fill:#f29900}.s-extra{fill:#8e44ad}.s-conflict{fill:#e6c300}.s-rejected{fill:#9aa0a6}
dl{display:grid;grid-template-columns:max-content auto;gap:4px 16px;margin:0}
dt{color:#5b6473}dd{margin:0}
</style>
</head>
<body><main>
<section class="verdict {{if eq .Verdict "GO"}}go{{else}}nogo{{end}}" id="verdict">
<div class="big">{{.Verdict}}</div>
<div>
<h1>ddb2pg verify — DynamoDB table {{.SourceTable}}</h1>
<p><strong>{{.DivergentRows}} divergent rows</strong> (missing + extra + mismatched), {{.MaxDivergence}} allowed.
{{.Items.Read}} items read ({{.Mode}} mode), {{.Items.Rejected}} rejected by the mapping.</p>
<p>{{.Timing.StartedAt.Format "2006-01-02 15:04:05 MST"}} · {{f1 .Timing.DurationSeconds}} s · extra-row pass: {{.ExtraPass}} · orphan pass: {{orphans .Result}}</p>
{{if .Changed}}<p id="changed">Changed since: {{.Changed.Describe}}.</p>{{end}}
{{if .SampleBound}}<p id="sample-bound">Sample: {{.SampleBound.Describe}}.</p>{{end}}
</div>
</section>
{{if .Error}}<p class="warn"><strong>Incomplete run — never GO:</strong> {{.Error}}</p>{{end}}

<h2>Tables</h2>
<table>
<tr><th>table</th><th>expected rows</th><th>matched</th><th>missing</th><th>extra</th><th>mismatched</th><th>rejected</th><th>shared conflict</th><th>orphaned</th></tr>
{{range .Tables}}<tr><td><code>{{.Name}}</code>{{if .Shared}} <span class="note">(shared)</span>{{end}}</td>
<td class="n">{{.ExpectedRows}}</td><td class="n">{{.Matched}}</td>
<td class="n{{if .Missing}} bad{{end}}">{{.Missing}}</td><td class="n{{if .Extra}} bad{{end}}">{{.Extra}}</td>
<td class="n{{if .Mismatched}} bad{{end}}">{{.Mismatched}}</td><td class="n">{{.Rejected}}</td><td class="n">{{.SharedConflict}}</td><td class="n">{{.Orphaned}}</td></tr>
{{end}}</table>

<div class="card" style="margin-top:12px">
<svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 860 {{.ChartHeight}}" role="img" aria-label="rows per table and class">
{{range .Legend}}<rect x="{{.X}}" y="4" width="12" height="12" class="s-{{.Class}}"/><text x="{{add .X 16}}" y="14">{{.Label}}</text>
{{end}}{{range $row := .Chart}}<text x="0" y="{{add .Y 15}}">{{.Name}}</text>
<rect x="150" y="{{.Y}}" width="480" height="22" fill="#eef1f5"/>
{{range .Segments}}<rect x="{{.X}}" y="{{$row.Y}}" width="{{.W}}" height="22" class="s-{{.Class}}"><title>{{.Class}}: {{.Count}}</title></rect>{{end}}
<text x="640" y="{{add .Y 15}}">{{.Label}}</text>
{{end}}</svg>
</div>

{{if .HistoryBars}}<h2>History</h2>
<p class="note">Divergent rows of the earlier runs of this table under this mapping, oldest first; this run is the last bar.</p>
<div class="card"><svg xmlns="http://www.w3.org/2000/svg" width="100%" viewBox="0 0 860 150" role="img" aria-label="divergent rows per run" id="history">
<line x1="0" y1="120" x2="860" y2="120" stroke="#dfe3ea"/>
{{range .HistoryBars}}<rect x="{{.X}}" y="{{.Y}}" width="{{.W}}" height="{{.H}}" class="{{if .GO}}s-matched{{else}}s-missing{{end}}"><title>{{.Title}}</title></rect>
<text x="{{.X}}" y="{{add .Y -4}}">{{.Divergent}}</text><text x="{{.X}}" y="136">{{.Label}}</text>
{{end}}</svg></div>
{{end}}
<h2>Differences</h2>
{{if .Samples}}<table>
<tr><th>class</th><th>table / row</th><th>item</th><th>column</th><th>DynamoDB (mapping)</th><th>PostgreSQL</th></tr>
{{range .Samples}}<tr><td>{{.Class}}</td><td><code>{{.Table}}</code><br><code>{{.Row}}</code></td><td><code>{{.Key}}</code></td><td>{{.Column}}</td>
<td class="mono">{{if isnull .DynamoDBValue}}<span class="null">absent / NULL</span>{{else}}{{val .DynamoDBValue}}{{end}}{{if .OtherKey}}<br><span class="note">item <code>{{.OtherKey}}</code> says</span> {{if isnull .OtherValue}}<span class="null">NULL</span>{{else}}{{val .OtherValue}}{{end}}{{end}}</td>
<td class="mono">{{if isnull .PostgresValue}}<span class="null">absent / NULL</span>{{else}}{{val .PostgresValue}}{{end}}</td></tr>
{{end}}</table>
{{if .SamplesOmitted}}<p class="note">{{.SamplesOmitted}} more differences are counted but not listed.</p>{{end}}
{{else}}<p class="note">No differences.</p>{{end}}

<h2>Rejected items</h2>
<p class="note">Items the mapping cannot convert: no rows are expected for them, so they are not divergence — but each needs a decision.</p>
{{if .Rejected}}<table><tr><th>item</th><th>table</th><th>column</th><th>path</th><th>value</th><th>reason</th></tr>
{{range .Rejected}}<tr><td><code>{{.Key}}</code></td><td>{{.Table}}</td><td>{{.Column}}</td><td><code>{{.Path}}</code></td><td class="mono">{{.Value}}</td><td>{{.Reason}}</td></tr>
{{end}}</table>{{if .RejectedOmitted}}<p class="note">{{.RejectedOmitted}} more.</p>{{end}}{{else}}<p class="note">None in this run.</p>{{end}}
<p class="note">Recorded by backfill and stream in the bookkeeping: {{.RecordedRejects.Total}}.</p>
{{if .RecordedRejects.Items}}<table><tr><th>item</th><th>table</th><th>column</th><th>reason</th><th>origin</th></tr>
{{range .RecordedRejects.Items}}<tr><td><code>{{.Key}}</code></td><td>{{.Table}}</td><td>{{.Column}}</td><td>{{.Reason}}</td><td>{{.Origin}}</td></tr>
{{end}}</table>{{end}}

<h2>Recheck</h2>
<p>{{.Recheck.Suspects}} suspects re-read on both sides: {{.Recheck.Resolved}} resolved (changes in flight), {{.Recheck.Persisted}} persisted.</p>

<h2>Backfill accounting</h2>
{{if .Backfill.Note}}<p class="note">{{.Backfill.Note}}</p>{{end}}
{{if .Backfill.Exports}}<table><tr><th>export</th><th>export time</th><th>manifest items</th><th>loaded</th><th>skipped</th><th>rejected</th><th>files done</th><th>finished</th></tr>
{{range .Backfill.Exports}}<tr><td><code>{{.ExportID}}</code></td><td>{{if .ExportTime}}{{.ExportTime.Format "2006-01-02 15:04:05Z07:00"}}{{end}}</td>
<td class="n">{{.ManifestItems}}</td><td class="n">{{.LoadedItems}}</td><td class="n">{{.SkippedItems}}</td><td class="n">{{.RejectedItems}}</td><td class="n">{{.FilesDone}} / {{.Files}}</td><td>{{.Finished}}</td></tr>
{{end}}</table>{{end}}

<h2>Stream state</h2>
{{if .Stream.Note}}<p class="note">{{.Stream.Note}}</p>{{end}}
{{if .Stream.Shards}}<p>Largest lag of an open shard: {{f1p .Stream.MaxLagSeconds}}</p>
<table><tr><th>shard</th><th>parent</th><th>last applied record</th><th>lag</th><th>closed</th></tr>
{{range .Stream.Shards}}<tr><td><code>{{.ShardID}}</code></td><td><code>{{.Parent}}</code></td><td>{{if .LastRecordTime}}{{.LastRecordTime.Format "2006-01-02 15:04:05Z07:00"}}{{end}}</td><td>{{f1p .LagSeconds}}</td><td>{{.Closed}}</td></tr>
{{end}}</table>{{end}}

<h2>Parameters</h2>
<div class="card"><dl>
<dt>mapping</dt><dd><code>{{.Parameters.Mapping}}</code> <span class="note">{{.Fingerprint}}</span></dd>
<dt>segments</dt><dd>{{.Parameters.Segments}}</dd>
<dt>max RCU</dt><dd>{{.Parameters.MaxRCU}} (consumed {{f1 .Timing.ConsumedRCU}})</dd>
<dt>consistent read</dt><dd>{{.Parameters.ConsistentRead}}</dd>
<dt>sample</dt><dd>{{.Parameters.Sample}}</dd>
<dt>keys file</dt><dd>{{.Parameters.KeysFile}}</dd>
{{if .Parameters.ChangedSince}}<dt>changed since</dt><dd>{{.Parameters.ChangedSince}}</dd>{{end}}
<dt>recheck</dt><dd>{{.Parameters.Recheck}} × from {{.Parameters.RecheckDelay}}</dd>
<dt>max divergence</dt><dd>{{.Parameters.MaxDivergence}}</dd>
<dt>finished</dt><dd>{{.Timing.FinishedAt.Format "2006-01-02 15:04:05 MST"}} · {{f1 .Timing.ItemsPerSecond}} items/s</dd>
</dl></div>
</main></body></html>
`))

// historyBar is one run in the History chart.
type historyBar struct {
	X, Y, W, H int
	GO         bool
	Divergent  int64
	Label      string
	Title      string
}

// historyBars lays out the earlier runs and this one as bars whose height
// grows with the divergent rows (square root, so one bad row still shows
// next to thousands); none when there is no earlier run.
func historyBars(r *Result) []historyBar {
	if len(r.History) == 0 {
		return nil
	}
	runs := append(append([]HistoryRun{}, r.History...), HistoryRun{Mode: r.Mode, StartedAt: r.Timing.StartedAt,
		Verdict: r.Verdict, Complete: r.Complete, DivergentRows: r.DivergentRows, ItemsRead: r.Items.Read,
		DurationSeconds: r.Timing.DurationSeconds})
	var top float64 = 1
	for _, h := range runs {
		top = max(top, math.Sqrt(float64(h.DivergentRows)))
	}
	w := max(2, min(60, 860/len(runs)-6))
	step := (80 + w + 5) / (w + 6) // a date label needs about 80px
	var out []historyBar
	for i, h := range runs {
		height := 4 + int(96*math.Sqrt(float64(h.DivergentRows))/top)
		if h.DivergentRows == 0 {
			height = 2
		}
		label := ""
		if i%step == 0 || i == len(runs)-1 {
			label = h.StartedAt.Format("01-02 15:04")
		}
		out = append(out, historyBar{X: i * (w + 6), Y: 120 - height, W: w, H: height, GO: h.Verdict == GO,
			Divergent: h.DivergentRows, Label: label,
			Title: fmt.Sprintf("%s %s, %s: %d divergent rows, %d items, %.1fs", h.StartedAt.Format("2006-01-02 15:04:05Z07:00"),
				h.Mode, h.Verdict, h.DivergentRows, h.ItemsRead, h.DurationSeconds)})
	}
	return out
}
