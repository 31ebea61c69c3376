package runtimediag

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Log fields of the window a finding transition was computed over (docs/logging.md).
const (
	fieldWindowStart  = "window_start"
	fieldWindowEnd    = "window_end"
	fieldWindowSource = "window_source"
)

// Report takes a fresh full report: a full snapshot and its RSS attribution (figures of this
// moment), and the rates, allocation sites, findings and memdiag's own cost over the Monitor's
// window — the last completed full interval, between two of its scheduled readings (Report.Window
// says which). Asking does not move the window: a Report never changes what the next one sees.
// Before Start there are no readings, and the report has no rates.
//
// One full collection runs at a time: a caller arriving while one is under way shares it. ctx
// bounds the wait, not the collection, which finishes for the others (Close cancels it). The
// Report is shared: do not modify it.
func (m *Monitor) Report(ctx context.Context) (*Report, error) {
	return m.report(ctx, 0)
}

// ReportWindow is Report over the last d instead of the last full interval: the window from the
// newest reading back to the reading nearest d before it. d must lie between the step of the
// readings (Report.Window.StepSeconds) and how far they reach back (MaxSeconds); otherwise the
// error wraps ErrWindowOutOfRange. The report is not published (Latest) and changes no state.
func (m *Monitor) ReportWindow(ctx context.Context, d time.Duration) (*Report, error) {
	if d <= 0 {
		return nil, fmt.Errorf("%w: %s is not a positive duration", ErrWindowOutOfRange, d)
	}
	return m.report(ctx, d)
}

func (m *Monitor) report(ctx context.Context, d time.Duration) (*Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if d > 0 {
		// Refused before collecting anything: a bad request costs no smaps walk.
		if _, err := m.windows.choose(d, m.mc.full, time.Time{}); err != nil {
			return nil, err
		}
	}
	call, err := m.startFull()
	if err != nil {
		return nil, err
	}
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if call.err != nil || d == 0 {
		return call.rep, call.err
	}
	cw, err := m.windows.choose(d, m.mc.full, call.reading.snap.Time)
	if err != nil {
		return nil, err
	}
	return m.analyze(call.reading, cw, m.trendPoints(nil, call.reading.snap.Time), false), nil
}

// fullCall is one full collection and everyone waiting for it.
type fullCall struct {
	done    chan struct{}
	rep     *Report // over the Monitor's window
	reading *fullReading
	err     error
	// scheduled is set when the Monitor's own schedule asked for (or joined) this collection;
	// sampled once its reading went to the leak sources.
	scheduled, sampled atomic.Bool
}

// fullReading is what one full collection read: everything of a report but its window.
type fullReading struct {
	snap   *Snapshot
	rss    RSS
	prof   *AllocProfile
	routes []RouteStats
}

// startFull joins the collection under way or starts one.
func (m *Monitor) startFull() (*fullCall, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == stateClosed {
		return nil, errMonitorClosed
	}
	if m.inflight != nil {
		return m.inflight, nil
	}
	call := &fullCall{done: make(chan struct{})}
	m.inflight = call
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		var rep *Report
		var reading *fullReading
		var err error
		cpu := measureCPU(func() {
			reading, err = m.collectFull(m.life)
			if err == nil && call.scheduled.Load() && call.sampled.CompareAndSwap(false, true) {
				m.leaks.sampleFull(reading) // in this collection's CPU already
			}
			if err == nil {
				cw, _ := m.windows.choose(0, m.mc.full, reading.snap.Time)
				m.trendBuf = m.trendPoints(m.trendBuf[:0], reading.snap.Time)
				rep = m.analyze(reading, cw, m.trendBuf, true)
			}
		})
		m.selfCPU.Add(int64(cpu))
		if err == nil {
			m.afterFull(rep)
		}
		m.mu.Lock()
		m.inflight = nil
		m.mu.Unlock()
		call.rep, call.reading, call.err = rep, reading, err
		close(call.done)
	}()
	return call, nil
}

// collectFull reads a full snapshot, its attribution, the allocation profile (once: the
// per-route figures are taken from the same reading) and the routes.
func (m *Monitor) collectFull(ctx context.Context) (*fullReading, error) {
	snap := m.fullCol.Full(ctx)
	if ctx.Err() != nil {
		return nil, errMonitorClosed
	}
	rd := &fullReading{snap: snap, prof: m.reader.read(true, false, false)}
	in := rssReading(snap)
	rss, err := m.attr.Measure(&in)
	if err != nil {
		rss = m.attr.Estimate(&in)
		rss.Notes = append(rss.Notes, "no per-mapping attribution ("+err.Error()+"): categories are estimates")
	} else {
		m.memLimit.noteClassification(snap.Time, &rss, nil)
	}
	rd.rss = rss
	rd.routes = m.routesFrom(rd.prof)
	// The stacks served the routes; what stays is memdiag's live heap (selfCost).
	rd.prof = rd.prof.withoutStacks()
	m.fulls.Add(1)
	return rd, nil
}

// trendPoints appends to dst the tick history the trend rules look at: the whole ring up to the
// report's snapshot, thinned evenly to at most maxTrendPoints points, so that a report costs the
// same whatever the history's length.
func (m *Monitor) trendPoints(dst []Point, until time.Time) []Point {
	return m.hist.window(dst, time.Time{}, until, maxTrendPoints)
}

