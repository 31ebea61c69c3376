package runtimediag

import (
	"context"
	"io"
)

// stopFlightRecorder stops the flight recorder if it runs; it waits for a capture reading it.
func (m *Monitor) stopFlightRecorder() {
	m.caps.takeMu.Lock()
	if m.caps.fr != nil {
		m.caps.fr.Stop()
		m.caps.fr = nil
	}
	m.caps.frOn.Store(false)
	m.caps.takeMu.Unlock()
}

// Captures lists the stored captures, oldest first.
func (m *Monitor) Captures() []CaptureInfo { return m.caps.list() }

// WriteCapture writes one part (CapturePartHeap, CapturePartGoroutine or CapturePartTrace) of a
// stored capture to w; the error wraps ErrCaptureNotFound when the capture was evicted or never
// held that part.
func (m *Monitor) WriteCapture(w io.Writer, id uint64, part string) error {
	return m.caps.write(w, id, part)
}

// WriteFlightRecorder writes the flight recorder's window — the last WithFlightRecorder seconds of
// the process's execution trace, for go tool trace — to w. It waits for a capture reading the
// recorder (the runtime allows one reader at a time) and returns an error wrapping
// ErrNoFlightRecorder when none runs: before Start, after the Monitor stopped, or without
// WithFlightRecorder.
func (m *Monitor) WriteFlightRecorder(w io.Writer) (int64, error) {
	m.caps.takeMu.Lock()
	defer m.caps.takeMu.Unlock()
	if m.caps.fr == nil {
		return 0, ErrNoFlightRecorder
	}
	return m.caps.fr.WriteTo(w)
}

// Capture takes a capture now, whatever the triggers and their cooldowns: the flight recorder's
// window (when running), a heap profile, a goroutine profile — which stops the world for a time
// that grows with the number of goroutines — and a fresh full report.
func (m *Monitor) Capture(ctx context.Context, reason string) (CaptureInfo, error) {
	if m.closed() {
		return CaptureInfo{}, errMonitorClosed
	}
	if reason == "" {
		reason = "asked for"
	}
	req := captureRequest{kind: TriggerManual, at: m.clock.Now()}
	info := m.caps.take(ctx, m, &req, reason)
	logCapture(m.log, &info)
	return info, nil
}

// checkTickTriggers fires the resident and pause triggers.
func (m *Monitor) checkTickTriggers(p *Point) {
	for i := range m.mc.triggers {
		t := &m.mc.triggers[i]
		switch t.kind {
		case TriggerResident:
			if p.LimitBytes == 0 || p.ResidentBytes == 0 {
				m.aboveResident[i] = false
				continue
			}
			threshold := t.fraction * float64(p.LimitBytes)
			above := float64(p.ResidentBytes) >= threshold
			if above && !m.aboveResident[i] {
				m.fire(captureRequest{kind: TriggerResident, at: p.Time, value: float64(p.ResidentBytes), threshold: threshold, limit: float64(p.LimitBytes)})
			}
			m.aboveResident[i] = above
		case TriggerGCPause:
			if p.PauseGCMaxSeconds >= t.pause.Seconds() {
				m.fire(captureRequest{kind: TriggerGCPause, at: p.Time, value: p.PauseGCMaxSeconds, threshold: t.pause.Seconds()})
			}
		}
	}
}

// fire hands a capture request to the worker unless its kind is cooling down or the worker is
// still busy with earlier ones.
func (m *Monitor) fire(req captureRequest) bool {
	k := req.kind.index()
	if last := m.lastFired[k]; !last.IsZero() && req.at.Sub(last) < m.mc.cooldown {
		return false
	}
	select {
	case m.captureReq <- req:
		m.lastFired[k] = req.at
		return true
	default:
		return false
	}
}

func (m *Monitor) fireFindingTriggers(rep *Report, trans []findingTransition) {
	for i := range trans {
		tr := &trans[i]
		if tr.kind == TransitionCleared {
			continue
		}
		for _, t := range m.mc.triggers {
			if t.kind == TriggerFinding && t.matches(&tr.finding) {
				f := tr.finding
				if m.fire(captureRequest{kind: TriggerFinding, at: rep.Time, finding: &f, report: rep}) {
					return // one capture per report
				}
			}
		}
	}
}
