package gcmodel

import (
	"math"
	"strconv"
)

// Pacer constants, from runtime/mgcpacer.go and runtime/mgclimit.go (Go 1.26).
const (
	// defaultHeapMinimum is the minimum heap goal at GOGC=100; it scales with GOGC.
	defaultHeapMinimum = 4 << 20
	// memoryLimitHeapGoalHeadroomPercent of the memory-limit goal is kept free for pacing errors …
	memoryLimitHeapGoalHeadroomPercent = 3
	// … and at least this many bytes.
	memoryLimitMinHeapGoalHeadroom = 1 << 20
	// backgroundUtilization is the share of GOMAXPROCS the dedicated mark workers take
	// (gcBackgroundUtilization), the utilisation the pacer plans the runway for.
	backgroundUtilization = 0.25
	// limiterShare is the GC CPU limiter's cap: GC time may fill at most half of the non-idle time.
	limiterShare = 0.5
)

// Setting is one GOGC and GOMEMLIMIT pair.
type Setting struct {
	GOGC             int   // percent, or Off
	MemoryLimitBytes int64 // bytes, or NoLimit
}

// String is the setting as environment variables: "GOGC=200", "GOGC=off GOMEMLIMIT=460MiB".
func (s Setting) String() string {
	g := "GOGC=off"
	if s.GOGC >= 0 {
		g = "GOGC=" + strconv.Itoa(s.GOGC)
	}
	if s.MemoryLimitBytes == NoLimit || s.MemoryLimitBytes < 0 {
		return g
	}
	return g + " GOMEMLIMIT=" + strconv.FormatInt(s.MemoryLimitBytes>>20, 10) + "MiB"
}

// Prediction is what the model expects under one setting, in steady state.
type Prediction struct {
	Setting Setting

	// CyclesPerSecond is the GC cycle rate; 0 with GOGC=off and no limit.
	CyclesPerSecond float64
	// AllocBytesPerCycle is what the program allocates from one cycle's end to the next's: the
	// pacer's part of the prediction, independent of the allocation rate. 0 when unbounded.
	AllocBytesPerCycle float64

	// GC CPU as a share of GOMAXPROCS × wall time, the denominator of /cpu/classes/total: mark
	// workers (dedicated, fractional and idle), assists and stop-the-world pauses. Sweep is not
	// among the runtime's GC classes and is not predicted.
	GCCPUShare     float64
	MarkCPUShare   float64
	AssistCPUShare float64
	PauseCPUShare  float64

	// HeapGoalBytes is the pacer's heap goal; 0 when there is none (GOGC=off, no limit).
	HeapGoalBytes uint64
	// PeakHeapBytes is the heap objects (/memory/classes/heap/objects) when a cycle's marking
	// ends, for the mean cycle: the marked heap plus the bytes allocated from one cycle's end to
	// the next's — at most the goal, above it when the limiter engages. Single cycles spread
	// around it with the garbage each one happens to find live: the largest cycle of a window of
	// a few seconds ran 3–14% above the mean in the validation runs (docs/whatif.md). Unbounded:
	// GOGC=off with no limit; the heap grows with every allocation.
	PeakHeapBytes uint64
	Unbounded     bool

	// PeakGoBytes is all the runtime would hold at the peak heap: the heap with its measured
	// fragmentation, plus stacks and runtime metadata as measured.
	PeakGoBytes uint64
	// PeakResidentBytes adds the measured non-Go resident memory; 0 when that was not measured.
	PeakResidentBytes uint64

	// LimitBinds: the memory-limit heap goal is below the GOGC one, so GOMEMLIMIT sets the pace.
	LimitBinds bool
	// LimiterEngages: holding the goal would take more than the GC CPU limiter allows.
	LimiterEngages bool
	// OverLimit: the runtime's memory would exceed GOMEMLIMIT at the peak (it is a soft limit).
	OverLimit bool
	// ContainerHeadroomBytes is the container limit minus the peak resident; negative when the
	// container would be over its limit (OOM kill). 0 and ContainerKnown false without a limit or
	// without the non-Go measurement.
	ContainerHeadroomBytes int64
	ContainerKnown         bool
}

