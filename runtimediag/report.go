package runtimediag

import (
	"math"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

// Report is memdiag's answer for a window between two snapshots: where resident memory is (RSS),
// how efficiently the process allocates (Efficiency), what to change (Findings) and which code
// allocates (TopAllocationSites). It is a plain value, safe to share and to marshal; its JSON is
// the contract docs/report-schema.md describes. Analyze builds it as a pure function of its inputs.
type Report struct {
	Time          time.Time `json:"time"`           // when the newer snapshot was read
	WindowSeconds float64   `json:"window_seconds"` // seconds between the two snapshots; 0 for a single snapshot
	// Window is where the window came from; absent for a report Analyze made on its own.
	Window *ReportWindow `json:"window,omitempty"`
	// MemdiagSelf is memdiag's own cost over the window; absent for a report Analyze made on its own.
	MemdiagSelf *SelfCost `json:"memdiag_self,omitempty"`

	RSS        RSS        `json:"rss"`
	Efficiency Efficiency `json:"efficiency"`
	// Findings are the rules that fired, most severe first; empty (not null) when none did.
	Findings []Finding `json:"findings"`
	// TopAllocationSites is nil when no allocation profile delta was available for the window.
	TopAllocationSites *AllocationSites `json:"top_allocation_sites,omitempty"`
	// Routes are the HTTP routes an instrumenting middleware counted (RouteSource); absent when
	// none is installed.
	Routes []RouteStats `json:"routes,omitempty"`
	// WhatIf predicts GC cost and peak memory under other GOGC and GOMEMLIMIT settings (gcmodel);
	// absent without a window.
	WhatIf *WhatIf `json:"what_if,omitempty"`
	// Leaks is what keeps growing and who grows it; absent when the Monitor tracks no leaks or for
	// a report Analyze made on its own.
	Leaks *Leaks `json:"leaks,omitempty"`
	// Sources lists every source the newer snapshot asked for, with why it is missing if it is.
	Sources []SourceHealth `json:"sources"`
	// Notes say in plain words what limits this report: a window too short for rates, counters that
	// went backwards (a restart between the snapshots), sources missing for a rule.
	Notes []string `json:"notes,omitempty"`

	// State is what the findings' hysteresis carries to the next report: pass it as the next
	// AnalyzeInput.State. Nil when AnalyzeInput.State was nil (a one-off report).
	State *FindingState `json:"-"`
}

// SourceHealth is one source of a snapshot and whether it was read.
type SourceHealth struct {
	Name    string  `json:"name"`
	OK      bool    `json:"ok"`
	Reason  string  `json:"reason,omitempty"` // SourceError.Reason(): "permission denied", …
	Error   string  `json:"error,omitempty"`
	CostSec float64 `json:"cost_seconds"`
}

// Severity orders findings.
type Severity string

const (
	SeverityInfo     Severity = "info"
	SeverityWarning  Severity = "warning"
	SeverityCritical Severity = "critical"
)

// Finding is one rule that fired: a stable code, how bad, a one-line headline with the numbers,
// the evidence, and what to change.
type Finding struct {
	Code     string     `json:"code"`     // stable identifier, e.g. "gc_cpu_high"; docs/findings.md#<code>
	Severity Severity   `json:"severity"` // info, warning or critical
	Headline string     `json:"headline"` // one line with the numbers
	Evidence []Evidence `json:"evidence"` // the figures the rule looked at
	Advice   string     `json:"advice"`   // what to change
	Doc      string     `json:"doc"`      // "docs/findings.md#<code>"
}

// Evidence is one figure a finding rests on, with its unit.
type Evidence struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit"` // "bytes", "bytes/s", "ratio", "seconds", "count", "percent"
}

