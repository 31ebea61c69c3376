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
	r.Leaks = in.Leaks
	r.Sources = sourceHealth(cur)

	end := in.WindowEnd
	if end == nil || end.Time.After(cur.Time) {
		end = cur
	}
	w := newWindow(in.Prev, end, cur)
	r.WindowSeconds = w.seconds
	r.Notes = append(r.Notes, w.notes...)
	r.Efficiency = efficiency(w, &in.RSS)
	if in.Sites != nil {
		sites := *in.Sites
		sites.Sites = slices.Clone(in.Sites.Sites)
		if in.Sites.MemdiagItself != nil {
			self := *in.Sites.MemdiagItself
			sites.MemdiagItself = &self
		}
		r.TopAllocationSites = &sites
	}
	excludeSelf(&r.Efficiency, r.TopAllocationSites)

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

// window is the pair of snapshots a report covers, with the differences the rates need: rates
// run from prev to end; cur, the report's newest snapshot, gives the figures of one moment. end is
// cur unless the window's end was read before the report (the Monitor's scheduled readings).
type window struct {
	prev, end, cur *Snapshot
	seconds        float64 // 0 when there is no usable window
	notes          []string
	scratch        Histogram // hist's result, reused
}

// minWindowSeconds is the shortest window rates are computed over: below it a single GC cycle or
// scheduler tick dominates every rate.
const minWindowSeconds = 0.01

func newWindow(prev, end, cur *Snapshot) *window {
	w := &window{end: end, cur: cur}
	if prev == nil {
		w.notes = append(w.notes, "one snapshot: no rates, and rules that need a window did not run")
		return w
	}
	secs := end.Time.Sub(prev.Time).Seconds()
	if !(secs >= minWindowSeconds) || math.IsInf(secs, 0) {
		w.notes = append(w.notes, "the snapshots are not at least 10 ms apart in time order: no rates")
		return w
	}
	if end.Runtime.GCCyclesTotal < prev.Runtime.GCCyclesTotal || end.Runtime.HeapAllocsBytes < prev.Runtime.HeapAllocsBytes {
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
	c, p := get(&w.end.Runtime), get(&w.prev.Runtime)
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
	d := get(&w.end.Runtime.CPU) - get(&w.prev.Runtime.CPU)
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

// hist is the histogram's events in the window; without a window, all of them. The result is good
// until the next call: its counts are the window's scratch.
func (w *window) hist(get func(*RuntimeMetrics) Histogram) Histogram {
	if !w.ok() {
		h := get(&w.cur.Runtime)
		if len(h.Buckets) != len(h.Counts)+1 {
			return Histogram{}
		}
		return h
	}
	h := get(&w.end.Runtime)
	if len(h.Buckets) != len(h.Counts)+1 {
		return Histogram{}
	}
	p := get(&w.prev.Runtime)
	if len(p.Buckets) != len(h.Buckets) {
		p = Histogram{} // other buckets: the two cannot be subtracted
	}
	h.Delta(p, &w.scratch)
	return w.scratch
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

// selfExclusionMethod says how memdiag's share is taken out of the application's figures.
const selfExclusionMethod = "memdiag's share of the window's sampled allocation profile (stacks whose innermost memdiag frame is not an application callback) is taken out of the process's allocation rates (bytes and objects, each by its own share) and out of GC CPU and churn by the bytes share, GC work being paced by bytes allocated; size classes, tiny and large shares are the whole process's"

// published reports whether the sites have figures: the profile advanced in the window.
func (s *AllocationSites) published() bool {
	return s != nil && s.MemdiagItself != nil && s.GCCycles > 0 && s.TotalBytesPerSecond+s.MemdiagItself.BytesPerSecond > 0
}

// excludeSelf turns the process's allocation and GC figures into the application's, taking out
// memdiag's share of the sampled profile over the same window.
func excludeSelf(e *Efficiency, sites *AllocationSites) {
	e.ProcessAllocBytesPerSecond = e.AllocBytesPerSecond
	e.ProcessAllocObjectsPerSecond = e.AllocObjectsPerSecond
	e.ProcessGCCPUFraction = e.GCCPUFraction
	if !sites.published() {
		return
	}
	b, o := clamp01(sites.MemdiagItself.Share), clamp01(sites.MemdiagItself.ObjectsShare)
	e.MemdiagExcluded = &Excluded{AllocBytesShare: b, AllocObjectsShare: o, Method: selfExclusionMethod}
	keep, keepObjects := 1-b, 1-o
	e.AllocBytesPerSecond *= keep
	e.AllocObjectsPerSecond *= keepObjects
	e.MeanObjectBytes = ratio(e.AllocBytesPerSecond, e.AllocObjectsPerSecond)
	for _, f := range []*float64{&e.GCCPUFraction, &e.GCAssistCPUFraction, &e.GCDedicatedCPUFraction, &e.GCIdleCPUFraction,
		&e.GCPauseCPUFraction, &e.GCBusyCPUShare, &e.GCAssistBusyCPUShare, &e.Churn} {
		*f *= keep
	}
}