// Observed is the window's own figures at the current setting, to set beside the predictions.
type Observed struct {
	Setting         Setting
	CyclesPerSecond float64
	GCCPUShare      float64
	MarkCPUShare    float64
	AssistCPUShare  float64
	PauseCPUShare   float64
}

// Observe gives the window's measured figures.
func Observe(w *Window) Observed {
	o := Observed{Setting: Setting{GOGC: w.GOGC, MemoryLimitBytes: w.MemoryLimitBytes}}
	if !(w.Seconds > 0) || w.GOMAXPROCS <= 0 {
		return o
	}
	capacity := w.Seconds * float64(w.GOMAXPROCS)
	o.CyclesPerSecond = float64(w.Cycles) / w.Seconds
	o.MarkCPUShare = (w.CPU.MarkDedicated + w.CPU.MarkIdle) / capacity
	o.AssistCPUShare = w.CPU.MarkAssist / capacity
	o.PauseCPUShare = w.CPU.Pause / capacity
	o.GCCPUShare = w.CPU.GC() / capacity
	return o
}

// Predict gives one prediction per setting, in order, or the window's *RefusalError.
func Predict(w *Window, settings []Setting) ([]Prediction, error) {
	if err := Validate(w); err != nil {
		return nil, err
	}
	out := make([]Prediction, len(settings))
	for i, s := range settings {
		out[i] = predict(w, s)
	}
	return out, nil
}

// GOGCGoal is the pacer's GOGC heap goal (gcControllerState.commit): marked + (marked + stacks +
// globals) × GOGC/100, at least the minimum heap 4 MiB × GOGC/100. +Inf when the GC is off.
func GOGCGoal(gogc int, marked, stacks, globals uint64) float64 {
	if gogc < 0 {
		return math.Inf(1)
	}
	g := float64(marked) + float64(marked+stacks+globals)*float64(gogc)/100
	return max(g, float64(defaultHeapMinimum)*float64(gogc)/100)
}

// MemoryLimitGoal is the pacer's memory-limit heap goal (gcControllerState.memoryLimitHeapGoal):
// the limit less the runtime's non-heap memory (nonHeap: mapped, not free, not heap objects), less
// 3% (at least 1 MiB) of headroom, never below the marked heap. +Inf without a limit.
func MemoryLimitGoal(limit int64, nonHeap, marked uint64) float64 {
	if limit == NoLimit || limit < 0 {
		return math.Inf(1)
	}
	l := float64(limit)
	if float64(nonHeap) >= l {
		return float64(marked)
	}
	goal := l - float64(nonHeap)
	headroom := max(math.Floor(goal/100)*memoryLimitHeapGoalHeadroomPercent, memoryLimitMinHeapGoalHeadroom)
	if goal < 2*headroom {
		goal = headroom
	} else {
		goal -= headroom
	}
	return max(goal, float64(marked))
}

// Pacer trigger bounds (runtime/mgcpacer.go trigger()): the trigger sits between 45/64 and 61/64 of
// the way from the marked heap to the goal, or up to 4 MiB short of the goal when that is later.
const (
	minTriggerRatio = 45.0 / 64
	maxTriggerRatio = 61.0 / 64
)

// triggerDistance is how far past the marked heap the pacer triggers for a goal distance d
// (goal − marked) and a runway r: d − r, clamped to the pacer's bounds.
func triggerDistance(d, r float64) float64 {
	lo := d * minTriggerRatio
	hi := max(d*maxTriggerRatio, d-defaultHeapMinimum, lo)
	return min(max(d-r, lo), hi)
}

// cyclePacing is what the window says about how the pacer spends a goal distance: the runway it
// leaves for marking (bytes allocated between trigger and goal at 25% utilisation), and the bytes
// actually allocated while a cycle marks.
type cyclePacing struct {
	runway   float64
	markMade float64
}

