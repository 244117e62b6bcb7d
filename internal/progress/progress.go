// Package progress carries progress from the engine to whoever shows it. The
// engine only calls a Func with snapshots; the CLI picks a renderer: a live
// bar on a terminal, periodic log lines otherwise.
package progress

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// Snapshot is the state of a long-running step. Totals are 0 when unknown.
type Snapshot struct {
	Step       string // "backfill", "verify", ...
	FilesDone  int
	FilesTotal int
	Items      int64 // items processed so far by this process
	ItemsTotal int64
	Rejected   int64
	Elapsed    time.Duration
}

// Rate returns items per second so far.
func (s Snapshot) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Items) / s.Elapsed.Seconds()
}

// ETA estimates the remaining time from the rate so far (0 when unknown).
func (s Snapshot) ETA() time.Duration {
	r := s.Rate()
	if r <= 0 || s.ItemsTotal <= s.Items {
		return 0
	}
	return time.Duration(float64(s.ItemsTotal-s.Items) / r * float64(time.Second))
}

// Func receives snapshots. It must be cheap and safe for concurrent use; it
// may be called very often, so renderers throttle.
type Func func(Snapshot)

// Renderer shows snapshots: a bar redrawn in place on a terminal, or a log
// line at most every interval otherwise.
type Renderer struct {
	mu       sync.Mutex
	w        io.Writer
	terminal bool
	interval time.Duration
	logger   *slog.Logger
	last     time.Time
	lastSnap Snapshot
	drawn    bool
}

// NewRenderer returns a renderer writing to w. On a terminal it redraws a
// bar at most 10 times a second; otherwise it logs through logger every
// interval.
func NewRenderer(w io.Writer, terminal bool, interval time.Duration, logger *slog.Logger) *Renderer {
	if interval <= 0 {
		interval = 10 * time.Second
	}
	return &Renderer{w: w, terminal: terminal, interval: interval, logger: logger}
}

// Update is a Func.
func (r *Renderer) Update(s Snapshot) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastSnap = s
	now := time.Now()
	every := r.interval
	if r.terminal {
		every = 100 * time.Millisecond
	}
	if now.Sub(r.last) < every {
		return
	}
	r.last = now
	r.render(s)
}

// Done draws the final state and ends the bar's line.
func (r *Renderer) Done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.terminal && r.drawn {
		r.render(r.lastSnap)
		fmt.Fprintln(r.w)
	}
}

func (r *Renderer) render(s Snapshot) {
	if !r.terminal {
		if r.logger != nil {
			r.logger.Info("progress", "step", s.Step, "files_done", s.FilesDone, "files_total", s.FilesTotal,
				"items", s.Items, "items_total", s.ItemsTotal, "rejected", s.Rejected,
				"items_per_sec", int64(s.Rate()), "eta", s.ETA().Round(time.Second).String())
		}
		return
	}
	r.drawn = true
	fmt.Fprintf(r.w, "\r\033[K%s", Line(s, 30))
}

// Line renders a one-line bar: "[=====>    ] 41% files 7/16 items 82,114/200,000 12,345/s ETA 9s".
func Line(s Snapshot, width int) string {
	frac := 0.0
	switch {
	case s.ItemsTotal > 0:
		frac = float64(s.Items) / float64(s.ItemsTotal)
	case s.FilesTotal > 0:
		frac = float64(s.FilesDone) / float64(s.FilesTotal)
	}
	frac = min(max(frac, 0), 1)
	filled := int(frac * float64(width))
	bar := strings.Repeat("=", filled)
	if filled < width {
		bar += ">" + strings.Repeat(" ", width-filled-1)
	}
	line := fmt.Sprintf("%s [%s] %3.0f%%", s.Step, bar, frac*100)
	if s.FilesTotal > 0 {
		line += fmt.Sprintf(" files %d/%d", s.FilesDone, s.FilesTotal)
	}
	if s.ItemsTotal > 0 {
		line += fmt.Sprintf(" items %s/%s", group(s.Items), group(s.ItemsTotal))
	} else {
		line += " items " + group(s.Items)
	}
	line += fmt.Sprintf(" %s/s", group(int64(s.Rate())))
	if s.Rejected > 0 {
		line += fmt.Sprintf(" rejected %s", group(s.Rejected))
	}
	if eta := s.ETA(); eta > 0 {
		line += " ETA " + eta.Round(time.Second).String()
	}
	return line
}

// group writes n with thousands separators.
func group(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var out []byte
	for i := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}
