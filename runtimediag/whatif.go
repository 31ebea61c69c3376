package runtimediag

import (
	"errors"
	"math"

	"github.com/memdiag/memdiag/gcmodel"
	"github.com/memdiag/memdiag/internal/humanize"
)

// WhatIf is the report's what-if table: what GC would cost and how much memory the process would
// peak at under other GOGC and GOMEMLIMIT settings, predicted by gcmodel from this window. It is
// absent from a report without a window.
type WhatIf struct {
	// Refused says why the window cannot carry predictions (the model's assumptions are broken);
	// Predictions is then empty.
	Refused []WhatIfRefusal `json:"refused,omitempty"`
	// Assumptions states what every prediction assumes.
	Assumptions string `json:"assumptions"`
	// Current is the window as measured, at the current setting.
	Current WhatIfRow `json:"current"`
	// Predictions has one row per candidate setting.
	Predictions []WhatIfRow `json:"predictions,omitempty"`
}

// WhatIfRefusal is one broken assumption: a stable reason code and the numbers.
type WhatIfRefusal struct {
	Reason string `json:"reason"`
	Detail string `json:"detail"`
}

// WhatIfRow is one setting: measured (Current) or predicted.
type WhatIfRow struct {
	Setting         string `json:"setting"`                    // as environment variables: "GOGC=200 GOMEMLIMIT=460MiB"
	GOGC            int    `json:"gogc"`                       // -1 when off
	GOMEMLIMITBytes *int64 `json:"gomemlimit_bytes,omitempty"` // absent when none

	GCCyclesPerSecond   float64 `json:"gc_cycles_per_second"`
	GCCPUFraction       float64 `json:"gc_cpu_fraction"`        // of GOMAXPROCS × wall time
	GCMarkCPUFraction   float64 `json:"gc_mark_cpu_fraction"`   // background mark workers
	GCAssistCPUFraction float64 `json:"gc_assist_cpu_fraction"` // mark assists
	GCPauseCPUFraction  float64 `json:"gc_pause_cpu_fraction"`  // stop-the-world pauses

	// Predicted rows only. Absent when the heap has no bound (GOGC=off without a limit) or the
	// non-Go memory or container limit is unknown.
	HeapGoalBytes          *uint64 `json:"heap_goal_bytes,omitempty"`
	PeakHeapBytes          *uint64 `json:"peak_heap_bytes,omitempty"`
	PeakResidentBytes      *uint64 `json:"peak_resident_bytes,omitempty"`
	ContainerHeadroomBytes *int64  `json:"container_headroom_bytes,omitempty"`
	HeapUnbounded          bool    `json:"heap_unbounded,omitempty"`
	LimitBinds             bool    `json:"limit_binds,omitempty"`
	LimiterEngages         bool    `json:"limiter_engages,omitempty"`
}

// whatIfAssumptions is the sentence every what-if table carries.
const whatIfAssumptions = "steady allocation rate and live heap over the window, carried to every setting; GC cost per cycle as measured (marking the same live heap, stacks and globals); pacing by the Go 1.18+ pacer rules; non-Go memory and runtime metadata as measured; sweep CPU not included"

// whatIfModel is the window turned into gcmodel's input, its predictions over the candidates, or
// the refusal.
type whatIfModel struct {
	win   gcmodel.Window
	obs   gcmodel.Observed
	cands []gcmodel.Setting
	preds []gcmodel.Prediction
	err   error
}

func newWhatIfModel(w *window, rss *RSS, e *Efficiency, history []Point) *whatIfModel {
	m := &whatIfModel{win: modelWindow(w, rss, e, history)}
	m.obs = gcmodel.Observe(&m.win)
	m.cands = gcmodel.Candidates(&m.win)
	m.preds, m.err = gcmodel.Predict(&m.win, m.cands)
	return m
}

