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

	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

// Monitor watches the process's memory from inside it. Once started it
//
//   - reads the cheap tier every tick (WithTickInterval, default 1 s) into one of two reused
//     snapshots and stores a compact [Point] in a bounded history ring (WithHistory, default one
//     hour in at most 4 MiB): a tick allocates nothing and costs microseconds;
//   - takes a window reading (a cheap snapshot and an allocation profile reading) every step —
//     the full interval when it is at most a minute, else a minute — keeping the last 64 readings;
//     every report's rates, allocation sites and findings describe a window between two of these
//     readings, chosen by the Monitor (the last completed full interval) or asked for
//     ([Monitor.ReportWindow]), never reset by whoever asks (docs/reading-the-report.md);
//   - takes a full report on a slower cadence (WithFullInterval, default 5 min) and on demand
//     ([Monitor.Report]): a full snapshot, the RSS attribution, the allocation sites and the
//     findings over the window, and memdiag's own cost (Report.MemdiagSelf);
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
	attr    *rssattr.Attributor
	user    *zap.Logger // the caller's logger; written only by the log writer
	log     *zap.Logger // queues its lines for the log writer
	q       *logQueue
	hist    *historyRing
	caps    *captureStore

	routes routeSlot // per-route statistics for reports (routes.go)

	memLimit *adaptiveLimit // WithMemoryLimit (memlimit.go); nil when not asked for

	leaks *leakTracker // what grows and who grows it (leaks.go); nil when tracking is off

	life     context.Context // ends at Close: bounds full collections, whoever asked for them
	stopLife context.CancelFunc

	mu        sync.Mutex
	state     monitorState    // read through stateLocked
	run       context.Context // the background's context, derived from Start's
	cancelRun context.CancelFunc
	inflight  *fullCall
	wg        sync.WaitGroup // tick, worker, full collections
	logDone   chan struct{}  // closed when the log writer returns

	fullReq   chan struct{} // the tick asks the worker for a window reading and a full report
	windowReq chan struct{} // the tick asks the worker for a window reading
	// classifyReq: the adaptive memory limit asks the worker to classify the mappings afresh.
	classifyReq chan struct{}
	classSnap   *Snapshot           // the worker's snapshot for those classifications, reused
	captureReq  chan captureRequest // a trigger asks the worker for a capture

	// reader reads the allocation profile for window readings and full reports, resolving each
	// allocating stack once.
	reader  *allocReader
	windows *windowRing
	// selfCPU is the CPU memdiag's full collections and window readings took, summed (ticks are
	// in tickNanos).
	selfCPU atomic.Int64
	// trendBuf holds the window's points for the trend rules; only the collection goroutine uses
	// it, and collections run one at a time.
	trendBuf []Point

	// Full-report state: Latest and the trigger check read it from other goroutines.
	fullMu     sync.Mutex
	tracker    findingTracker
	leakLog    leakLogTracker // each leak suspect's transitions (leaks_log.go)
	lastReport atomic.Pointer[Report]
	// The findings' hysteresis, carried from one window to the next: findings is the state after
	// the newest window evaluated (findingsEnd), findingsPrev the state before it, so that a
	// report over the same window again starts from the same state and says the same.
	findings, findingsPrev *FindingState
	findingsEnd            time.Time

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

// ErrMonitorStopped is returned by Start once the context given to an earlier Start has ended.
var ErrMonitorStopped = errors.New("runtimediag: monitor stopped: its Start context ended")

// Log fields of the window a finding transition was computed over (docs/logging.md).
const (
	fieldWindowStart  = "window_start"
	fieldWindowEnd    = "window_end"
	fieldWindowSource = "window_source"
)

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
	// The adaptive memory limit acts on the container's limit: it is read on every tick.
	colCfg.cgroupLimitEveryRead = mc.memLimit != nil
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
	m := &Monitor{
		reader:        newAllocReader(),
		windows:       newWindowRing(windowStep(mc.tick, mc.full)),
		windowReq:     make(chan struct{}, 1),
		classifyReq:   make(chan struct{}, 1),
		mc:            mc,
		col:           col,
		fullCol:       fullCol,
		attr:          rssattr.NewAttributor(),
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
	}
	if mc.leakTracking {
		m.leaks = newLeakTracker(m.leakSources()...)
	}
	return m, nil
}

// Start starts the tick, the worker and the log writer, and the flight recorder when
// WithFlightRecorder asked for it. The Monitor runs until ctx is done or Close is called; Close
// must be called either way, to wait for it and release its files. Start on a running Monitor does
// nothing; Start after Close returns ErrClosed; Start with a ctx that has already ended
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
		return errMonitorClosed
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

	// WindowReadings counts the window readings taken since Start.
	WindowReadings uint64 `json:"window_readings"`
	// SelfCPU is memdiag's own CPU so far: ticks, window readings and full collections.
	SelfCPU time.Duration `json:"self_cpu"`
}

// Stats returns the Monitor's own counters.
func (m *Monitor) Stats() MonitorStats {
	s := MonitorStats{
		WindowReadings:     m.windows.count(),
		SelfCPU:            m.selfCPUTotal(),
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
	windows := newSchedule(m.point.Time, m.windows.step, m.mc.tick/2)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
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

// classifyNonGo classifies every mapping (Attributor.Full) for the adaptive memory limit, which
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
	if last, ok := m.windows.newest(); ok && time.Since(last) < m.windows.step/2 {
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