// Efficiency is how the process allocated and collected over the window. Rates are per second of
// wall time; fractions are of total CPU time available to Go (GOMAXPROCS × wall), from the
// runtime's own CPU accounting; quantiles come from histogram deltas and name the bucket's upper
// bound, so they never understate.
type Efficiency struct {
	// AllocBytesPerSecond and AllocObjectsPerSecond are the application's: the process's rates
	// (ProcessAllocBytesPerSecond…) less memdiag's own share of the sampled profile (MemdiagExcluded).
	AllocBytesPerSecond   float64 `json:"alloc_bytes_per_second"`
	AllocObjectsPerSecond float64 `json:"alloc_objects_per_second"`
	// ProcessAllocBytesPerSecond and ProcessAllocObjectsPerSecond are the whole process's, from
	// runtime/metrics, memdiag included.
	ProcessAllocBytesPerSecond   float64 `json:"process_alloc_bytes_per_second"`
	ProcessAllocObjectsPerSecond float64 `json:"process_alloc_objects_per_second"`
	// ProcessGCCPUFraction is GCCPUFraction before memdiag's share was taken out.
	ProcessGCCPUFraction float64 `json:"process_gc_cpu_fraction"`
	// MemdiagExcluded says what was taken out of the application's figures and how; nil when
	// nothing was (no allocation profile for the window).
	MemdiagExcluded *Excluded `json:"memdiag_excluded"`
	MeanObjectBytes float64   `json:"mean_object_bytes"`
	TinyAllocShare  float64   `json:"tiny_alloc_share"` // tiny (<16 B, pointer-free) allocations ÷ all allocations
	// AllocBytesBySize is allocated bytes per second by object size class over the window.
	AllocBytesBySize []SizeBucket `json:"alloc_bytes_by_size"`

	GCCyclesPerSecond       float64 `json:"gc_cycles_per_second"`
	ForcedGCCyclesPerSecond float64 `json:"forced_gc_cycles_per_second"`
	GCCPUFraction           float64 `json:"gc_cpu_fraction"`           // all GC CPU ÷ total CPU
	GCAssistCPUFraction     float64 `json:"gc_assist_cpu_fraction"`    // mark assist ÷ total CPU
	GCDedicatedCPUFraction  float64 `json:"gc_dedicated_cpu_fraction"` // dedicated mark workers ÷ total CPU
	GCIdleCPUFraction       float64 `json:"gc_idle_cpu_fraction"`      // idle-time mark work ÷ total CPU
	GCPauseCPUFraction      float64 `json:"gc_pause_cpu_fraction"`     // stop-the-world × GOMAXPROCS ÷ total CPU
	UserCPUFraction         float64 `json:"user_cpu_fraction"`
	// BusyCores is the CPU the process used, in cores: total CPU minus idle Ps and idle-time mark
	// work (which only ever runs on Ps that had nothing else to do).
	BusyCores float64 `json:"busy_cores"`
	// GCBusyCPUShare is GC CPU that competed with the program (assist, dedicated workers, pauses)
	// ÷ the CPU the process used. Unlike GCCPUFraction it does not shrink when most Ps are idle.
	GCBusyCPUShare float64 `json:"gc_busy_cpu_share"`
	// GCAssistBusyCPUShare is mark assist ÷ the CPU the process used: goroutines doing GC work on
	// their allocation path instead of their own.
	GCAssistBusyCPUShare float64 `json:"gc_assist_busy_cpu_share"`
	// LargeAllocShare is the share of bytes allocated in objects over 32 KiB (each its own span).
	LargeAllocShare float64 `json:"large_alloc_share"`

	HeapLiveBytes uint64 `json:"heap_live_bytes"`
	HeapGoalBytes uint64 `json:"heap_goal_bytes"`
	// Churn is bytes allocated per GC cycle ÷ live heap: how many times the live heap is
	// re-allocated between collections.
	Churn float64 `json:"churn"`
	// HeapUnusedRatio is heap unused ÷ heap objects (fragmentation inside spans).
	HeapUnusedRatio float64 `json:"heap_unused_ratio"`
	// HeapFreeRatio is heap free ÷ heap mapped (free spans not yet returned to the OS).
	HeapFreeRatio float64 `json:"heap_free_ratio"`
	// ScanHeapShare is pointer-bearing heap (/gc/scan/heap) ÷ live heap.
	ScanHeapShare float64 `json:"scan_heap_share"`

	// GOMEMLIMITBytes is the soft memory limit, nil when none is set.
	GOMEMLIMITBytes *int64 `json:"gomemlimit_bytes"`
	// GOMEMLIMITHeadroomBytes is the limit minus the memory it governs (the runtime's total mapped
	// memory minus heap released to the OS), nil without a limit. Negative when over the limit.
	GOMEMLIMITHeadroomBytes *int64 `json:"gomemlimit_headroom_bytes"`
	// CgroupLimitBytes is the cgroup's effective memory limit, nil when there is none or it is unknown.
	CgroupLimitBytes *uint64 `json:"cgroup_limit_bytes"`
	// CgroupHeadroomBytes is that limit minus the cgroup's usage, nil without a limit.
	CgroupHeadroomBytes *int64 `json:"cgroup_headroom_bytes"`
	// CgroupUsageBytes is everything charged to the cgroup, page cache included; 0 (JSON null)
	// when unread.
	CgroupUsageBytes uint64 `json:"cgroup_usage_bytes"`
	// CgroupWorkingSetBytes is usage minus inactive file pages (what Kubernetes evicts on); nil
	// when memory.stat was not read.
	CgroupWorkingSetBytes *uint64 `json:"cgroup_working_set_bytes"`
	// ResidentBytes is the process's resident set (statm; the attribution's when statm was unread);
	// 0 (JSON null) when neither was read.
	ResidentBytes uint64 `json:"resident_bytes"`
	GOGC          int64  `json:"gogc"` // -1 when the GC is off

	Goroutines uint64 `json:"goroutines"`
	Threads    uint64 `json:"threads"`
	GOMAXPROCS uint64 `json:"gomaxprocs"`
	StackBytes uint64 `json:"stack_bytes"` // goroutine stacks (heap stacks + OS stacks)
	// FinalizerBacklog and CleanupBacklog are finalizers and runtime.AddCleanup functions queued
	// but not yet run.
	FinalizerBacklog uint64 `json:"finalizer_backlog"`
	CleanupBacklog   uint64 `json:"cleanup_backlog"`
	// OpenFDs and OpenFDsLimit are the open descriptors and the soft RLIMIT_NOFILE; 0 (JSON null)
	// when unread (full tier only), and OpenFDsLimit also when there is no limit.
	OpenFDs      uint64 `json:"open_fds"`
	OpenFDsLimit uint64 `json:"open_fds_limit"`

	// Stop-the-world over the window, from the /sched/pauses histograms' deltas.
	PauseGC    PauseSummary `json:"pause_gc"`    // total STW pause for the GC: stop to restart
	StoppingGC PauseSummary `json:"stopping_gc"` // time to stop the world for the GC
	PauseOther PauseSummary `json:"pause_other"` // non-GC STW (ReadMemStats, profiles, …)
	// LastPauses are the exact GC pauses that ended in the window (at most 16), newest first, with
	// their end times from ReadGCStats; without a window, the 16 most recent.
	LastPauses     []GCPause `json:"last_pauses"`
	LimiterEngaged bool      `json:"limiter_engaged"` // the GC CPU limiter was engaged during the window
}