// pacing reads the window's cycles against the current setting's goal. A cycle allocates
// (trigger − marked) + markMade bytes; markMade is the allocation rate times the mark's CPU spread
// over every P (the mark cannot be shorter), and the trigger follows from the rest. The runway is
// goal − trigger when the trigger sat between the pacer's bounds. At a bound the window only says
// the runway is at least (lower bound) or at most (upper bound) that; the model then takes the
// runway the pacer computes itself (gcControllerState.commit): consMark × (1−u)/u × scan work,
// with consMark measured over a cycle as markMade × (GC utilisation) / (scan work × (1 − u − assist
// share)), u = 25% and the mark taking every P (GC utilisation 1) — so 3 × markMade / (0.75 − a), a the assists' share of mark CPU.
func pacing(w *Window, goal, marked float64) cyclePacing {
	cycles := float64(w.Cycles)
	perCycle := float64(w.AllocBytes) / cycles
	rate := float64(w.AllocBytes) / w.Seconds
	markCPU := (w.CPU.MarkDedicated + w.CPU.MarkIdle + w.CPU.MarkAssist) / cycles
	markMade := min(rate*markCPU/float64(w.GOMAXPROCS), perCycle*(1-minTriggerRatio))
	d := goal - marked
	if !(d > 0) || math.IsInf(d, 1) {
		return cyclePacing{markMade: markMade}
	}
	assistShare := 0.0
	if markCPU > 0 {
		assistShare = min(w.CPU.MarkAssist/cycles/markCPU, 0.5)
	}
	formula := markMade * (1 - backgroundUtilization) / backgroundUtilization / (1 - backgroundUtilization - assistShare)
	trig := perCycle - markMade
	lo := d * minTriggerRatio
	hi := max(d*maxTriggerRatio, d-defaultHeapMinimum, lo)
	var runway float64
	switch {
	case trig <= lo*1.01:
		runway = max(d-lo, formula)
	case trig >= hi*0.99:
		runway = min(d-trig, formula)
	default:
		runway = d - trig
	}
	return cyclePacing{runway: max(runway, 0), markMade: markMade}
}

// goals gives the heap goal of setting s for the window, and whether the memory limit set it.
//
// The runtime computes the memory-limit goal from the non-heap memory of the moment
// (memoryLimitHeapGoal: mapped − free − heap objects). Part of it moves with the heap: the unused
// room in spans and the span structures, one per span. Under a tighter limit the heap is smaller
// and so is that part, which leaves the heap more room; taking the baseline's non-heap memory as
// fixed puts the goal too low and the cycles too many (by 5–9% in the validation runs). So the
// heap-proportional part is scaled to a heap at the goal, which it depends on: a fixed point,
// reached in a few steps because the share is a few percent.
func goals(w *Window, s Setting, marked float64) (goal float64, binds bool) {
	nonHeap := float64(w.HeapUnusedBytes + w.GoOtherBytes)
	gogcGoal := GOGCGoal(s.GOGC, uint64(marked), w.StackScanBytes, w.GlobalsScanBytes)
	limitGoal := MemoryLimitGoal(s.MemoryLimitBytes, uint64(nonHeap), uint64(marked))
	if share := heapProportionalShare(w); share > 0 && !math.IsInf(limitGoal, 1) {
		fixed := nonHeap - share*float64(w.HeapObjectsBytes)
		for range 8 {
			next := MemoryLimitGoal(s.MemoryLimitBytes, uint64(max(fixed+share*limitGoal, 0)), uint64(marked))
			if math.Abs(next-limitGoal) < 1<<10 {
				limitGoal = next
				break
			}
			limitGoal = next
		}
	}
	return min(gogcGoal, limitGoal), limitGoal < gogcGoal
}

// heapProportionalShare is the non-heap memory that grows with the heap — unused room in spans
// and span structures — per byte of heap objects, as the window measured it; 0 when the window
// has no heap objects or no span figure.
func heapProportionalShare(w *Window) float64 {
	if w.HeapObjectsBytes == 0 || w.SpanMetadataBytes == 0 || w.SpanMetadataBytes > w.GoOtherBytes {
		return 0
	}
	return float64(w.HeapUnusedBytes+w.SpanMetadataBytes) / float64(w.HeapObjectsBytes)
}

