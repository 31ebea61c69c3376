package runtimediag

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
)

// Option configures a Collector or a Monitor. Options are validated: a bad value is an error from
// the constructor, never a panic. Each option's doc says which constructor it belongs to: the
// Collector's options (WithRoot, WithLogger, WithEnvAllowlist, WithMaxThreads, WithMaxFDTargets,
// WithFullSources) configure a Monitor's collectors too, and NewMonitor accepts them; the Monitor's
// options (the tick, intervals, history, triggers, captures) mean nothing to a Collector, and
// NewCollector refuses them with an error naming both.
type Option interface {
	apply(*config) error
	// monitorOnly names an option that only NewMonitor accepts; "" for a Collector option.
	monitorOnly() string
}

// optionFunc is an option of the Collector, accepted by NewCollector and NewMonitor.
type optionFunc func(*config) error

func (f optionFunc) apply(c *config) error { return f(c) }
func (optionFunc) monitorOnly() string     { return "" }

// monitorOption is an option only NewMonitor accepts.
type monitorOption struct {
	name string
	f    func(*config) error
}

func (o monitorOption) apply(c *config) error { return o.f(c) }
func (o monitorOption) monitorOnly() string   { return o.name }

// applyOptions applies opts to the defaults; constructor names the caller for errors. A Monitor
// option given to NewCollector is refused.
func applyOptions(constructor string, opts []Option) (config, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		if o == nil {
			return cfg, fmt.Errorf("runtimediag: %s: nil option", constructor)
		}
		if name := o.monitorOnly(); name != "" && constructor != "NewMonitor" {
			return cfg, fmt.Errorf("runtimediag: %s: %s configures a Monitor (NewMonitor), not a Collector", constructor, name)
		}
		if err := o.apply(&cfg); err != nil {
			return cfg, err
		}
	}
	return cfg, nil
}

type config struct {
	root         string
	rootSet      bool // WithRoot was given: the directory is checked at construction
	logger       *zap.Logger
	envAllow     []string
	maxThreads   int
	maxFDTargets int
	fullSources  SourceSet
	monitor      monitorConfig // read only by NewMonitor
	// cgroupLimitEveryRead makes the cheap tier read the cgroup's limit on every read, not on
	// every cgroupStatEveryTicks-th: set by NewMonitor for WithMemoryLimit.
	cgroupLimitEveryRead bool
	// clock stamps readings and drives the Monitor's tick: realClock{} but in tests.
	clock clock
}

func defaultConfig() config {
	return config{
		root:         "/",
		logger:       zap.NewNop(),
		maxThreads:   10_000,
		maxFDTargets: 4_096,
		fullSources:  FullSources,
		monitor:      defaultMonitorConfig(),
		clock:        realClock{},
	}
}

// WithRoot reads /proc and /sys below dir instead of "/": for tests on recorded files, or for a
// sidecar that sees the host's /proc mounted elsewhere. NewCollector and NewMonitor refuse a dir
// that does not exist or has no proc directory: a mistyped root would otherwise give a report with
// every /proc figure unread.
func WithRoot(dir string) Option {
	return optionFunc(func(c *config) error {
		if dir == "" {
			return errors.New("runtimediag: WithRoot: empty directory")
		}
		c.root, c.rootSet = dir, true
		return nil
	})
}

// checkRoot refuses a root given with WithRoot that cannot hold /proc.
func (c *config) checkRoot() error {
	if !c.rootSet {
		return nil
	}
	fi, err := os.Stat(filepath.Join(c.root, "proc"))
	if err != nil {
		return fmt.Errorf("runtimediag: WithRoot(%q): %w", c.root, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("runtimediag: WithRoot(%q): %s is not a directory", c.root, filepath.Join(c.root, "proc"))
	}
	return nil
}

// WithLogger sets the logger for the collector's own problems (a source that stopped being
// readable, for example). The default logs nothing.
func WithLogger(l *zap.Logger) Option {
	return optionFunc(func(c *config) error {
		if l == nil {
			return errors.New("runtimediag: WithLogger: nil logger")
		}
		c.logger = l
		return nil
	})
}

// WithEnvAllowlist names environment variables whose values may be kept in a snapshot. Every other
// variable is kept as a key only: values often hold secrets. A name ending in "*" matches every
// key with that prefix.
func WithEnvAllowlist(keys ...string) Option {
	return optionFunc(func(c *config) error {
		for _, k := range keys {
			if k == "" || k == "*" || strings.ContainsAny(k, "=\x00") {
				return fmt.Errorf("runtimediag: WithEnvAllowlist: invalid key %q", k)
			}
		}
		c.envAllow = append(c.envAllow, keys...)
		return nil
	})
}

// WithMaxThreads bounds how many threads a full snapshot describes (default 10,000); past it the
// snapshot says it was truncated.
func WithMaxThreads(n int) Option {
	return optionFunc(func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("runtimediag: WithMaxThreads: %d is not positive", n)
		}
		c.maxThreads = n
		return nil
	})
}