// SizeBucket is allocation volume for one size class. Small objects are rounded up to their size
// class, so a class's bytes are its object count × UpToBytes exactly; the large bucket (objects
// over 32 KiB, UpToBytes nil: no upper bound) is the remainder of all bytes allocated.
type SizeBucket struct {
	UpToBytes      *float64 `json:"up_to_bytes"` // the size class; nil for large objects: no upper bound
	BytesPerSecond float64  `json:"bytes_per_second"`
	Share          float64  `json:"share"` // of all bytes allocated in the window
}

// PauseSummary is a pause distribution over the window, in seconds, from the runtime's pause
// histogram: each figure is only known to lie in a bucket, so each comes as the bucket's bounds.
// P50, P99 and Max are the upper bounds (never understated; the lower bound when the bucket has
// no upper one), P50Lower, P99Lower and MaxLower the lower bounds (0 for the lowest bucket).
// PauseSummary.Range formats one as "between 29.4 and 33.6 ms".
type PauseSummary struct {
	Count    uint64  `json:"count"`
	P50      float64 `json:"p50_seconds"`
	P99      float64 `json:"p99_seconds"`
	Max      float64 `json:"max_seconds"`
	P50Lower float64 `json:"p50_lower_seconds"`
	P99Lower float64 `json:"p99_lower_seconds"`
	MaxLower float64 `json:"max_lower_seconds"`
}