func predict(w *Window, s Setting) Prediction {
	p := Prediction{Setting: s}
	// The marked heap varies from cycle to cycle by the garbage allocated while marking; the
	// window's two ends average it.
	marked := (float64(w.MarkedStartBytes) + float64(w.MarkedBytes)) / 2
	if w.MarkedStartBytes == 0 {
		marked = float64(w.MarkedBytes)
	}
	curGoal, _ := goals(w, Setting{GOGC: w.GOGC, MemoryLimitBytes: w.MemoryLimitBytes}, marked)
	pc := pacing(w, curGoal, marked)
	goal, binds := goals(w, s, marked)
	p.LimitBinds = binds
	p.HeapGoalBytes = finiteBytes(goal)

	rate := float64(w.AllocBytes) / w.Seconds
	cycles := float64(w.Cycles)
	procs := float64(w.GOMAXPROCS)
	// The cost of one cycle, by class: marking the same live heap, stacks and globals whatever
	// the goal.
	ded, idle := w.CPU.MarkDedicated/cycles, w.CPU.MarkIdle/cycles
	assist, pause := w.CPU.MarkAssist/cycles, w.CPU.Pause/cycles
	user := w.CPU.User / w.Seconds

	perCycle := 0.0 // bytes allocated per cycle
	if d := goal - marked; d > 0 && !math.IsInf(d, 1) {
		perCycle = min(triggerDistance(d, pc.runway)+pc.markMade, d)
	}
	var rateCycles float64
	switch {
	case math.IsInf(goal, 1):
		p.Unbounded = true
	case perCycle > 0:
		rateCycles = rate / perCycle
	default:
		rateCycles = math.Inf(1) // goal at the live heap: back-to-back cycles
	}
	// The limiter counts dedicated workers and assists against the non-idle time (the mutator's
	// and the GC's own); it engages when they would take more than limiterShare (half) of it. At
	// the cap, (ded+assist)·c = s·(user + (ded+assist+pause)·c), so
	// c = s·user / ((1−s)·(ded+assist) − s·pause).
	if den := (1-limiterShare)*(ded+assist) - limiterShare*pause; den > 0 && rate > 0 {
		if capCycles := limiterShare * user / den; rateCycles > capCycles {
			rateCycles = capCycles
			p.LimiterEngages = true
		}
	}
	if math.IsInf(rateCycles, 1) || (p.LimiterEngages && !(rateCycles > 0)) {
		// Back-to-back cycles with no mutator CPU to bound them, or a limiter that allows none:
		// nothing the model knows holds the heap.
		rateCycles = 0
		p.LimiterEngages = true
		p.Unbounded = true
	}
	p.CyclesPerSecond = rateCycles
	if rateCycles > 0 {
		p.AllocBytesPerCycle = rate / rateCycles
	}
	p.MarkCPUShare = rateCycles * (ded + idle) / procs
	p.AssistCPUShare = rateCycles * assist / procs
	p.PauseCPUShare = rateCycles * pause / procs
	p.GCCPUShare = p.MarkCPUShare + p.AssistCPUShare + p.PauseCPUShare

	if p.Unbounded {
		return p
	}
	// The heap peaks when marking ends: the marked heap plus a cycle's allocation.
	peak := marked + perCycle
	if p.LimiterEngages && rateCycles > 0 {
		peak = max(peak, marked+rate/rateCycles)
	}
	p.PeakHeapBytes = uint64(peak)
	frag := 0.0
	if w.HeapObjectsBytes > 0 {
		frag = float64(w.HeapUnusedBytes) / float64(w.HeapObjectsBytes)
	}
	p.PeakGoBytes = uint64(peak*(1+frag)) + w.GoOtherBytes
	if s.MemoryLimitBytes != NoLimit && s.MemoryLimitBytes >= 0 && p.PeakGoBytes > uint64(s.MemoryLimitBytes) {
		p.OverLimit = true
	}
	if w.NonGoKnown {
		p.PeakResidentBytes = p.PeakGoBytes + w.NonGoResidentBytes
		if w.ContainerLimitBytes > 0 {
			p.ContainerKnown = true
			p.ContainerHeadroomBytes = int64(min(w.ContainerLimitBytes, math.MaxInt64)) - int64(min(p.PeakResidentBytes, math.MaxInt64))
		}
	}
	return p
}

func finiteBytes(v float64) uint64 {
	if math.IsInf(v, 0) || math.IsNaN(v) || v < 0 {
		return 0
	}
	return uint64(v)
}
