package runtimediag

import (
	"fmt"
	"maps"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
)

// This file holds what makes findings hold still between reports: every rule has a raise and a
// clear threshold (the clear one ClearRatio of the way to the raise one), a number of consecutive
// evaluations its condition must hold before the finding is reported and must fail before it
// clears, and a shortest window it is evaluated on. The state that needs — which findings are
// reported, how many evaluations in a row held — is a value Analyze takes and returns
// (AnalyzeInput.State, Report.State), so that Analyze stays a pure function of its input.

// FindingState is what Analyze remembers about each rule between reports. Pass the State of one
// report as AnalyzeInput.State of the next; the Monitor does. It is a value Analyze never
// modifies: each report gets a new one.
type FindingState struct {
	Rules map[string]RuleState
}

// RuleState is one rule's history.
type RuleState struct {
	// Active is whether the finding is reported.
	Active bool
	// Since is when the finding was first reported (Active) or when its condition began to hold.
	Since time.Time
	// Held counts the consecutive evaluations in which the condition held; Failed those in which
	// it did not, while Active.
	Held, Failed int
	// Finding is the finding as last measured while its condition held, at MeasuredAt.
	Finding    Finding
	MeasuredAt time.Time
}

func (st *RuleState) zero() bool { return !st.Active && st.Held == 0 && st.Failed == 0 }

func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// rulePolicy is how a rule's condition becomes a reported finding.
type rulePolicy struct {
	// needs is the shortest input the rule is evaluated on.
	needs ruleNeed
	// raiseAfter is how many consecutive evaluations the condition must hold before the finding is
	// reported; clearAfter how many it must fail (its figure below the clear threshold) before a
	// reported finding clears. Both at least 1.
	raiseAfter, clearAfter int
}

type ruleNeed uint8

const (
	needNothing    ruleNeed = iota
	needRateWindow          // a window of at least Thresholds.MinRateWindow
	needTrendSpan           // at least TrendMinPoints points over at least TrendMinSpan
)

// policies gives every rule that differs from the default (evaluated on any input, reported the
// first time its condition holds, cleared the first time it does not). Rules about rates need a
// window long enough for a rate and two reports in a row; pauses come one GC at a time, so a long
// one must recur before it is reported and stay away three reports before it clears.
var policies = map[string]rulePolicy{
	"gc_cpu_high":                {needs: needRateWindow, raiseAfter: 2, clearAfter: 2},
	"gc_too_frequent":            {needs: needRateWindow, raiseAfter: 2, clearAfter: 2},
	"gc_mark_assist_high":        {needs: needRateWindow, raiseAfter: 2, clearAfter: 2},
	"small_object_churn":         {needs: needRateWindow, raiseAfter: 2, clearAfter: 2},
	"large_allocations_dominate": {needs: needRateWindow, raiseAfter: 2, clearAfter: 2},
	"forced_gc_frequent":         {needs: needRateWindow, raiseAfter: 2, clearAfter: 2},
	"stw_pause_long":             {raiseAfter: 2, clearAfter: 3},
	"stw_stopping_long":          {raiseAfter: 2, clearAfter: 3},
	"goroutines_growing":         {needs: needTrendSpan, raiseAfter: 1, clearAfter: 2},
	"rss_growing_heap_flat":      {needs: needTrendSpan, raiseAfter: 1, clearAfter: 2},
	// A suspect is already the verdict of a trend test over many readings: reported at once,
	// cleared once it has been gone from two reports in a row.
	FindingHeapGrowingAtSite:     {raiseAfter: 1, clearAfter: 2},
	FindingGoroutineGroupGrowing: {raiseAfter: 1, clearAfter: 2},
	FindingGoroutinesLeaked:      {raiseAfter: 1, clearAfter: 2},
	FindingMappingsGrowing:       {raiseAfter: 1, clearAfter: 2},
}

func policyOf(code string) rulePolicy {
	p, ok := policies[code]
	if !ok {
		p = rulePolicy{}
	}
	p.raiseAfter, p.clearAfter = max(p.raiseAfter, 1), max(p.clearAfter, 1)
	return p
}

// notEvaluated says why the rule cannot be evaluated on this input, "" when it can.
func (c *ruleContext) notEvaluated(p rulePolicy) string {
	switch p.needs {
	case needRateWindow:
		if !c.w.ok() {
			return "no window"
		}
		if least := c.th.MinRateWindow.Seconds(); c.w.seconds < least {
			return fmt.Sprintf("window %s < %s", humanize.Duration(c.w.seconds), humanize.Duration(least))
		}
	case needTrendSpan:
		pts := c.history
		if len(pts) < c.th.TrendMinPoints {
			return fmt.Sprintf("history of %d points < %d", len(pts), c.th.TrendMinPoints)
		}
		if span := pts[len(pts)-1].Time.Sub(pts[0].Time); span < c.th.TrendMinSpan {
			return fmt.Sprintf("history span %s < %s", humanize.Duration(span.Seconds()), humanize.Duration(c.th.TrendMinSpan.Seconds()))
		}
	}
	return ""
}

