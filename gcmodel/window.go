package gcmodel

import (
	"fmt"
	"math"
	"strings"
)

// NoLimit is the memory limit of a runtime without one (GOMEMLIMIT unset), as runtime/metrics
// reports it.
const NoLimit = math.MaxInt64

// Off is the GOGC of a runtime whose GC is off (GOGC=off).
const Off = -1

// Window is what the model needs from one measured window at the current setting. Byte figures are
// the runtime's own (runtime/metrics); CPU figures are the runtime's CPU classes over the window.
type Window struct {
	Seconds    float64 // length of the window
	GOMAXPROCS int     // Ps during the window

	GOGC             int   // percent in force during the window; Off when the GC was off
	MemoryLimitBytes int64 // GOMEMLIMIT in force; NoLimit when none

	// MarkedStartBytes and MarkedBytes are the heap marked live by the last GC before the window
	// and by the last GC in it (/gc/heap/live:bytes): the pacer's heapMarked, and the check that
	// the live heap held steady.
	MarkedStartBytes uint64
	MarkedBytes      uint64
	StackScanBytes   uint64 // stack bytes the last GC scanned (/gc/scan/stack:bytes)
	GlobalsScanBytes uint64 // globals the last GC scanned (/gc/scan/globals:bytes)

	AllocBytes   uint64 // heap bytes allocated during the window
	Cycles       uint64 // GC cycles completed during the window
	ForcedCycles uint64 // of which forced (runtime.GC, debug.FreeOSMemory)

	// AllocRateFirstHalf and AllocRateSecondHalf (bytes/s) are the allocation rate over each half of
	// the window, when the caller has points in the middle; both 0 when it has not, and the steady
	// allocation check is then skipped.
	AllocRateFirstHalf  float64
	AllocRateSecondHalf float64

	CPU CPU // CPU seconds spent during the window, by class

	// SettingChanged: GOGC or GOMEMLIMIT differed between the window's ends.
	SettingChanged bool
	// LimiterEngaged: the GC CPU limiter engaged in a cycle of the window.
	LimiterEngaged bool

	// Memory at the end of the window (runtime/metrics memory classes).
	HeapObjectsBytes uint64 // /memory/classes/heap/objects
	HeapUnusedBytes  uint64 // /memory/classes/heap/unused: fragmentation in in-use spans
	// GoOtherBytes is every other byte the runtime has mapped and not released apart from the heap
	// (objects, unused, free): goroutine stacks, runtime metadata, profiling buckets, other.
	GoOtherBytes uint64
	// SpanMetadataBytes is the part of GoOtherBytes that is span structures in use
	// (/memory/classes/metadata/mspan/inuse): one per span of the heap, so it grows and shrinks
	// with the heap, as HeapUnusedBytes does. 0 when not measured: the non-heap memory is then
	// taken as fixed whatever the heap.
	SpanMetadataBytes uint64

	// NonGoResidentBytes is resident memory the runtime does not manage (C heap, thread stacks,
	// binary, libraries, file mappings), measured outside the runtime; NonGoKnown says it was.
	NonGoResidentBytes uint64
	NonGoKnown         bool
	// ContainerLimitBytes is the cgroup's memory limit; 0 when there is none.
	ContainerLimitBytes uint64
}

// CPU is CPU seconds by the runtime's classes (/cpu/classes/...).
type CPU struct {
	MarkDedicated float64 // gc/mark/dedicated (dedicated and fractional workers)
	MarkIdle      float64 // gc/mark/idle
	MarkAssist    float64 // gc/mark/assist
	Pause         float64 // gc/pause: stop-the-world time × GOMAXPROCS
	User          float64 // user: the program's own goroutines (sweep included)
	Idle          float64 // idle
}

// GC is the GC's total: mark (dedicated, idle), assists and pauses.
func (c CPU) GC() float64 { return c.MarkDedicated + c.MarkIdle + c.MarkAssist + c.Pause }

// Reason says why a window cannot carry a prediction.
type Reason string