// P50Range, P99Range and MaxRange format a figure as the range its bucket gives,
// "between 29.4 and 33.6 ms"; "–" without pauses.
func (p PauseSummary) P50Range() string { return p.rangeOf(p.P50Lower, p.P50) }
func (p PauseSummary) P99Range() string { return p.rangeOf(p.P99Lower, p.P99) }
func (p PauseSummary) MaxRange() string { return p.rangeOf(p.MaxLower, p.Max) }

func (p PauseSummary) rangeOf(lo, hi float64) string {
	if p.Count == 0 {
		return humanize.DurationRange(math.NaN(), math.NaN())
	}
	return humanize.DurationRange(lo, hi)
}

// AllocationSites are the code locations that allocated most over a window, from the delta of the
// runtime's sampled allocation profile ([AllocSitesDelta]). Figures are estimates scaled from
// samples taken about every SampleRateBytes bytes allocated (runtime.MemProfileRate), not counts:
// say so wherever they are shown. The profile advances when a GC cycle ends, so the window is the
// GC cycles completed between the two reads.
type AllocationSites struct {
	WindowSeconds   float64 `json:"window_seconds"`
	SampleRateBytes int     `json:"sample_rate_bytes"`
	// GCCycles is how many GC cycles ended between the two readings: the allocations counted are
	// those the runtime published at the end of these cycles. With none, no site has figures.
	GCCycles uint64 `json:"gc_cycles"`
	// TotalBytesPerSecond is the estimated allocation rate of the application's sites, the top
	// ones and the rest; memdiag's own are in MemdiagItself.
	TotalBytesPerSecond float64 `json:"total_bytes_per_second"`
	// Sites are the application's lines; their shares are of the application's sampled bytes.
	Sites []AllocationSite `json:"sites"`
	// MemdiagItself is memdiag's own allocation over the same window, every site of it as one line
	// (runtimediag.IsMemdiagStack says which stacks are memdiag's).
	MemdiagItself *MemdiagSites `json:"memdiag_itself,omitempty"`
	// Note says what limits the figures, e.g. that no GC cycle ended in the window.
	Note string `json:"note,omitempty"`
}

// MemdiagSites is memdiag's own allocation over a window, from the same sampled profile as the
// application's sites.
type MemdiagSites struct {
	BytesPerSecond   float64 `json:"bytes_per_second"`
	ObjectsPerSecond float64 `json:"objects_per_second"`
	// Share and ObjectsShare are of all sampled bytes and objects in the window, memdiag's and
	// the application's together.
	Share        float64 `json:"share"`
	ObjectsShare float64 `json:"objects_share"`
}

// ReportWindow is the window a report's rates, allocation sites and findings describe. Its ends
// are readings the Monitor scheduled (every StepSeconds), never the moment someone asked: two
// viewers asking for the same window at different times get the same one until the Monitor takes
// its next reading.
type ReportWindow struct {
	Start   time.Time `json:"start"`
	End     time.Time `json:"end"`
	Seconds float64   `json:"seconds"`
	// Source is how the window was chosen: "full_interval" (the last completed full interval,
	// the default), "since_start" (the Monitor has not run a full interval yet: since its first
	// reading), "requested" (a viewer asked for the last Requested seconds), or "none" (fewer
	// than two readings: no rates).
	Source string `json:"source"`
	// RequestedSeconds is the length a viewer asked for; the window is the nearest the Monitor's
	// readings allow. 0 unless Source is "requested".
	RequestedSeconds float64 `json:"requested_seconds,omitempty"`
	// StepSeconds is how often the Monitor takes a window reading.
	StepSeconds float64 `json:"step_seconds"`
	// MaxSeconds is the longest window the readings held when the report was made.
	MaxSeconds float64 `json:"max_seconds"`
	// GCCycles is how many GC cycles ended between the two ends.
	GCCycles uint64 `json:"gc_cycles"`
}

