package runtimediag

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime/trace"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// Monitor watches the process's memory from inside it. Once started it
//
//   - reads the cheap tier every tick (WithTickInterval, default 1 s) into one of two reused
//     snapshots and stores a compact [Point] in a bounded history ring (WithHistory, default one
//     hour in at most 4 MiB): a tick allocates nothing and costs microseconds;
//   - takes a full report on a slower cadence (WithFullInterval, default 5 min) and on demand
//     ([Monitor.Report]): a full snapshot, the RSS attribution, the allocation sites over the window
//     since the previous full report, and the findings;
//   - logs one summary line per interval (WithLogInterval, default 1 min) through the logger of
//     WithLogger, and a line when a finding appears, gets worse or clears — never the same warning
//     every interval (docs/logging.md lists the fields);
//   - captures a heap profile, a goroutine profile, a flight recorder window and the report when a
//     trigger fires (WithTriggers), keeping a bounded number in memory ([Monitor.Captures]).
//
// Nothing runs before [Monitor.Start]; [Monitor.Close] stops everything and waits. Both are
// idempotent and a Monitor cannot be restarted, neither after Close nor after the end of the
// context given to Start. Every method is safe for concurrent use.
//
// # Goroutines
//
// Start runs three goroutines: the tick, a worker for background full reports and captures (so
// that a slow smaps read never delays a tick), and a log writer. The Monitor logs only from the
// writer: every line is handed over through a bounded queue that never waits, so a sink that
// blocks delays the writer alone — lines are then dropped and counted, and the count goes out with
// the next line written (log_lines_dropped). Report also runs each full collection on a goroutine
// of its own, so that callers who give up (ctx) leave it to finish for the others.
type Monitor struct {
	mc  monitorConfig
	col *Collector
	// fullCol serves full reports, so that they never wait on, or hold up, the tick's col.
	fullCol *Collector
	attr    *Attributor
	user    *zap.Logger // the caller's logger; written only by the log writer
	log     *zap.Logger // queues its lines for the log writer
	q       *logQueue
	hist    *historyRing
	caps    *captureStore

	routes routeSlot // per-route statistics for reports (routes.go)

	memLimit *adaptiveLimit // WithMemoryLimit (memlimit.go); nil when not asked for

	life     context.Context // ends at Close: bounds full collections, whoever asked for them
	stopLife context.CancelFunc

	mu        sync.Mutex
	state     monitorState    // read through stateLocked
	run       context.Context // the background's context, derived from Start's
	cancelRun context.CancelFunc
	inflight  *fullCall
	wg        sync.WaitGroup // tick, worker, full collections
	logDone   chan struct{}  // closed when the log writer returns

	fullReq    chan struct{}       // the tick asks the worker for a full report
	captureReq chan captureRequest // a trigger asks the worker for a capture

	// Full-report state. Collections run one at a time (inflight), but the worker's baseline,
	// Latest and the trigger check read it from other goroutines.
	fullMu      sync.Mutex
	prevFull    *Snapshot
	prevProfile *AllocProfile
	tracker     findingTracker
	findings    *FindingState // the findings' hysteresis, carried from report to report
	lastReport  atomic.Pointer[Report]

	// lastFired is when each kind of trigger last fired. The tick owns the resident and pause
	// slots, full reports (under fullMu) the finding slot: no two goroutines share an element.
	lastFired [numTriggerKinds]time.Time

	// Tick state, owned by the tick goroutine (or a test calling tick directly).
	snaps         [2]Snapshot
	cur           int // the snapshot the next tick reads into
	ticked        bool
	point         Point
	aboveResident []bool // per trigger: was resident above its fraction on the last tick
	logFrom       Point
	logPauses     Histogram // /sched/pauses/total/gc counts at the last summary line
	pauseDelta    Histogram
	logPauseMax   float64

	ticks     atomic.Uint64
	tickNanos atomic.Int64
	fulls     atomic.Uint64
}

type monitorState uint8

const (
	stateNew monitorState = iota
	stateRunning
	stateStopped // Start's context ended: nothing runs in the background any more
	stateClosed
)

// ErrMonitorClosed is returned by a Monitor's methods after Close.
var ErrMonitorClosed = errors.New("runtimediag: monitor closed")