// The reasons a window is refused. Each is a broken assumption of the model or a missing input.
const (
	ReasonNoWindow          Reason = "no_window"           // zero length, or GOMAXPROCS unknown
	ReasonTooFewCycles      Reason = "too_few_cycles"      // fewer than MinCycles cycles: no cost per cycle
	ReasonForcedCycles      Reason = "forced_cycles"       // runtime.GC calls drive the cycle rate, not the pacer
	ReasonLiveHeapUnsteady  Reason = "live_heap_unsteady"  // the marked heap moved by more than MaxLiveDrift
	ReasonAllocRateUnsteady Reason = "alloc_rate_unsteady" // the halves' allocation rates differ by more than MaxAllocDrift
	ReasonSettingChanged    Reason = "setting_changed"     // GOGC or GOMEMLIMIT changed inside the window
	ReasonLimiterEngaged    Reason = "limiter_engaged"     // the heap overshot its goal, so cycles do not follow it
	ReasonNoGCCPU           Reason = "no_gc_cpu"           // cycles without measured GC CPU: the CPU classes are missing
)

// The bounds of the assumption checks. They say when a window is too unsteady to extrapolate from,
// not how the GC behaves, and are chosen to sit well outside the model's own error targets.
const (
	MinCycles     = 3    // a cost per cycle from fewer is mostly the first and last cycle's edges
	MaxLiveDrift  = 0.20 // relative change of the marked heap across the window
	MaxAllocDrift = 0.25 // relative difference between the halves' allocation rates
	MaxForced     = 0.10 // share of cycles that were forced
)

// RefusalError is the error of a window the model refuses: every broken assumption, each with its
// numbers.
type RefusalError struct {
	Reasons []Refusal
}

// Refusal is one broken assumption.
type Refusal struct {
	Reason Reason
	Detail string // the numbers, in words
}

func (e *RefusalError) Error() string {
	parts := make([]string, len(e.Reasons))
	for i, r := range e.Reasons {
		parts[i] = string(r.Reason) + ": " + r.Detail
	}
	return "gcmodel: window refused: " + strings.Join(parts, "; ")
}

// Has reports whether r is among the refusal's reasons.
func (e *RefusalError) Has(r Reason) bool {
	for _, x := range e.Reasons {
		if x.Reason == r {
			return true
		}
	}
	return false
}

// Validate checks the model's assumptions on w; it returns a *RefusalError naming every one the
// window breaks, or nil.
func Validate(w *Window) error {
	var out []Refusal
	add := func(r Reason, format string, args ...any) {
		out = append(out, Refusal{Reason: r, Detail: fmt.Sprintf(format, args...)})
	}
	if !(w.Seconds > 0) || math.IsInf(w.Seconds, 0) || w.GOMAXPROCS <= 0 {
		add(ReasonNoWindow, "window of %g s with GOMAXPROCS %d", w.Seconds, w.GOMAXPROCS)
		return &RefusalError{Reasons: out}
	}
	if w.SettingChanged {
		add(ReasonSettingChanged, "GOGC or GOMEMLIMIT changed inside the window")
	}
	if w.Cycles < MinCycles {
		add(ReasonTooFewCycles, "%d GC cycles in %.3g s, need at least %d", w.Cycles, w.Seconds, MinCycles)
	} else if float64(w.ForcedCycles) > MaxForced*float64(w.Cycles) {
		add(ReasonForcedCycles, "%d of %d cycles were forced", w.ForcedCycles, w.Cycles)
	}
	if d := drift(float64(w.MarkedStartBytes), float64(w.MarkedBytes)); d > MaxLiveDrift {
		add(ReasonLiveHeapUnsteady, "live heap went from %d to %d bytes (%.0f%%, more than %.0f%%)",
			w.MarkedStartBytes, w.MarkedBytes, 100*d, 100*MaxLiveDrift)
	}
	if w.AllocRateFirstHalf > 0 || w.AllocRateSecondHalf > 0 {
		if d := drift(w.AllocRateFirstHalf, w.AllocRateSecondHalf); d > MaxAllocDrift {
			add(ReasonAllocRateUnsteady, "allocation rate went from %.3g to %.3g B/s between the halves (%.0f%%, more than %.0f%%)",
				w.AllocRateFirstHalf, w.AllocRateSecondHalf, 100*d, 100*MaxAllocDrift)
		}
	}
	if w.LimiterEngaged {
		add(ReasonLimiterEngaged, "the GC CPU limiter engaged: the heap was not held at its goal")
	}
	if w.Cycles >= MinCycles && !(w.CPU.GC() > 0) {
		add(ReasonNoGCCPU, "%d cycles but no GC CPU measured", w.Cycles)
	}
	if len(out) == 0 {
		return nil
	}
	return &RefusalError{Reasons: out}
}

// drift is |b−a| relative to the larger of the two; 0 when both are 0.
func drift(a, b float64) float64 {
	m := max(a, b)
	if !(m > 0) {
		return 0
	}
	return math.Abs(b-a) / m
}