// WithMaxFDTargets bounds how many file descriptor targets a full snapshot keeps (default 4,096);
// the count of descriptors is always exact.
func WithMaxFDTargets(n int) Option {
	return optionFunc(func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("runtimediag: WithMaxFDTargets: %d is not positive", n)
		}
		c.maxFDTargets = n
		return nil
	})
}

// WithFullSources changes what a full snapshot reads, e.g. FullSources &^ Set(SourceSmaps) |
// Set(SourceSmapsRollup) trades per-mapping detail for a cheaper rollup. The cheap sources are
// always read.
func WithFullSources(s SourceSet) Option {
	return optionFunc(func(c *config) error {
		if s&^AllSources != 0 {
			return fmt.Errorf("runtimediag: WithFullSources: unknown sources in %#x", uint32(s))
		}
		c.fullSources = s | CheapSources
		return nil
	})
}

// monitorConfig holds the options only a Monitor reads; a Collector ignores them.
type monitorConfig struct {
	tick         time.Duration
	full         time.Duration // 0: on demand only
	fullSet      bool          // the default grows to the tick; an explicit interval must not be shorter
	history      time.Duration
	historySet   bool          // the default hour shrinks to fit the bound; an explicit window must fit
	logInterval  time.Duration // 0: no periodic line
	logSet       bool          // as fullSet
	topSites     int
	triggers     []Trigger
	captureCount int
	captureBytes int64
	cooldown     time.Duration
	frWindow     time.Duration // 0: no flight recorder
	frMaxBytes   uint64
	memLimit     *MemoryLimit   // WithMemoryLimit; nil: the Monitor never sets the memory limit
	leakTracking bool           // WithLeakTracking
	custom       []customSeries // WithCustomSeries, at most MaxCustomSeries
	thresholds   *Thresholds    // WithThresholds; nil: DefaultThresholds()
}

func defaultMonitorConfig() monitorConfig {
	return monitorConfig{
		tick:         time.Second,
		full:         5 * time.Minute,
		history:      time.Hour,
		logInterval:  time.Minute,
		topSites:     20,
		captureCount: 8,
		captureBytes: 64 << 20,
		cooldown:     10 * time.Minute,
		leakTracking: true,
	}
}

// minTickInterval keeps a misconfigured Monitor from spending a core on itself.
const minTickInterval = 10 * time.Millisecond

// WithTickInterval sets how often a Monitor reads the cheap tier and stores a history point
// (default 1 s, at least 10 ms). A tick costs a few microseconds (docs/performance.md). A tick
// longer than the default full or log interval raises that default to the tick; an interval set
// explicitly must be at least the tick.
func WithTickInterval(d time.Duration) Option {
	return monitorOption{"WithTickInterval", func(c *config) error {
		if d < minTickInterval {
			return fmt.Errorf("runtimediag: WithTickInterval: %s is below the minimum %s", d, minTickInterval)
		}
		c.monitor.tick = d
		return nil
	}}
}

// WithFullInterval sets how often a Monitor takes a full report in the background (default 5 min,
// or the tick interval when that is longer; 0 means only on demand, through Monitor.Report); it
// may not be shorter than the tick interval. A full report reads smaps, whose cost grows with
// resident memory: milliseconds for a small service, tens of milliseconds at a gigabyte.
func WithFullInterval(d time.Duration) Option {
	return monitorOption{"WithFullInterval", func(c *config) error {
		if d < 0 {
			return fmt.Errorf("runtimediag: WithFullInterval: %s is negative", d)
		}
		c.monitor.full, c.monitor.fullSet = d, true
		return nil
	}}
}

// WithHistory sets how much history a Monitor keeps, as a duration of ticks (default one hour, or
// as much of it as 4 MiB holds at a shorter tick). The ring is allocated once at its full size and
// may hold at most 4 MiB of points: an hour at 1 s ticks is about 2 MiB; NewMonitor refuses a
// window that would need more.
func WithHistory(d time.Duration) Option {
	return monitorOption{"WithHistory", func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("runtimediag: WithHistory: %s is not positive", d)
		}
		c.monitor.history, c.monitor.historySet = d, true
		return nil
	}}
}