// ErrMonitorStopped is returned by Start once the context given to an earlier Start has ended.
var ErrMonitorStopped = errors.New("runtimediag: monitor stopped: its Start context ended")

// closeLogWait is how long Close waits for the log writer to flush. A sink blocked longer keeps
// the writer until its write returns; the Monitor is already stopped by then and the writer exits
// after that one write.
const closeLogWait = 500 * time.Millisecond

// NewMonitor validates the options and returns a Monitor that has started nothing: no goroutine,
// no timer, no file open.
func NewMonitor(opts ...Option) (*Monitor, error) {
	cfg, err := applyOptions("NewMonitor", opts)
	if err != nil {
		return nil, err
	}
	mc := cfg.monitor
	// A default interval never makes a valid tick invalid: it grows to the tick instead.
	if !mc.fullSet {
		mc.full = max(mc.full, mc.tick)
	}
	if !mc.logSet {
		mc.logInterval = max(mc.logInterval, mc.tick)
	}
	switch {
	case mc.full > 0 && mc.full < mc.tick:
		return nil, fmt.Errorf("runtimediag: full interval %s is shorter than the tick interval %s", mc.full, mc.tick)
	case mc.logInterval > 0 && mc.logInterval < mc.tick:
		return nil, fmt.Errorf("runtimediag: log interval %s is shorter than the tick interval %s", mc.logInterval, mc.tick)
	case mc.frWindow > 0 && int64(mc.frMaxBytes) > mc.captureBytes:
		return nil, fmt.Errorf("runtimediag: flight recorder window of %d bytes would not fit the capture storage of %d bytes", mc.frMaxBytes, mc.captureBytes)
	}
	capacity := historyCapacity(mc.history.Seconds(), mc.tick.Seconds())
	if !mc.historySet {
		capacity = min(capacity, maxHistoryBytes/pointSize)
	}
	if capacity > maxHistoryBytes/pointSize {
		return nil, fmt.Errorf("runtimediag: a history of %s at %s ticks is %d points (%d bytes), over the bound of %d bytes",
			mc.history, mc.tick, capacity, capacity*pointSize, maxHistoryBytes)
	}

	q := newLogQueue()
	async := cfg.logger.WithOptions(zap.WrapCore(func(c zapcore.Core) zapcore.Core { return &asyncCore{inner: c, q: q} }))
	// The collector logs its own problems from the tick: through the queue, like everything else.
	colCfg := cfg
	colCfg.logger = async
	col, err := newCollector(colCfg)
	if err != nil {
		return nil, err
	}
	// Full reports read through a collector of their own: a Collector serialises its reads, and a
	// full read walks smaps for milliseconds, which must never hold up the tick's cheap read.
	fullCol, err := newCollector(colCfg)
	if err != nil {
		col.Close()
		return nil, err
	}
	fullCol.srcLog = col.srcLog // one line per source, whichever collector read it
	life, stop := context.WithCancel(context.Background())
	return &Monitor{
		mc:            mc,
		col:           col,
		fullCol:       fullCol,
		attr:          NewAttributor(),
		user:          cfg.logger,
		log:           async,
		q:             q,
		hist:          newHistoryRing(capacity),
		caps:          newCaptureStore(mc.captureCount, mc.captureBytes),
		life:          life,
		stopLife:      stop,
		logDone:       make(chan struct{}),
		fullReq:       make(chan struct{}, 1),
		captureReq:    make(chan captureRequest, 4),
		aboveResident: make([]bool, len(mc.triggers)),
		memLimit:      newAdaptiveLimit(mc.memLimit, async),
	}, nil
}

