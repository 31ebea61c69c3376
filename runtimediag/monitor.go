package runtimediag

import (
	"context"
	"errors"
	"fmt"
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
	mc    monitorConfig
	clock clock // the time readings carry and the tick runs on: real but in tests
	col   *Collector
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
		clock:         cfg.clock,
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
	m.reader.clock = cfg.clock
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

// Latest returns the newest tick's point and the last full report (nil before the first). It
// never waits for a collection: the point is copied from the history ring and the report is the
// one already taken. A zero Point.Time means no tick has run yet.
func (m *Monitor) Latest() (Point, *Report) {
	p, _ := m.hist.latest()
	return p, m.lastReport.Load()
}

// History returns a copy of the history ring's points, oldest first.
func (m *Monitor) History() []Point { return m.hist.points() }

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