// WithLogInterval sets how often a Monitor logs its one-line summary through the logger of
// WithLogger (default 1 min, or the tick interval when that is longer; 0 turns the periodic line
// off, leaving only finding transitions and captures); it may not be shorter than the tick
// interval. docs/logging.md lists the fields.
func WithLogInterval(d time.Duration) Option {
	return monitorOption{"WithLogInterval", func(c *config) error {
		if d < 0 {
			return fmt.Errorf("runtimediag: WithLogInterval: %s is negative", d)
		}
		c.monitor.logInterval, c.monitor.logSet = d, true
		return nil
	}}
}

// WithTopAllocationSites sets how many allocation sites a Monitor's report keeps (default 20).
func WithTopAllocationSites(n int) Option {
	return monitorOption{"WithTopAllocationSites", func(c *config) error {
		if n <= 0 || n > 1000 {
			return fmt.Errorf("runtimediag: WithTopAllocationSites: %d is not between 1 and 1000", n)
		}
		c.monitor.topSites = n
		return nil
	}}
}

// WithTriggers turns captures on: when one of the triggers fires, the Monitor keeps a heap
// profile, a goroutine profile (which stops the world briefly), the flight recorder's window when
// WithFlightRecorder is set, and the report that explains it. Without triggers the Monitor captures
// only when asked (Monitor.Capture). Each kind of trigger fires at most once per cooldown
// (WithCaptureCooldown).
func WithTriggers(ts ...Trigger) Option {
	return monitorOption{"WithTriggers", func(c *config) error {
		if len(ts) == 0 {
			return errors.New("runtimediag: WithTriggers: no trigger")
		}
		for _, t := range ts {
			if err := t.validate(); err != nil {
				return fmt.Errorf("runtimediag: WithTriggers: %w", err)
			}
		}
		c.monitor.triggers = append(c.monitor.triggers, ts...)
		return nil
	}}
}

// WithCaptureStorage bounds the captures a Monitor keeps in memory (default 8 captures and
// 64 MiB): past either bound the oldest capture is dropped.
func WithCaptureStorage(count int, bytes int64) Option {
	return monitorOption{"WithCaptureStorage", func(c *config) error {
		if count <= 0 {
			return fmt.Errorf("runtimediag: WithCaptureStorage: count %d is not positive", count)
		}
		if bytes < 1<<20 {
			return fmt.Errorf("runtimediag: WithCaptureStorage: %d bytes is below the minimum of 1 MiB", bytes)
		}
		c.monitor.captureCount, c.monitor.captureBytes = count, bytes
		return nil
	}}
}

// WithCaptureCooldown sets how long a kind of trigger stays quiet after it fired (default
// 10 min), so that one incident leaves one capture rather than a capture every tick.
func WithCaptureCooldown(d time.Duration) Option {
	return monitorOption{"WithCaptureCooldown", func(c *config) error {
		if d < 0 {
			return fmt.Errorf("runtimediag: WithCaptureCooldown: %s is negative", d)
		}
		c.monitor.cooldown = d
		return nil
	}}
}

// WithFlightRecorder keeps a runtime/trace flight recorder running while the Monitor runs, so that
// a capture holds an execution trace of about the last window before its trigger (at most maxBytes,
// which bounds the recorder's memory too; 0 means 8 MiB). It is off by default: tracing costs CPU
// on every goroutine switch, system call and GC event (docs/performance.md gives the measured
// figure), and only one flight recorder can run in a process, so Monitor.Start fails if another
// is running.
func WithFlightRecorder(window time.Duration, maxBytes uint64) Option {
	return monitorOption{"WithFlightRecorder", func(c *config) error {
		if window < time.Second || window > 10*time.Minute {
			return fmt.Errorf("runtimediag: WithFlightRecorder: window %s is not between 1s and 10m", window)
		}
		if maxBytes == 0 {
			maxBytes = 8 << 20
		}
		if maxBytes < 1<<20 || maxBytes > 1<<30 {
			return fmt.Errorf("runtimediag: WithFlightRecorder: %d bytes is not between 1 MiB and 1 GiB", maxBytes)
		}
		c.monitor.frWindow, c.monitor.frMaxBytes = window, maxBytes
		return nil
	}}
}

// WithLeakTracking turns the Monitor's leak suspects on or off (default on): at every window
// reading the heap in use by allocation site is taken from the allocation profile the reading
// reads anyway, a bounded series is kept for the sites that matter, and a trend test names the
// ones that keep growing (Monitor.Leaks, Report.Leaks, docs/leaks.md; the cost is in
// docs/performance.md). Off, reports have no leaks section and no leak findings.
func WithLeakTracking(on bool) Option {
	return monitorOption{"WithLeakTracking", func(c *config) error {
		c.monitor.leakTracking = on
		return nil
	}}
}