// Start starts the tick, the worker and the log writer, and the flight recorder when
// WithFlightRecorder asked for it. The Monitor runs until ctx is done or Close is called; Close
// must be called either way, to wait for it and release its files. Start on a running Monitor does
// nothing; Start after Close returns ErrMonitorClosed; Start with a ctx that has already ended
// starts nothing and returns its cause.
//
// When ctx ends the Monitor stops for good: the tick, the worker, the log writer and the flight
// recorder stop, and Start returns an error wrapping ErrMonitorStopped and the context's cause.
// What needs no background goroutine goes on working until Close: Report, Capture, Latest,
// History, Stats. Their log lines (finding transitions, captures) have no writer left: they are
// dropped and counted in MonitorStats.LogLinesDropped, never queued for nobody.
func (m *Monitor) Start(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch m.stateLocked() {
	case stateRunning:
		return nil
	case stateStopped:
		return fmt.Errorf("%w: %w", ErrMonitorStopped, context.Cause(m.run))
	case stateClosed:
		return ErrMonitorClosed
	}
	if err := ctx.Err(); err != nil {
		// A Monitor started on a context that already ended would stop before its first tick
		// while the caller believed it running.
		return fmt.Errorf("runtimediag: Monitor.Start: %w", context.Cause(ctx))
	}
	if m.mc.frWindow > 0 {
		fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: m.mc.frWindow, MaxBytes: m.mc.frMaxBytes})
		if err := fr.Start(); err != nil {
			return fmt.Errorf("runtimediag: Monitor.Start: flight recorder: %w", err)
		}
		m.caps.takeMu.Lock()
		m.caps.fr = fr
		m.caps.frOn.Store(true)
		m.caps.takeMu.Unlock()
	}
	run, cancel := context.WithCancel(ctx)
	m.run, m.cancelRun = run, cancel
	m.state = stateRunning
	m.wg.Add(2)
	go m.runTicks(run)
	go m.runWorker(run)
	go m.runLogWriter(run)
	return nil
}

// Close stops the Monitor: it waits for the tick, the worker and any full collection (which it
// cancels), stops the flight recorder, gives the log writer at most half a second to write what is
// queued, and closes the collector's files. It is idempotent.
func (m *Monitor) Close() error {
	m.mu.Lock()
	if m.state == stateClosed {
		m.mu.Unlock()
		return nil
	}
	started := m.state == stateRunning || m.state == stateStopped
	m.state = stateClosed
	cancel := m.cancelRun
	m.mu.Unlock()

	m.stopLife()
	if cancel != nil {
		cancel()
	}
	m.wg.Wait()
	if started {
		t := time.NewTimer(closeLogWait)
		select {
		case <-m.logDone:
		case <-t.C:
		}
		t.Stop()
	}
	m.stopFlightRecorder()
	m.memLimit.restore()
	return errors.Join(m.col.Close(), m.fullCol.Close())
}

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

