package runtimediag

import (
	"context"
	"math"
	"time"
)

// runTicks is the tick goroutine. The first tick runs at once, so that Latest has a point as
// soon as Start returns plus a few microseconds.
func (m *Monitor) runTicks(ctx context.Context) {
	defer m.wg.Done()
	ticks, stop := m.clock.NewTicker(m.mc.tick)
	defer stop()
	m.tick()
	m.logFrom = m.point
	m.resetLogPauses()
	// Half a tick of slack: ticker times jitter, and a line due at 60 s should not wait to 61 s.
	full := newSchedule(m.point.Time, m.mc.full, m.mc.tick/2)
	logs := newSchedule(m.point.Time, m.mc.logInterval, m.mc.tick/2)
	windows := newSchedule(m.point.Time, m.windows.step, m.mc.tick/2)
	for {
		select {
		case <-ctx.Done():
			return
		case <-ticks:
		}
		m.tick()
		// The tick's own reading time, not the ticker's: after a stall the ticker hands over a
		// send time long past, and deadlines from it come due again at once.
		m.afterTick(m.point.Time, &full, &logs, &windows)
	}
}

// afterTick asks the worker for a full report, or else for a window reading, and queues the
// summary line when their deadlines are met at now.
func (m *Monitor) afterTick(now time.Time, full, logs, windows *schedule) {
	windowDue := windows.due(now)
	if full.due(now) {
		// A full report takes its window reading first: its window ends now.
		select {
		case m.fullReq <- struct{}{}:
		default: // one is already asked for
		}
	} else if windowDue {
		select {
		case m.windowReq <- struct{}{}:
		default:
		}
	}
	if logs.due(now) {
		m.queueSummary()
	}
}

// tick reads the cheap tier into the spare snapshot, stores a point and checks the cheap
// triggers. Once warm it allocates nothing.
func (m *Monitor) tick() {
	start := time.Now()
	cur := &m.snaps[m.cur]
	var prev *Snapshot
	if m.ticked {
		prev = &m.snaps[1-m.cur]
	}
	m.col.ReadCheap(cur)
	pointFrom(&m.point, prev, cur)
	sampleCustom(&m.point, m.mc.custom)
	m.point.RSSEstimated = true
	est := rssCheapReading(cur)
	m.point.RSSClassified = m.attr.EstimateBytes(&est, &m.point.RSSCategoryBytes)
	m.hist.push(&m.point)
	m.checkTickTriggers(&m.point)
	if m.memLimit.update(cur) {
		select {
		case m.classifyReq <- struct{}{}:
		default: // one is already asked for
		}
	}
	m.logPauseMax = max(m.logPauseMax, m.point.PauseGCMaxSeconds)
	m.cur = 1 - m.cur
	m.ticked = true
	m.ticks.Add(1)
	m.tickNanos.Add(int64(time.Since(start)))
}

// lastSnap is the snapshot the last tick read.
func (m *Monitor) lastSnap() *Snapshot { return &m.snaps[1-m.cur] }

func (m *Monitor) resetLogPauses() {
	h := m.lastSnap().Runtime.PausesTotalGC
	m.logPauses.Counts = append(m.logPauses.Counts[:0], h.Counts...)
	m.logPauses.Buckets = h.Buckets
	m.logPauseMax = 0
}

// queueSummary hands the interval's numbers to the log writer, which composes the line.
func (m *Monitor) queueSummary() {
	cur := m.lastSnap()
	cur.Runtime.PausesTotalGC.Delta(m.logPauses, &m.pauseDelta)
	p99 := m.pauseDelta.Quantile(0.99)
	if math.IsNaN(p99) {
		p99 = 0
	}
	m.q.put(logItem{summary: newSummaryInput(&m.logFrom, &m.point, p99, m.logPauseMax, cur, minSummaryRateSeconds(m.mc.logInterval))})
	m.logFrom = m.point
	m.resetLogPauses()
}