// modelWindow maps the report's window onto gcmodel.Window.
func modelWindow(w *window, rss *RSS, e *Efficiency, history []Point) gcmodel.Window {
	// The window's end, not the report's newer snapshot: the rates run from prev to end.
	if !w.ok() || !w.end.Has(SourceRuntimeMetrics) || !w.prev.Has(SourceRuntimeMetrics) {
		return gcmodel.Window{}
	}
	cur, prev := &w.end.Runtime, &w.prev.Runtime
	gw := gcmodel.Window{
		Seconds:          w.seconds,
		GOMAXPROCS:       int(min(cur.GOMAXPROCS, math.MaxInt32)),
		GOGC:             int(max(min(cur.GOGC, math.MaxInt32), -1)),
		MemoryLimitBytes: cur.GOMEMLIMITBytes,
		MarkedStartBytes: prev.HeapLiveBytes,
		MarkedBytes:      cur.HeapLiveBytes,
		StackScanBytes:   cur.ScanStackBytes,
		GlobalsScanBytes: cur.ScanGlobalsBytes,
		AllocBytes:       w.du(func(m *RuntimeMetrics) uint64 { return m.HeapAllocsBytes }),
		Cycles:           w.du(func(m *RuntimeMetrics) uint64 { return m.GCCyclesTotal }),
		ForcedCycles:     w.du(func(m *RuntimeMetrics) uint64 { return m.GCCyclesForced }),
		CPU: gcmodel.CPU{
			MarkDedicated: w.df(func(c *CPUClasses) float64 { return c.GCMarkDedicated }),
			MarkIdle:      w.df(func(c *CPUClasses) float64 { return c.GCMarkIdle }),
			MarkAssist:    w.df(func(c *CPUClasses) float64 { return c.GCMarkAssist }),
			Pause:         w.df(func(c *CPUClasses) float64 { return c.GCPause }),
			User:          w.df(func(c *CPUClasses) float64 { return c.User }),
			Idle:          w.df(func(c *CPUClasses) float64 { return c.Idle }),
		},
		SettingChanged:    prev.GOGC != cur.GOGC || prev.GOMEMLIMITBytes != cur.GOMEMLIMITBytes,
		LimiterEngaged:    e.LimiterEngaged,
		HeapObjectsBytes:  cur.HeapObjectsBytes,
		HeapUnusedBytes:   cur.HeapUnusedBytes,
		GoOtherBytes:      sat(sat(sat(governedBytes(cur), cur.HeapObjectsBytes), cur.HeapUnusedBytes), cur.HeapFreeBytes),
		SpanMetadataBytes: cur.MSpanInuseBytes,
	}
	if gw.GOGC < 0 {
		gw.GOGC = gcmodel.Off
	}
	if len(rss.Categories) > 0 {
		gw.NonGoResidentBytes, gw.NonGoKnown = rss.NonGoBytes, true
	}
	if e.CgroupLimitBytes != nil {
		gw.ContainerLimitBytes = *e.CgroupLimitBytes
	}
	gw.AllocRateFirstHalf, gw.AllocRateSecondHalf = allocHalves(w, history)
	return gw
}

// allocHalves is the allocation rate over each half of the window, split at the history point
// nearest its middle; 0, 0 when no point falls well inside it.
func allocHalves(w *window, history []Point) (float64, float64) {
	start, end := w.prev.Time, w.end.Time
	mid := start.Add(end.Sub(start) / 2)
	best := -1
	for i := range history {
		t := history[i].Time
		if !t.After(start) || !t.Before(end) || history[i].AllocBytesTotal == 0 {
			continue
		}
		if best < 0 || absDur(t.Sub(mid)) < absDur(history[best].Time.Sub(mid)) {
			best = i
		}
	}
	if best < 0 {
		return 0, 0
	}
	p := history[best]
	a, b := p.Time.Sub(start).Seconds(), end.Sub(p.Time).Seconds()
	// Only a point in the middle half of the window splits it into comparable halves.
	if a < w.seconds/4 || b < w.seconds/4 {
		return 0, 0
	}
	s, c := w.prev.Runtime.HeapAllocsBytes, w.end.Runtime.HeapAllocsBytes
	if p.AllocBytesTotal < s || c < p.AllocBytesTotal {
		return 0, 0
	}
	return float64(p.AllocBytesTotal-s) / a, float64(c-p.AllocBytesTotal) / b
}

func absDur[T ~int64](d T) T {
	if d < 0 {
		return -d
	}
	return d
}

// whatIf is the report section; nil without a window over runtime/metrics.
func whatIf(m *whatIfModel) *WhatIf {
	if m.win.Seconds == 0 {
		return nil
	}
	out := &WhatIf{Assumptions: whatIfAssumptions, Current: observedRow(m.obs)}
	if m.err != nil {
		var re *gcmodel.RefusalError
		if errors.As(m.err, &re) {
			for _, r := range re.Reasons {
				out.Refused = append(out.Refused, WhatIfRefusal{Reason: string(r.Reason), Detail: r.Detail})
			}
		} else {
			out.Refused = []WhatIfRefusal{{Reason: "error", Detail: m.err.Error()}}
		}
		return out
	}
	out.Predictions = make([]WhatIfRow, len(m.preds))
	for i := range m.preds {
		out.Predictions[i] = predictedRow(&m.preds[i])
	}
	return out
}

func settingFields(s gcmodel.Setting) (string, int, *int64) {
	var lim *int64
	if s.MemoryLimitBytes != gcmodel.NoLimit {
		l := s.MemoryLimitBytes
		lim = &l
	}
	return s.String(), s.GOGC, lim
}

func observedRow(o gcmodel.Observed) WhatIfRow {
	r := WhatIfRow{
		GCCyclesPerSecond: finite(o.CyclesPerSecond), GCCPUFraction: finite(o.GCCPUShare),
		GCMarkCPUFraction: finite(o.MarkCPUShare), GCAssistCPUFraction: finite(o.AssistCPUShare), GCPauseCPUFraction: finite(o.PauseCPUShare),
	}
	r.Setting, r.GOGC, r.GOMEMLIMITBytes = settingFields(o.Setting)
	return r
}