// Report takes a fresh full report: a full snapshot, its RSS attribution, the allocation sites
// over the window since the previous full report (or since Start), and the findings, with the
// history for trend rules. One full collection runs at a time: a caller arriving while one is
// under way shares it. ctx bounds the wait, not the collection, which finishes for the others
// (Close cancels it). The Report is shared: do not modify it. Report works before Start too (its
// window then starts at the previous Report).
func (m *Monitor) Report(ctx context.Context) (*Report, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	call, err := m.startFull()
	if err != nil {
		return nil, err
	}
	select {
	case <-call.done:
		return call.rep, call.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// Latest returns the newest tick's point and the last full report (nil before the first). It
// never waits for a collection: the point is copied from the history ring and the report is the
// one already taken. A zero Point.Time means no tick has run yet.
func (m *Monitor) Latest() (Point, *Report) {
	p, _ := m.hist.latest()
	return p, m.lastReport.Load()
}

// History returns a copy of the history ring's points, oldest first.
func (m *Monitor) History() []Point { return m.hist.points() }

// Captures lists the stored captures, oldest first.
func (m *Monitor) Captures() []CaptureInfo { return m.caps.list() }

// WriteCapture writes one part (CapturePartHeap, CapturePartGoroutine or CapturePartTrace) of a
// stored capture to w; the error wraps ErrCaptureNotFound when the capture was evicted or never
// held that part.
func (m *Monitor) WriteCapture(w io.Writer, id uint64, part string) error {
	return m.caps.write(w, id, part)
}

// Capture takes a capture now, whatever the triggers and their cooldowns: the flight recorder's
// window (when running), a heap profile, a goroutine profile — which stops the world for a time
// that grows with the number of goroutines — and a fresh full report.
func (m *Monitor) Capture(ctx context.Context, reason string) (CaptureInfo, error) {
	if m.closed() {
		return CaptureInfo{}, ErrMonitorClosed
	}
	if reason == "" {
		reason = "asked for"
	}
	req := captureRequest{kind: TriggerManual, at: time.Now()}
	info := m.caps.take(ctx, m, &req, reason)
	logCapture(m.log, &info)
	return info, nil
}

// MonitorStats is what the Monitor itself has done and cost.
type MonitorStats struct {
	Ticks uint64 `json:"ticks"`
	// TickTime is the wall time spent in ticks, summed: with one tick at a time and no blocking
	// inside, it is the CPU time the ticks cost.
	TickTime           time.Duration `json:"tick_time"`
	FullReports        uint64        `json:"full_reports"`
	LogLinesWritten    uint64        `json:"log_lines_written"`
	LogLinesDropped    uint64        `json:"log_lines_dropped"`
	CapturesStored     int           `json:"captures_stored"`
	CapturesEvicted    uint64        `json:"captures_evicted"`
	GoroutineProfiles  uint64        `json:"goroutine_profiles"` // each stopped the world once
	HistoryPoints      int           `json:"history_points"`
	HistoryCapacity    int           `json:"history_capacity"`
	FlightRecorderOn   bool          `json:"flight_recorder_on"`
	TickIntervalSecond float64       `json:"tick_interval_seconds"`
}

// Stats returns the Monitor's own counters.
func (m *Monitor) Stats() MonitorStats {
	s := MonitorStats{
		Ticks:              m.ticks.Load(),
		TickTime:           time.Duration(m.tickNanos.Load()),
		FullReports:        m.fulls.Load(),
		LogLinesWritten:    m.q.written.Load(),
		LogLinesDropped:    m.q.lost.Load(),
		GoroutineProfiles:  m.caps.stopTheWorldCaptures(),
		HistoryCapacity:    len(m.hist.buf),
		TickIntervalSecond: m.mc.tick.Seconds(),
	}
	m.caps.mu.Lock()
	s.CapturesStored, s.CapturesEvicted = len(m.caps.items), m.caps.evicted
	m.caps.mu.Unlock()
	// An atomic, not takeMu: a capture holds takeMu while it writes profiles, and Stats is on
	// every Prometheus scrape.
	s.FlightRecorderOn = m.caps.frOn.Load()
	m.hist.mu.Lock()
	s.HistoryPoints = m.hist.count
	m.hist.mu.Unlock()
	return s
}

func (m *Monitor) closed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state == stateClosed
}

func (m *Monitor) running() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stateLocked() == stateRunning
}

// stateLocked is the Monitor's state, a running Monitor whose Start context ended becoming
// stopped: from the moment the context ends, not from when the goroutines notice. m.mu is held.
func (m *Monitor) stateLocked() monitorState {
	if m.state == stateRunning && m.run.Err() != nil {
		m.state = stateStopped
	}
	return m.state
}

// runTicks is the tick goroutine. The first tick runs at once, so that Latest has a point as
// soon as Start returns plus a few microseconds.
func (m *Monitor) runTicks(ctx context.Context) {
	defer m.wg.Done()
	t := time.NewTicker(m.mc.tick)
	defer t.Stop()
	m.tick()
	m.logFrom = m.point
	m.resetLogPauses()
	// Half a tick of slack: ticker times jitter, and a line due at 60 s should not wait to 61 s.
	full := newSchedule(m.point.Time, m.mc.full, m.mc.tick/2)
	logs := newSchedule(m.point.Time, m.mc.logInterval, m.mc.tick/2)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.tick()
		// The tick's own reading time, not the ticker's: after a stall the ticker hands over a
		// send time long past, and deadlines from it come due again at once.
		m.afterTick(m.point.Time, &full, &logs)
	}
}

// afterTick asks the worker for a full report and queues the summary line when their deadlines
// are met at now.
func (m *Monitor) afterTick(now time.Time, full, logs *schedule) {
	if full.due(now) {
		select {
		case m.fullReq <- struct{}{}:
		default: // one is already asked for
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
	m.hist.push(&m.point)
	m.checkTickTriggers(&m.point)
	m.memLimit.update(cur)
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
			if _, err := m.Report(ctx); err != nil && ctx.Err() == nil {
				m.log.Warn(LogMessageReportFailed, zap.Error(err))
			}
		case req := <-m.captureReq:
			info := m.caps.take(ctx, m, &req, req.reason())
			logCapture(m.log, &info)
		}
	}
}

