package runtimediag

import (
	"context"
	"time"

	"go.uber.org/zap"
)

// runWorker takes the background full reports and the captures. The flight recorder stops with
// it: it exists for the captures the worker takes.
func (m *Monitor) runWorker(ctx context.Context) {
	defer m.wg.Done()
	defer m.stopFlightRecorder()
	m.baseline()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.fullReq:
			m.takeReading()
			if err := m.scheduledReport(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn(LogMessageReportFailed, zap.Error(err))
			}
		case <-m.windowReq:
			m.takeReading()
		case <-m.classifyReq:
			m.classifyNonGo(ctx)
		case req := <-m.captureReq:
			info := m.caps.take(ctx, m, &req, req.reason())
			logCapture(m.log, &info)
		}
	}
}

// classifySources is what a classification of the mappings for the adaptive memory limit reads:
// smaps and what the Attributor needs beside it, and no more of the full tier.
const classifySources = 1<<SourceRuntimeMetrics | 1<<SourceStatm | 1<<SourceSmaps | 1<<SourceIdentity

// classifyNonGo classifies every mapping (Attributor.Measure) for the adaptive memory limit, which
// takes its non-Go memory from it. It reads smaps, whose cost grows with resident memory, and runs
// on the worker only, never on the tick; its CPU is memdiag's own.
func (m *Monitor) classifyNonGo(ctx context.Context) {
	if m.classSnap == nil {
		m.classSnap = new(Snapshot)
	}
	var rss RSS
	var err error
	d := measureCPU(func() {
		m.fullCol.Read(ctx, m.classSnap, classifySources)
		in := rssReading(m.classSnap)
		rss, err = m.attr.Measure(&in)
	})
	m.selfCPU.Add(int64(d))
	if ctx.Err() != nil {
		return
	}
	m.memLimit.noteClassification(m.classSnap.Time, &rss, err)
}

// baseline takes the first window reading, the start of every window until the history fills.
func (m *Monitor) baseline() {
	if m.windows.count() == 0 {
		m.takeReading()
	}
}

// takeReading takes a window reading: a cheap snapshot and the allocation profile, together. A
// reading within half a step of the last is not taken (a worker that ran late for the first
// reading, then on time for the next): windows are at least half a step long.
func (m *Monitor) takeReading() {
	if last, ok := m.windows.newest(); ok && m.clock.Now().Sub(last) < m.windows.step/2 {
		return
	}
	var r windowReading
	d := measureCPU(func() {
		r.snap = m.fullCol.Cheap()
		r.prof = m.reader.read(false, true, m.leaks != nil)
		m.leaks.sampleWindow(&r)
		r.prof.inuse = nil // read by the heap-by-site source; the window ring keeps the sums only
	})
	m.selfCPU.Add(int64(d))
	r.selfCPU = m.selfCPUTotal()
	m.windows.push(r)
}

// scheduledReport is the full report the Monitor takes on its own schedule: the one whose reading
// the leak sources sample (a report somebody asked for never is). When a report somebody asked
// for is already being collected, the worker joins it, and its reading serves as the scheduled
// one: sampled once, whichever goroutine gets there first.
func (m *Monitor) scheduledReport(ctx context.Context) error {
	call, err := m.startFull()
	if err != nil {
		return err
	}
	call.scheduled.Store(true)
	select {
	case <-call.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if call.err == nil && m.leaks != nil && call.sampled.CompareAndSwap(false, true) {
		d := measureCPU(func() { m.leaks.sampleFull(call.reading) })
		m.selfCPU.Add(int64(d))
	}
	return call.err
}

// selfCPUTotal is memdiag's own CPU so far: the ticks' time, the readings' and the collections'.
func (m *Monitor) selfCPUTotal() time.Duration {
	return time.Duration(m.selfCPU.Load() + m.tickNanos.Load())
}