// SelfCost is what memdiag itself cost over the report's window: figures the application's are
// kept apart from.
type SelfCost struct {
	// CPUSeconds is memdiag's own CPU time in the window: ticks, window readings and full
	// collections (their goroutine's thread CPU clock on Linux, wall time elsewhere); rendering
	// HTTP answers is not counted.
	CPUSeconds float64 `json:"cpu_seconds"`
	// CPUShare is CPUSeconds ÷ the CPU the process used in the window (busy cores × seconds).
	CPUShare float64 `json:"cpu_share"`
	// AllocBytesPerSecond and AllocShare are memdiag's own allocation, from the sampled profile
	// (top_allocation_sites.memdiag_itself); absent figures are 0 with Note saying why.
	AllocBytesPerSecond float64 `json:"alloc_bytes_per_second"`
	AllocShare          float64 `json:"alloc_share"`
	// HeapInuseBytes is the live heap memdiag's own allocations held at the last GC before the
	// report, estimated from the sampled profile (history ring, window readings, caches,
	// captures); ResidentShare is it ÷ resident bytes.
	HeapInuseBytes uint64  `json:"heap_inuse_bytes"`
	ResidentShare  float64 `json:"resident_share"`
	// Method says how the figures were measured and how they are kept out of the application's.
	Method string `json:"method"`
}

// AllocationSite is one function and line and what it allocated over the window.
type AllocationSite struct {
	Function         string  `json:"function"`
	File             string  `json:"file"`
	Line             int     `json:"line"`
	BytesPerSecond   float64 `json:"bytes_per_second"`
	ObjectsPerSecond float64 `json:"objects_per_second"`
	Share            float64 `json:"share"` // of all sampled bytes in the window, every site counted
	// AppFrame is the stack's first frame in the application's own code (outside the standard
	// library and memdiag), when the allocating line is not: the caller's strings.Split line
	// under strings.genSplit. The line to change, and the one `memdiag why --from` looks up.
	// Nil when the stack has no such frame. A line allocated from two application lines is two
	// sites.
	AppFrame *SiteFrame `json:"app_frame,omitempty"`
}

// SiteFrame is one function at one line of an allocating stack.
type SiteFrame struct {
	Function string `json:"function"`
	File     string `json:"file"`
	Line     int    `json:"line"`
}

