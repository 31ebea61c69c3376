package runtimediag

import (
	"cmp"
	"math"
	"slices"
)

// Analyze builds the report for the window between in.Prev and in.Cur. It is a pure function: it
// reads no clock, does no I/O and gives the same report for the same input, so reports can be
// recomputed from recorded snapshots and compared.
//
// Without in.Prev (or when the two snapshots are not in time order) the report has no rates and
// the rules that need a window do not run; a note says so. Counters that went backwards (the
// snapshots come from two runs of the process) count as no change. The report never holds NaN or
// an infinity, so it always marshals to JSON.
func Analyze(in AnalyzeInput) *Report {
	r := &Report{Findings: []Finding{}, Sources: []SourceHealth{}}
	cur := in.Cur
	if cur == nil {
		r.Notes = append(r.Notes, "no snapshot to analyze")
		return r
	}
	th := DefaultThresholds()
	if in.Thresholds != nil {
		th = *in.Thresholds
	}
	r.Time = cur.Time
	r.RSS = in.RSS
	r.Sources = sourceHealth(cur)

	w := newWindow(in.Prev, cur)
	r.WindowSeconds = w.seconds
	r.Notes = append(r.Notes, w.notes...)
	r.Efficiency = efficiency(w, &in.RSS)
	if in.Sites != nil {
		sites := *in.Sites
		sites.Sites = slices.Clone(in.Sites.Sites)
		r.TopAllocationSites = &sites
	}

	model := newWhatIfModel(w, &in.RSS, &r.Efficiency, in.History)
	r.WhatIf = whatIf(model)
	ctx := &ruleContext{in: &in, w: w, e: &r.Efficiency, rss: &in.RSS, th: &th, history: trendSeries(in.History, cur), whatIf: model}
	found, state := evaluateRules(ctx, in.State, cur.Time)
	r.Findings = append(r.Findings, found...)
	r.State = state
	slices.SortFunc(r.Findings, func(a, b Finding) int {
		if c := cmp.Compare(severityRank(b.Severity), severityRank(a.Severity)); c != 0 {
			return c
		}
		return cmp.Compare(a.Code, b.Code)
	})
	r.Notes = append(r.Notes, ctx.notes...)
	return r
}

// findingsDoc is where every finding code is explained, as an anchor per code.
const findingsDoc = "docs/findings.md"

func severityRank(s Severity) int {
	switch s {
	case SeverityCritical:
		return 3
	case SeverityWarning:
		return 2
	case SeverityInfo:
		return 1
	}
	return 0
}

func sourceHealth(s *Snapshot) []SourceHealth {
	out := []SourceHealth{}
	for _, src := range s.Requested.Sources() {
		h := SourceHealth{Name: src.String(), OK: true, CostSec: finite(s.Cost(src).Seconds())}
		if err := s.Err(src); err != nil {
			h.OK = false
			h.Reason = reason(err)
			h.Error = err.Error()
		}
		out = append(out, h)
	}
	return out
}

// window is the pair of snapshots a report covers, with the differences the rates need.
type window struct {
	prev, cur *Snapshot
	seconds   float64 // 0 when there is no usable window
	notes     []string
}

// minWindowSeconds is the shortest window rates are computed over: below it a single GC cycle or
// scheduler tick dominates every rate.
const minWindowSeconds = 0.01

func newWindow(prev, cur *Snapshot) *window {
	w := &window{cur: cur}
	if prev == nil {
		w.notes = append(w.notes, "one snapshot: no rates, and rules that need a window did not run")
		return w
	}
	secs := cur.Time.Sub(prev.Time).Seconds()
	if !(secs >= minWindowSeconds) || math.IsInf(secs, 0) {
		w.notes = append(w.notes, "the snapshots are not at least 10 ms apart in time order: no rates")
		return w
	}
	if cur.Runtime.GCCyclesTotal < prev.Runtime.GCCyclesTotal || cur.Runtime.HeapAllocsBytes < prev.Runtime.HeapAllocsBytes {
		w.notes = append(w.notes, "cumulative counters went backwards (the process restarted between the snapshots): changes counted as zero")
	}
	w.prev, w.seconds = prev, secs
	return w
}

// ok reports whether the window has rates.
func (w *window) ok() bool { return w.prev != nil && w.seconds > 0 }

// du is the growth of a cumulative counter over the window; 0 without a window or when the counter
// went backwards.
func (w *window) du(get func(*RuntimeMetrics) uint64) uint64 {
	if !w.ok() {
		return 0
	}
	c, p := get(&w.cur.Runtime), get(&w.prev.Runtime)
	if c < p {
		return 0
	}
	return c - p
}

// df is du for the runtime's cumulative CPU-second estimates.
func (w *window) df(get func(*CPUClasses) float64) float64 {
	if !w.ok() {
		return 0
	}
	d := get(&w.cur.Runtime.CPU) - get(&w.prev.Runtime.CPU)
	if !(d > 0) || math.IsInf(d, 0) {
		return 0
	}
	return d
}

// rate is n per second of the window.
func (w *window) rate(n float64) float64 {
	if !w.ok() {
		return 0
	}
	return finite(n / w.seconds)
}

// hist is the histogram's events in the window; without a window, all of them.
func (w *window) hist(get func(*RuntimeMetrics) Histogram) Histogram {
	h := get(&w.cur.Runtime)
	if len(h.Buckets) != len(h.Counts)+1 {
		return Histogram{}
	}
	if !w.ok() {
		return h
	}
	var d Histogram
	p := get(&w.prev.Runtime)
	if len(p.Buckets) != len(h.Buckets) {
		p = Histogram{} // other buckets: the two cannot be subtracted
	}
	h.Delta(p, &d)
	return d
}

// finite maps NaN and infinities to 0: a report figure that cannot be computed is absent, and
// encoding/json refuses NaN.
func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// ratio is a ÷ b, 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return finite(a / b)
}