// baseline starts the first window: without it the first full report would have no rates and no
// allocation sites.
func (m *Monitor) baseline() {
	m.fullMu.Lock()
	have := m.prevFull != nil
	m.fullMu.Unlock()
	if have {
		return
	}
	snap := m.col.Cheap()
	prof, err := ReadAllocProfile()
	m.fullMu.Lock()
	defer m.fullMu.Unlock()
	if m.prevFull == nil {
		m.prevFull = snap
		if err == nil {
			m.prevProfile = prof
		}
	}
}

// runLogWriter writes the queued lines until the Monitor stops, then what is still queued, for
// as long as Close waits; what is left after that, and every line logged later, is dropped and
// counted.
func (m *Monitor) runLogWriter(ctx context.Context) {
	defer close(m.logDone)
	for {
		select {
		case it := <-m.q.ch:
			m.q.write(&it, m.summaryFields, m.user)
		case <-ctx.Done():
			m.q.close()
			defer m.q.discard()
			deadline := time.Now().Add(closeLogWait)
			for time.Now().Before(deadline) {
				select {
				case it := <-m.q.ch:
					m.q.write(&it, m.summaryFields, m.user)
				default:
					return
				}
			}
			return
		}
	}
}

// fullCall is one full collection and everyone waiting for it.
type fullCall struct {
	done chan struct{}
	rep  *Report
	err  error
}

// startFull joins the collection under way or starts one.
func (m *Monitor) startFull() (*fullCall, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.state == stateClosed {
		return nil, ErrMonitorClosed
	}
	if m.inflight != nil {
		return m.inflight, nil
	}
	call := &fullCall{done: make(chan struct{})}
	m.inflight = call
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		rep, err := m.collectFull(m.life)
		if err == nil {
			m.afterFull(rep)
		}
		m.mu.Lock()
		m.inflight = nil
		m.mu.Unlock()
		call.rep, call.err = rep, err
		close(call.done)
	}()
	return call, nil
}

// collectFull reads a full snapshot and the allocation profile and analyses the window since the
// previous full report.
func (m *Monitor) collectFull(ctx context.Context) (*Report, error) {
	snap := m.fullCol.Full(ctx)
	if ctx.Err() != nil {
		return nil, ErrMonitorClosed
	}
	prof, profErr := ReadAllocProfile()

	m.fullMu.Lock()
	prev, prevProf, state := m.prevFull, m.prevProfile, m.findings
	m.prevFull = snap
	if profErr == nil {
		m.prevProfile = prof
	}
	m.fullMu.Unlock()

	rss, err := m.attr.Full(snap)
	if err != nil {
		rss = m.attr.Estimate(snap)
		rss.Notes = append(rss.Notes, "no per-mapping attribution ("+err.Error()+"): categories are estimates")
	}
	var sites *AllocationSites
	if profErr == nil && prevProf != nil {
		sites = AllocSitesDelta(prevProf, prof, m.mc.topSites)
	}
	if state == nil {
		state = &FindingState{}
	}
	rep := Analyze(AnalyzeInput{Prev: prev, Cur: snap, RSS: rss, Sites: sites, History: m.hist.points(), State: state})
	m.fullMu.Lock()
	m.findings = rep.State // full collections run one at a time: no other report read state since
	m.fullMu.Unlock()
	rep.Routes = m.Routes()
	m.fulls.Add(1)
	return rep, nil
}

// afterFull publishes a report, logs the finding transitions and fires the finding triggers. It
// runs before the next collection can start, so transitions are computed in report order.
func (m *Monitor) afterFull(rep *Report) {
	m.lastReport.Store(rep)
	running := m.running()
	m.fullMu.Lock()
	trans := m.tracker.update(rep.Findings)
	if running {
		m.fireFindingTriggers(rep, trans)
	}
	m.fullMu.Unlock()
	for i := range trans {
		trans[i].log(m.log)
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