// Point is one tick of the Monitor's history: the few numbers a time series or a trend rule
// needs, stored compactly (an hour of 1 s ticks is about 2 MiB, TestPointSizeBudget) instead of
// whole snapshots.
type Point struct {
	Time              time.Time `json:"time"`
	ResidentBytes     uint64    `json:"resident_bytes"`       // statm; 0 (JSON null) when unread
	GoTotalBytes      uint64    `json:"go_total_bytes"`       // /memory/classes/total
	HeapObjectsBytes  uint64    `json:"heap_objects_bytes"`   // live + unswept objects
	HeapLiveBytes     uint64    `json:"heap_live_bytes"`      // marked live by the last GC
	HeapGoalBytes     uint64    `json:"heap_goal_bytes"`      // next GC's goal
	HeapReleasedBytes uint64    `json:"heap_released_bytes"`  // returned to the OS
	LimitBytes        uint64    `json:"limit_bytes"`          // smallest of GOMEMLIMIT and the cgroup limit; 0 (JSON null) when none
	CgroupUsageBytes  uint64    `json:"cgroup_usage_bytes"`   // 0 (JSON null) when unread
	AllocBytesTotal   uint64    `json:"alloc_bytes_total"`    // cumulative heap bytes allocated
	GCCyclesTotal     uint64    `json:"gc_cycles_total"`      // cumulative
	GCCPUSecondsTotal float64   `json:"gc_cpu_seconds_total"` // cumulative, runtime's estimate
	// CPUSecondsTotal is the CPU time available to Go since the process started — GOMAXPROCS × wall
	// time, integrated (/cpu/classes/total:cpu-seconds) — not CPU used: the denominator of GC CPU
	// shares.
	CPUSecondsTotal   float64 `json:"cpu_available_seconds_total"`
	PauseGCMaxSeconds float64 `json:"pause_gc_max_seconds"` // longest GC pause since the previous point; 0 if none
	Goroutines        uint32  `json:"goroutines"`
	Threads           uint32  `json:"threads"`

	// MutexWaitSecondsTotal is the time goroutines spent blocked on a sync.Mutex or
	// sync.RWMutex (and the runtime's own locks), cumulative since the process started
	// (/sync/mutex/wait/total:seconds, approximate): the page plots its rate. JSON null when
	// unread (MutexWaitRead).
	MutexWaitSecondsTotal float64 `json:"-"`
	// CgoCallsTotal is the calls from Go to C since the process started (/cgo/go-to-c-calls);
	// JSON null when unread (CgoCallsRead).
	CgoCallsTotal uint64 `json:"-"`
	// GCScan*Bytes are the bytes the last GC cycle had to scan (/gc/scan/heap, stack, globals):
	// the pointer-bearing heap, the goroutine stacks and the globals; JSON null when unread
	// (GCScanRead).
	GCScanHeapBytes    uint64 `json:"-"`
	GCScanStackBytes   uint64 `json:"-"`
	GCScanGlobalsBytes uint64 `json:"-"`
	// StackStartingBytes is the stack a new goroutine starts with (/gc/stack/starting-size),
	// which the runtime adapts to the stacks it scanned; JSON null when unread
	// (StackStartingRead).
	StackStartingBytes uint64 `json:"-"`
	// Custom holds the values of the application's own series (WithCustomSeries), in the order
	// of Monitor.CustomSeries; bit i of CustomRead says Custom[i] holds a value. A series whose
	// function panicked or returned NaN or ±Inf at this tick is unread: JSON null.
	Custom [MaxCustomSeries]float64 `json:"-"`

	// RSSCategoryBytes is the cheap tier's estimate of each RSS category at this tick, in the
	// order of RSSCategoryNames (Attributor.Estimate's figures). The Go categories come from
	// runtime/metrics and are read at every tick (RSSEstimated); the others only once a full
	// classification exists (RSSClassified). JSON null when not estimated.
	RSSCategoryBytes [rssattr.NumCategories]uint64 `json:"-"`
	// CPU is the cumulative /cpu/classes/* reading (the runtime's estimate), for a CPU-class
	// breakdown between points.
	CPU PointCPU `json:"-"`
	// SchedLatency is the /sched/latencies:seconds histogram between the previous point and this
	// one: how long goroutines waited runnable before running. Each figure is its bucket's upper
	// bound; JSON null when no goroutine was scheduled between the two points, or on the first.
	SchedLatency PointQuantiles `json:"-"`
	// LiveObjectsBySize is the number of heap objects live (allocated less freed, from
	// /gc/heap/allocs-by-size and frees-by-size) in each band of SizeBandBounds; JSON null when the
	// histograms were not read. Tiny allocations count as the 16-byte blocks that hold them.
	LiveObjectsBySize [len(sizeBands)]uint64 `json:"-"`
	// GCPauses are the longest of the GC pauses that ended since the previous point (at most
	// len(GCPauses); GCPauseCount says how many there were), each with the time it ended.
	GCPauses     [maxPointPauses]PointPause `json:"-"`
	GCPauseCount uint32                     `json:"gc_pauses_since_previous_count"`

	RSSEstimated      bool  `json:"-"` // RSSCategoryBytes holds the tick's estimate of the Go categories
	RSSClassified     bool  `json:"-"` // and of the non-Go ones too (after a full classification)
	SchedLatencyRead  bool  `json:"-"` // SchedLatency holds a measurement
	LiveObjectsRead   bool  `json:"-"` // LiveObjectsBySize holds a measurement
	MutexWaitRead     bool  `json:"-"` // MutexWaitSecondsTotal holds a measurement
	CgoCallsRead      bool  `json:"-"` // CgoCallsTotal holds a measurement
	GCScanRead        bool  `json:"-"` // the GCScan*Bytes hold a measurement
	StackStartingRead bool  `json:"-"` // StackStartingBytes holds a measurement
	CustomRead        uint8 `json:"-"` // bit i: Custom[i] holds a value
	pausesKept        uint8 // how many of GCPauses hold a pause
}