func predictedRow(p *gcmodel.Prediction) WhatIfRow {
	r := WhatIfRow{
		GCCyclesPerSecond: finite(p.CyclesPerSecond), GCCPUFraction: finite(p.GCCPUShare),
		GCMarkCPUFraction: finite(p.MarkCPUShare), GCAssistCPUFraction: finite(p.AssistCPUShare), GCPauseCPUFraction: finite(p.PauseCPUShare),
		HeapUnbounded: p.Unbounded, LimitBinds: p.LimitBinds, LimiterEngages: p.LimiterEngages,
	}
	r.Setting, r.GOGC, r.GOMEMLIMITBytes = settingFields(p.Setting)
	if p.HeapGoalBytes > 0 {
		g := p.HeapGoalBytes
		r.HeapGoalBytes = &g
	}
	if !p.Unbounded {
		pk := p.PeakHeapBytes
		r.PeakHeapBytes = &pk
		if p.PeakResidentBytes > 0 {
			pr := p.PeakResidentBytes
			r.PeakResidentBytes = &pr
		}
		if p.ContainerKnown {
			h := p.ContainerHeadroomBytes
			r.ContainerHeadroomBytes = &h
		}
	}
	return r
}

// The settings a finding recommends, and the prediction it quotes.
type whatIfAdvice int

const (
	adviseHigherGOGC    whatIfAdvice = iota // gc_cpu_high, gc_too_frequent
	adviseAdaptiveLimit                     // gomemlimit_unset_in_container
	adviseRaiseLimit                        // heap_near_gomemlimit: the adaptive limit if higher, else the current setting
)

// quote is the sentence a finding appends to its advice: the model's prediction for the setting
// the finding recommends; "" when the model refused the window or has no such setting.
func (m *whatIfModel) quote(kind whatIfAdvice) string {
	if m == nil || m.err != nil || len(m.preds) == 0 {
		return ""
	}
	cur := -1
	for i, s := range m.cands {
		if s == m.obs.Setting {
			cur = i
		}
	}
	if cur < 0 {
		return ""
	}
	pick := -1
	switch kind {
	case adviseHigherGOGC:
		// The smallest higher GOGC (with the current limit) that fits the container, if known.
		for i, p := range m.preds {
			s := p.Setting
			if s.MemoryLimitBytes != m.obs.Setting.MemoryLimitBytes || m.obs.Setting.GOGC < 0 || s.GOGC <= m.obs.Setting.GOGC || p.Unbounded {
				continue
			}
			if p.ContainerKnown && p.ContainerHeadroomBytes < 0 {
				continue
			}
			if pick < 0 || s.GOGC < m.preds[pick].Setting.GOGC {
				pick = i
			}
		}
	case adviseAdaptiveLimit:
		if l, ok := gcmodel.AdaptiveLimit(m.win.ContainerLimitBytes, m.win.NonGoResidentBytes, gcmodel.DefaultHeadroomShare); ok && m.win.NonGoKnown {
			for i, p := range m.preds {
				if p.Setting == (gcmodel.Setting{GOGC: m.obs.Setting.GOGC, MemoryLimitBytes: l}) {
					pick = i
				}
			}
		}
	case adviseRaiseLimit:
		pick = cur
		if l, ok := gcmodel.AdaptiveLimit(m.win.ContainerLimitBytes, m.win.NonGoResidentBytes, gcmodel.DefaultHeadroomShare); ok && m.win.NonGoKnown && l > m.obs.Setting.MemoryLimitBytes {
			for i, p := range m.preds {
				if p.Setting == (gcmodel.Setting{GOGC: m.obs.Setting.GOGC, MemoryLimitBytes: l}) {
					pick = i
				}
			}
		}
	}
	if pick < 0 {
		return ""
	}
	p := m.preds[pick]
	if pick == cur {
		s := "Predicted at the current setting (docs/whatif.md): GC CPU about " + humanize.Percent(p.GCCPUShare)
		if p.LimitBinds {
			s += ", the memory limit sets the pace"
		}
		if p.LimiterEngages {
			s += ", the GC CPU limiter engages (GC capped at 50% and the heap above its goal)"
		}
		if !p.Unbounded {
			s += ", peak heap about " + humanize.Bytes(p.PeakHeapBytes)
		}
		return s
	}
	s := "Predicted (docs/whatif.md): " + gcmodel.Describe(m.obs, m.preds[cur], p)
	if p.Setting.MemoryLimitBytes != m.obs.Setting.MemoryLimitBytes && p.Setting.MemoryLimitBytes != gcmodel.NoLimit {
		s += " (the limit is the container's " + humanize.Bytes(m.win.ContainerLimitBytes) + " minus " +
			humanize.Bytes(m.win.NonGoResidentBytes) + " of measured non-Go memory minus 5% headroom)"
	}
	return s
}

// withQuote appends the model's prediction for the recommended setting to a finding's advice.
func (c *ruleContext) withQuote(advice string, kind whatIfAdvice) string {
	if q := c.whatIf.quote(kind); q != "" {
		return advice + ". " + q
	}
	return advice
}