// analyze makes the report of a full reading over a window; history is the window's tick
// history for the trend rules. The findings' hysteresis moves on once per window, not per
// report: with commit, a window newer than the last one evaluated advances the carried state,
// and a report over that same window again (a viewer asking twice) starts from the state before
// it, so it says what the first one said. Without commit (a window a viewer asked for) the state
// is read, never changed.
func (m *Monitor) analyze(rd *fullReading, cw chosenWindow, history []Point, commit bool) *Report {
	// The suspects come first, so that the findings they raise and the Leaks section agree.
	in := AnalyzeInput{Cur: rd.snap, RSS: rd.rss, History: history, Leaks: m.leaks.report(rd.snap.Time), Thresholds: m.mc.thresholds}
	var end time.Time
	if cw.end.snap != nil {
		end = cw.end.snap.Time
	}
	m.fullMu.Lock()
	newer := commit && (m.findings == nil || end.After(m.findingsEnd))
	switch {
	case newer || m.findings == nil:
		in.State = m.findings
	case commit && end.Equal(m.findingsEnd):
		in.State = m.findingsPrev
	default:
		in.State = m.findings
	}
	m.fullMu.Unlock()
	if in.State == nil {
		in.State = &FindingState{}
	}
	var notes []string
	if cw.start.snap != nil {
		in.Prev, in.WindowEnd = cw.start.snap, cw.end.snap
		if cw.start.prof != nil && cw.end.prof != nil {
			in.Sites = AllocSitesDelta(cw.start.prof, cw.end.prof, m.mc.topSites)
		}
		if s := in.Sites; s != nil {
			switch {
			case s.GCCycles == 0:
				s.Note = "no GC cycle ended in the window: the runtime publishes sampled allocations at the end of a cycle, so no site has figures for it (the efficiency rates, from runtime/metrics, do), and memdiag's own share could not be taken out of them"
			case !s.published():
				s.Note = fmt.Sprintf("the %d GC cycles that ended in the window published no sampled allocation (the runtime publishes a cycle's allocations up to two cycles later), so no site has figures for it and memdiag's own share could not be taken out of the efficiency rates", s.GCCycles)
			default:
				s.Note = fmt.Sprintf("the allocations the runtime published at the end of the %d GC cycles that ended in the window, which it does up to two cycles after they were made: the sites lag the efficiency rates by as much", s.GCCycles)
			}
		}
	} else {
		notes = append(notes, "the Monitor has fewer than two window readings (it takes one at Start and one every "+m.windows.step.String()+"): no window, so no rates and no allocation sites")
	}
	rep := Analyze(in)
	if newer {
		m.fullMu.Lock()
		m.findingsPrev, m.findings, m.findingsEnd = in.State, rep.State, end
		m.fullMu.Unlock()
	}
	rep.Routes = rd.routes
	info := cw.info
	rep.Window = &info
	rep.Notes = append(rep.Notes, notes...)
	rep.MemdiagSelf = selfCost(rep, cw, rd.prof)
	return rep
}

// selfCostMethod completes selfCPUMethod in SelfCost.Method.
const selfCostMethod = "; allocation and live heap: the sampled allocation profile's stacks whose innermost memdiag frame is not an application callback (runtime/pprof, encoding/json and the like count when memdiag called them), taken out of the application's sites and rates; not counted: the net/http server's own reading of requests to memdiag's endpoints, and the CPU of rendering them"

// selfCost is memdiag's own cost over the report's window.
func selfCost(rep *Report, cw chosenWindow, prof *AllocProfile) *SelfCost {
	sc := &SelfCost{Method: selfCPUMethod + selfCostMethod}
	if cw.start.snap != nil && rep.WindowSeconds > 0 {
		sc.CPUSeconds = max(cw.end.selfCPU-cw.start.selfCPU, 0).Seconds()
		sc.CPUShare = clamp01(ratio(sc.CPUSeconds, rep.Efficiency.BusyCores*rep.WindowSeconds))
	}
	if s := rep.TopAllocationSites; s.published() {
		sc.AllocBytesPerSecond = s.MemdiagItself.BytesPerSecond
		sc.AllocShare = s.MemdiagItself.Share
	}
	if prof != nil {
		sc.HeapInuseBytes = uint64(max(prof.selfInuseBytes, 0))
		sc.ResidentShare = ratio(float64(sc.HeapInuseBytes), float64(rep.Efficiency.ResidentBytes))
	}
	return sc
}

// afterFull publishes a report, logs the finding transitions and fires the finding triggers. It
// runs before the next collection can start, so transitions are computed in report order.
func (m *Monitor) afterFull(rep *Report) {
	m.lastReport.Store(rep)
	running := m.running()
	m.fullMu.Lock()
	trans := m.tracker.update(rep.Findings)
	leakTrans := m.leakLog.update(rep.Leaks)
	if running {
		m.fireFindingTriggers(rep, trans)
	}
	m.fullMu.Unlock()
	if len(trans) == 0 && len(leakTrans) == 0 {
		return
	}
	// A finding holds over the report's window: every transition line says which.
	l := m.log
	if w := rep.Window; w != nil {
		l = l.With(zap.Time(fieldWindowStart, w.Start), zap.Time(fieldWindowEnd, w.End), zap.String(fieldWindowSource, w.Source))
	}
	for i := range trans {
		trans[i].log(l)
	}
	for i := range leakTrans {
		leakTrans[i].log(l)
	}
}