// PointCPU is a point's cumulative CPU seconds by class (/cpu/classes/*). User is the time the
// runtime did not account to the GC, the scavenger or idleness; the classes and Idle sum to
// Point.CPUSecondsTotal.
type PointCPU struct {
	User             float64 `json:"user"`
	GCMarkAssist     float64 `json:"gc_mark_assist"`
	GCMarkBackground float64 `json:"gc_mark_background"` // dedicated and idle mark workers
	GCPause          float64 `json:"gc_pause"`
	Scavenge         float64 `json:"scavenge"`
	Idle             float64 `json:"idle"`
}

// PointQuantiles is a latency distribution between two points, in seconds.
type PointQuantiles struct {
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// PointPause is one GC pause in a point: when it ended, in Unix nanoseconds, and how long it
// lasted.
type PointPause struct {
	EndUnixNano   int64
	DurationNanos int64
}

// maxPointPauses bounds the pauses a point keeps: the longest are kept, so that a pause
// timeline never misses the worst one.
const maxPointPauses = 4

// sizeBands are the upper bounds, in bytes, of the object-size bands of Point.LiveObjectsBySize;
// the last band holds every larger object (above the largest size class, 32 KiB).
var sizeBands = [...]uint64{16, 64, 256, 1 << 10, 4 << 10, 32 << 10, math.MaxUint64}

// SizeBandBounds returns the upper bound in bytes of each band of Point.LiveObjectsBySize; the
// last is math.MaxUint64.
func SizeBandBounds() []uint64 { return append([]uint64(nil), sizeBands[:]...) }

// AnalyzeInput is everything Analyze looks at. Only Cur is required.
type AnalyzeInput struct {
	Prev *Snapshot // the start of the window; nil for a report on one snapshot (no rates)
	Cur  *Snapshot // the end of the window
	// RSS is the attribution of Cur (Attributor.Measure or Attributor.Estimate).
	RSS RSS
	// WindowEnd is the end of the window when it is not Cur: rates run from Prev to WindowEnd,
	// while figures of one moment (resident, live heap, goroutines, the RSS) are Cur's. nil means
	// Cur.
	WindowEnd *Snapshot
	// Sites is the allocation profile delta over the window, nil when none was taken. Its
	// MemdiagItself share is taken out of the efficiency block's application figures.
	Sites *AllocationSites
	// History is the Monitor's recent points, oldest first, for trend rules (goroutines growing
	// steadily, resident growing while the live heap is flat); nil or short disables them. A point
	// for Cur is added when the last point is older than Cur.
	History []Point
	// Thresholds tunes the rules; nil means DefaultThresholds().
	Thresholds *Thresholds
	// State is the previous report's Report.State, for a series of reports: a finding is then
	// reported once its condition held for as many evaluations in a row as its rule asks, and
	// clears only once its figure stayed below the clear threshold as long (docs/findings.md). Nil
	// for a one-off report: every rule whose condition holds is reported.
	State *FindingState
	// Leaks is the Monitor's leak suspects as of Cur (nil: leak tracking is off). Each kind of
	// suspect raises its finding (leaks_findings.go), and the report's Leaks section is this;
	// rss_growing_heap_flat names the mappings that grow from them.
	Leaks *Leaks
}

// Excluded is memdiag's share taken out of the efficiency block's application figures.
type Excluded struct {
	// AllocBytesShare and AllocObjectsShare are memdiag's shares of the window's sampled bytes
	// and objects.
	AllocBytesShare   float64 `json:"alloc_bytes_share"`
	AllocObjectsShare float64 `json:"alloc_objects_share"`
	Method            string  `json:"method"`
}