// over reports whether v is at or above the raise threshold, or, for a finding already reported
// (or pending at that severity), above the clear threshold ClearRatio × raise.
func (c *ruleContext) over(v, raise float64) bool {
	if c.active {
		return v >= raise*c.clearRatio()
	}
	return v >= raise
}

// clearRatio is Thresholds.ClearRatio, or 1 (clear at the raise threshold) when it is not in (0, 1].
func (c *ruleContext) clearRatio() float64 {
	if r := c.th.ClearRatio; r > 0 && r <= 1 {
		return r
	}
	return 1
}

// under is over for thresholds that fire on a low figure: below raise, or, once reported, below
// raise ÷ ClearRatio.
func (c *ruleContext) under(v, raise float64) bool {
	if c.active {
		return v < raise/c.clearRatio()
	}
	return v < raise
}

// level is the severity of v against a warning and a critical threshold, with the clear threshold
// applied to the severity the finding was reported at: a critical finding stays critical until v
// falls below ClearRatio × critical. "" when v is below both.
func (c *ruleContext) level(v, warning, critical float64) Severity {
	crit := v >= critical || c.activeSeverity == SeverityCritical && v >= critical*c.clearRatio()
	switch {
	case crit:
		return SeverityCritical
	case c.over(v, warning):
		return SeverityWarning
	}
	return ""
}

// evaluateRules runs every rule over ctx, carrying prev (nil for a stateless evaluation: every
// rule whose condition holds is reported, nothing is remembered) and returns the reported
// findings and the next state.
func evaluateRules(ctx *ruleContext, prev *FindingState, now time.Time) ([]Finding, *FindingState) {
	stateful := prev != nil
	next := &FindingState{Rules: map[string]RuleState{}}
	if stateful {
		next.Rules = maps.Clone(prev.Rules)
		if next.Rules == nil {
			next.Rules = map[string]RuleState{}
		}
	}
	var out []Finding
	for i := range allRules {
		r := &allRules[i]
		p := policyOf(r.code)
		st := next.Rules[r.code]
		if why := ctx.notEvaluated(p); why != "" {
			// The state carries over unchanged: a window too short says nothing either way.
			ctx.notes = append(ctx.notes, fmt.Sprintf("%s not evaluated: %s", r.code, why))
			if st.Active {
				out = append(out, st.Finding)
				ctx.notes = append(ctx.notes, fmt.Sprintf("%s is shown as measured at %s", r.code, stamp(st.MeasuredAt)))
			}
			continue
		}
		ctx.active = stateful && st.Active
		ctx.activeSeverity = ""
		if ctx.active {
			ctx.activeSeverity = st.Finding.Severity
		}
		f := r.check(ctx)
		if f != nil {
			f.Code = r.code
			f.Doc = findingsDoc + "#" + r.code
			if f.Severity == "" {
				f.Severity = r.severity
			}
			for j := range f.Evidence {
				f.Evidence[j].Value = finite(f.Evidence[j].Value)
			}
		}
		if !stateful {
			if f != nil {
				out = append(out, *f)
			}
			continue
		}
		switch {
		case f != nil:
			if st.Held == 0 && !st.Active {
				st.Since = now
			}
			st.Held++
			st.Failed = 0
			st.Finding, st.MeasuredAt = *f, now
			if !st.Active && st.Held >= p.raiseAfter {
				st.Active, st.Since = true, now
			}
			if st.Active {
				out = append(out, st.Finding)
			} else {
				ctx.notes = append(ctx.notes, fmt.Sprintf("%s held in %d of the %d evaluations in a row it needs to be reported", r.code, st.Held, p.raiseAfter))
			}
		case st.Active:
			st.Held = 0
			st.Failed++
			if st.Failed >= p.clearAfter {
				st = RuleState{}
				break
			}
			out = append(out, st.Finding)
			ctx.notes = append(ctx.notes, fmt.Sprintf("%s is below its clear threshold in %d of the %d evaluations in a row it needs to clear; shown as measured at %s",
				r.code, st.Failed, p.clearAfter, stamp(st.MeasuredAt)))
		default:
			st = RuleState{}
		}
		if st.zero() {
			delete(next.Rules, r.code)
		} else {
			next.Rules[r.code] = st
		}
	}
	if !stateful {
		next = nil
	}
	return out, next
}

// atMost is over for thresholds that a figure must not exceed (small_object_churn's mean size):
// at most raise, or, once reported, at most raise ÷ ClearRatio.
func (c *ruleContext) atMost(v, raise float64) bool {
	if c.active {
		return v <= raise/c.clearRatio()
	}
	return v <= raise
}
