package gcmodel_test

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/memdiag/memdiag/gcmodel"
)

const mib = 1 << 20

// steady is a window of a program with 100 MiB live, allocating 200 MiB/s at GOGC=100: the goal is
// 200 MiB (+ stacks and globals), and its cycles allocate 80 MiB each, so the pacer triggers at
// 78/100 of the distance with marking adding 2 MiB.
func steady() gcmodel.Window {
	return gcmodel.Window{
		Seconds:          10,
		GOMAXPROCS:       4,
		GOGC:             100,
		MemoryLimitBytes: gcmodel.NoLimit,
		MarkedStartBytes: 100 * mib,
		MarkedBytes:      100 * mib,
		AllocBytes:       2000 * mib,
		Cycles:           25,
		// 25 cycles, each costing 36 ms of mark workers, 4 ms of assists, 1 ms of pauses: 40 ms of
		// marking over 4 Ps is at least 10 ms, while 2 MiB is allocated.
		CPU:              gcmodel.CPU{MarkDedicated: 0.7, MarkIdle: 0.2, MarkAssist: 0.1, Pause: 0.025, User: 20, Idle: 10},
		HeapObjectsBytes: 150 * mib,
		HeapUnusedBytes:  15 * mib,
		GoOtherBytes:     20 * mib,
	}
}

func TestGOGCGoal(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		gogc                    int
		marked, stacks, globals uint64
		want                    float64
	}{
		{"GOGC=100 doubles marked+roots", 100, 100 * mib, 1 * mib, 1 * mib, 202 * mib},
		{"GOGC=50", 50, 100 * mib, 0, 0, 150 * mib},
		{"GOGC=400", 400, 10 * mib, 0, 0, 50 * mib},
		{"minimum heap 4 MiB at GOGC=100", 100, 1 * mib, 0, 0, 4 * mib},
		{"minimum heap scales with GOGC", 200, 1 * mib, 0, 0, 8 * mib},
		{"off", gcmodel.Off, 100 * mib, 0, 0, math.Inf(1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gcmodel.GOGCGoal(tc.gogc, tc.marked, tc.stacks, tc.globals); got != tc.want {
				t.Errorf("GOGCGoal = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestMemoryLimitGoal(t *testing.T) {
	for _, tc := range []struct {
		name            string
		limit           int64
		nonHeap, marked uint64
		want            float64
	}{
		{"no limit", gcmodel.NoLimit, 0, 0, math.Inf(1)},
		// 1000 MiB − 100 MiB non-heap = 900 MiB, less 3% of it (27 MiB).
		{"3% headroom", 1000 * mib, 100 * mib, 10 * mib, 900*mib - math.Floor(900*mib/100)*3},
		// 20 MiB − 10 MiB = 10 MiB; 3% is below 1 MiB, so 1 MiB of headroom.
		{"1 MiB minimum headroom", 20 * mib, 10 * mib, 1 * mib, 9 * mib},
		{"never below marked", 300 * mib, 100 * mib, 250 * mib, 250 * mib},
		{"non-heap over the limit", 100 * mib, 200 * mib, 50 * mib, 50 * mib},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := gcmodel.MemoryLimitGoal(tc.limit, tc.nonHeap, tc.marked); got != tc.want {
				t.Errorf("MemoryLimitGoal = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestValidateRefuses(t *testing.T) {
	for _, tc := range []struct {
		name   string
		modify func(*gcmodel.Window)
		want   []gcmodel.Reason
	}{
		{"steady window passes", func(*gcmodel.Window) {}, nil},
		{"no window", func(w *gcmodel.Window) { w.Seconds = 0 }, []gcmodel.Reason{gcmodel.ReasonNoWindow}},
		{"no GOMAXPROCS", func(w *gcmodel.Window) { w.GOMAXPROCS = 0 }, []gcmodel.Reason{gcmodel.ReasonNoWindow}},
		{"too few cycles", func(w *gcmodel.Window) { w.Cycles = 2 }, []gcmodel.Reason{gcmodel.ReasonTooFewCycles}},
		{"forced cycles", func(w *gcmodel.Window) { w.ForcedCycles = 5 }, []gcmodel.Reason{gcmodel.ReasonForcedCycles}},
		{"live heap grew 50%", func(w *gcmodel.Window) { w.MarkedBytes = 200 * mib }, []gcmodel.Reason{gcmodel.ReasonLiveHeapUnsteady}},
		{"live heap grew 15% passes", func(w *gcmodel.Window) { w.MarkedBytes = 115 * mib }, nil},
		{"allocation rate halved", func(w *gcmodel.Window) { w.AllocRateFirstHalf, w.AllocRateSecondHalf = 300*mib, 100*mib },
			[]gcmodel.Reason{gcmodel.ReasonAllocRateUnsteady}},
		{"allocation rate steady", func(w *gcmodel.Window) { w.AllocRateFirstHalf, w.AllocRateSecondHalf = 190*mib, 210*mib }, nil},
		{"setting changed", func(w *gcmodel.Window) { w.SettingChanged = true }, []gcmodel.Reason{gcmodel.ReasonSettingChanged}},
		{"limiter engaged", func(w *gcmodel.Window) { w.LimiterEngaged = true }, []gcmodel.Reason{gcmodel.ReasonLimiterEngaged}},
		{"no GC CPU", func(w *gcmodel.Window) { w.CPU = gcmodel.CPU{User: 1} }, []gcmodel.Reason{gcmodel.ReasonNoGCCPU}},
		{"every broken assumption is named", func(w *gcmodel.Window) { w.SettingChanged = true; w.MarkedBytes = 10 * mib },
			[]gcmodel.Reason{gcmodel.ReasonSettingChanged, gcmodel.ReasonLiveHeapUnsteady}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := steady()
			tc.modify(&w)
			err := gcmodel.Validate(&w)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
				return
			}
			var re *gcmodel.RefusalError
			if !errors.As(err, &re) {
				t.Fatalf("Validate = %v, want a *RefusalError", err)
			}
			if len(re.Reasons) != len(tc.want) {
				t.Fatalf("reasons %v, want %v", re.Reasons, tc.want)
			}
			for _, r := range tc.want {
				if !re.Has(r) {
					t.Errorf("reasons %v lack %s", re.Reasons, r)
				}
			}
			if !strings.Contains(err.Error(), string(tc.want[0])) {
				t.Errorf("error %q does not name %s", err, tc.want[0])
			}
			if _, perr := gcmodel.Predict(&w, []gcmodel.Setting{{GOGC: 100, MemoryLimitBytes: gcmodel.NoLimit}}); perr == nil {
				t.Error("Predict accepted a refused window")
			}
		})
	}
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol*math.Abs(want) }

func TestPredictFollowsThePacer(t *testing.T) {
	w := steady()
	settings := []gcmodel.Setting{
		{GOGC: 100, MemoryLimitBytes: gcmodel.NoLimit},
		{GOGC: 200, MemoryLimitBytes: gcmodel.NoLimit},
		{GOGC: 50, MemoryLimitBytes: gcmodel.NoLimit},
		{GOGC: gcmodel.Off, MemoryLimitBytes: gcmodel.NoLimit},
		{GOGC: gcmodel.Off, MemoryLimitBytes: 400 * mib},
		{GOGC: 100, MemoryLimitBytes: 136 * mib},
	}
	p, err := gcmodel.Predict(&w, settings)
	if err != nil {
		t.Fatal(err)
	}
	obs := gcmodel.Observe(&w)

	// At the current setting the model gives back what was measured.
	if !near(p[0].CyclesPerSecond, obs.CyclesPerSecond, 1e-9) {
		t.Errorf("current setting: %v cycles/s, measured %v", p[0].CyclesPerSecond, obs.CyclesPerSecond)
	}
	if !near(p[0].GCCPUShare, obs.GCCPUShare, 1e-9) {
		t.Errorf("current setting: GC CPU %v, measured %v", p[0].GCCPUShare, obs.GCCPUShare)
	}
	if p[0].HeapGoalBytes != 200*mib || p[0].PeakHeapBytes != 180*mib {
		t.Errorf("current setting: goal %d peak %d, want 200 MiB and 180 MiB (marked + 80 MiB a cycle)", p[0].HeapGoalBytes>>20, p[0].PeakHeapBytes>>20)
	}

	// The window's cycles allocate 80 MiB: 2 MiB while marking, so the trigger was 78 MiB past the
	// marked heap and the runway 22 MiB. GOGC=200: the distance doubles to 200 MiB; the runway and
	// the bytes made while marking do not, so a cycle allocates 200 − 22 + 2 = 180 MiB (the pacer's
	// 61/64 upper trigger bound, 190.6 MiB, is not reached).
	if want := 200.0 / 180; !near(p[1].CyclesPerSecond, want, 1e-3) {
		t.Errorf("GOGC=200: %v cycles/s, want %v", p[1].CyclesPerSecond, want)
	}
	// The cost per cycle is the same, so the GC CPU scales with the cycle rate.
	if want := obs.GCCPUShare * p[1].CyclesPerSecond / obs.CyclesPerSecond; !near(p[1].GCCPUShare, want, 1e-9) {
		t.Errorf("GOGC=200: GC CPU %v, want %v", p[1].GCCPUShare, want)
	}
	if p[1].HeapGoalBytes != 300*mib || p[1].PeakHeapBytes != 280*mib {
		t.Errorf("GOGC=200: goal %d peak %d MiB, want 300 and 280", p[1].HeapGoalBytes>>20, p[1].PeakHeapBytes>>20)
	}
	// GOGC=50: a 50 MiB distance; 50 − 22 = 28 MiB is below the 45/64 lower bound (35.2 MiB).
	if want := 200 / (50*45.0/64 + 2); !near(p[2].CyclesPerSecond, want, 1e-3) {
		t.Errorf("GOGC=50: %v cycles/s, want %v (trigger at its lower bound)", p[2].CyclesPerSecond, want)
	}
	if p[2].GCCPUShare <= p[0].GCCPUShare || p[1].GCCPUShare >= p[0].GCCPUShare {
		t.Errorf("GC CPU does not fall with GOGC: 50→%v 100→%v 200→%v", p[2].GCCPUShare, p[0].GCCPUShare, p[1].GCCPUShare)
	}

	// GOGC=off, no limit: no cycles, a heap without bound.
	if !p[3].Unbounded || p[3].CyclesPerSecond != 0 || p[3].GCCPUShare != 0 || p[3].HeapGoalBytes != 0 {
		t.Errorf("GOGC=off: %+v, want unbounded with no GC", p[3])
	}

	// GOGC=off under a 400 MiB limit: the goal is the limit less the runtime's non-heap memory
	// (15 MiB unused + 20 MiB other) less 3%.
	lim := 365*mib - math.Floor(365*mib/100)*3
	if !p[4].LimitBinds || p[4].HeapGoalBytes != uint64(lim) || p[4].Unbounded {
		t.Errorf("GOGC=off under 400 MiB: binds %v goal %d, want binding at %v", p[4].LimitBinds, p[4].HeapGoalBytes, lim)
	}

	// A 136 MiB limit under GOGC=100: the memory-limit goal falls to the marked heap (136 − 35 MiB
	// non-heap, less 3%): back-to-back cycles, which cost more than the limiter lets through.
	if !p[5].LimitBinds || p[5].HeapGoalBytes != 100*mib {
		t.Errorf("136 MiB limit does not bind at the marked heap: %+v", p[5])
	}
	if !p[5].LimiterEngages {
		t.Errorf("136 MiB limit: limiter does not engage: %+v", p[5])
	}
	// Under the limiter the dedicated workers and assists take half of the non-idle CPU:
	// c·(ded+assist) = ½(user + c·(ded+assist+pause)).
	ded, assist, pause := 0.7/25, 0.1/25, 0.025/25
	if c := 2.0 / (ded + assist - pause); !near(p[5].CyclesPerSecond, c, 1e-9) {
		t.Errorf("limited cycles %v, want %v", p[5].CyclesPerSecond, c)
	}
	if p[5].PeakHeapBytes <= p[5].HeapGoalBytes {
		t.Errorf("limiter engaged but the heap stays at its goal: peak %d goal %d", p[5].PeakHeapBytes, p[5].HeapGoalBytes)
	}
}

func TestPredictResidentAndContainer(t *testing.T) {
	w := steady()
	w.NonGoKnown = true
	w.NonGoResidentBytes = 200 * mib
	w.ContainerLimitBytes = 512 * mib
	p, err := gcmodel.Predict(&w, []gcmodel.Setting{{GOGC: 100, MemoryLimitBytes: gcmodel.NoLimit}, {GOGC: 400, MemoryLimitBytes: gcmodel.NoLimit}})
	if err != nil {
		t.Fatal(err)
	}
	// Peak Go = 180 MiB heap × (1 + 15/150 fragmentation) + 20 MiB other = 218 MiB; + 200 MiB non-Go.
	if got, want := p[0].PeakGoBytes, uint64(180*1.1*mib)+20*mib; got != want {
		t.Errorf("peak Go %d, want %d", got, want)
	}
	if got, want := p[0].PeakResidentBytes, p[0].PeakGoBytes+200*mib; got != want {
		t.Errorf("peak resident %d, want %d", got, want)
	}
	if !p[0].ContainerKnown || p[0].ContainerHeadroomBytes != int64(512*mib)-int64(p[0].PeakResidentBytes) {
		t.Errorf("container headroom %d", p[0].ContainerHeadroomBytes)
	}
	if p[1].ContainerHeadroomBytes >= 0 {
		t.Errorf("GOGC=400 (peak heap ~%d MiB) fits a 512 MiB container with 200 MiB of C heap: %+v", p[1].PeakHeapBytes>>20, p[1])
	}
	d := gcmodel.Describe(gcmodel.Observe(&w), p[0], p[1])
	for _, s := range []string{"GOGC=400", "over the container limit", "GC CPU from"} {
		if !strings.Contains(d, s) {
			t.Errorf("Describe = %q, lacks %q", d, s)
		}
	}
}

func TestAdaptiveLimitAndCandidates(t *testing.T) {
	container := float64(512 * mib)
	l, ok := gcmodel.AdaptiveLimit(512*mib, 200*mib, 0.05)
	if !ok || l != int64(512*mib-200*mib)-int64(container*0.05) {
		t.Errorf("AdaptiveLimit = %d %v", l, ok)
	}
	if _, ok := gcmodel.AdaptiveLimit(512*mib, 500*mib, 0.05); ok {
		t.Error("AdaptiveLimit accepted non-Go memory above the container limit")
	}
	if _, ok := gcmodel.AdaptiveLimit(0, 0, 0.05); ok {
		t.Error("AdaptiveLimit without a container limit")
	}

	w := steady()
	if got := gcmodel.Candidates(&w); len(got) != 5 {
		t.Errorf("no container: %v, want the 5 GOGC values", got)
	}
	w.ContainerLimitBytes = 512 * mib
	w.NonGoKnown, w.NonGoResidentBytes = true, 200*mib
	got := gcmodel.Candidates(&w)
	var autoLimit, adaptive bool
	for _, s := range got {
		autoLimit = autoLimit || s.MemoryLimitBytes == int64(container*0.9)
		adaptive = adaptive || s.MemoryLimitBytes == l
	}
	if !autoLimit || !adaptive || len(got) != 9 {
		t.Errorf("container candidates %v: want the GOGC values, 90%% and the adaptive limit, each at GOGC=100 and off", got)
	}
	if s := (gcmodel.Setting{GOGC: gcmodel.Off, MemoryLimitBytes: 300 * mib}).String(); s != "GOGC=off GOMEMLIMIT=300MiB" {
		t.Errorf("Setting.String = %q", s)
	}
}

func BenchmarkPredict(b *testing.B) {
	w := steady()
	w.ContainerLimitBytes = 512 * mib
	w.NonGoKnown, w.NonGoResidentBytes = true, 200*mib
	b.ReportAllocs()
	for b.Loop() {
		if _, err := gcmodel.Predict(&w, gcmodel.Candidates(&w)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestPredictRunwayAtTheLowerBound: when the window's trigger sat at the pacer's lower bound (45/64
// of the distance), the window does not show the runway; the model takes the pacer's own
// estimate, 3 × (bytes allocated while marking) / (0.75 − assist share of mark CPU).
func TestPredictRunwayAtTheLowerBound(t *testing.T) {
	w := steady()
	w.AllocBytes = uint64(25 * 72.3 * mib) // 72.3 MiB a cycle: the trigger at 45/64 of 100 MiB, plus marking
	w.CPU.MarkDedicated, w.CPU.MarkIdle, w.CPU.MarkAssist = 4.0, 0.5, 0.5
	rate := float64(w.AllocBytes) / w.Seconds
	markMade := rate * 0.2 / 4            // 200 ms of mark CPU a cycle over 4 Ps
	runway := markMade * 3 / (0.75 - 0.1) // assists are 10% of mark CPU
	if runway <= 100*mib*19.0/64 {
		t.Fatalf("the test needs the pacer's runway (%v) above the bound's (%v)", runway, 100*mib*19.0/64)
	}
	p, err := gcmodel.Predict(&w, []gcmodel.Setting{{GOGC: 200, MemoryLimitBytes: gcmodel.NoLimit}})
	if err != nil {
		t.Fatal(err)
	}
	if want := 200*mib - runway + markMade; !near(p[0].AllocBytesPerCycle, want, 1e-6) {
		t.Errorf("GOGC=200: %v MiB a cycle, want %v", p[0].AllocBytesPerCycle/mib, want/mib)
	}
}

// TestMemoryLimitGoalScalesHeapOverheads: the unused room in spans and the span structures grow
// and shrink with the heap, and the runtime computes the memory-limit goal from the non-heap
// memory of the moment. The window's heap is 150 MiB of objects with 15 MiB unused and 3 MiB of
// span structures (12% of the heap); under a 180 MiB limit the heap is near the goal, g, smaller
// than the window's, and the non-heap memory is 17 MiB fixed + 12% of g: g = (180 − 17 − 0.12 g)
// less 3%.
func TestMemoryLimitGoalScalesHeapOverheads(t *testing.T) {
	w := steady()
	w.SpanMetadataBytes = 3 * mib
	const limit = 180 * mib
	p, err := gcmodel.Predict(&w, []gcmodel.Setting{{GOGC: gcmodel.Off, MemoryLimitBytes: limit}})
	if err != nil {
		t.Fatal(err)
	}
	share := 18.0 / 150
	fixed := float64(35*mib) - share*150*mib
	g := 0.0
	for range 50 { // the runtime's own formula at the fixed point
		g = gcmodel.MemoryLimitGoal(limit, uint64(fixed+share*g), 100*mib)
	}
	if !near(float64(p[0].HeapGoalBytes), g, 2e-4) {
		t.Errorf("goal %.2f MiB, want %.2f MiB (non-heap %.2f MiB at that heap)", float64(p[0].HeapGoalBytes)/mib, g/mib, (fixed+share*g)/mib)
	}
	// Taken as fixed, the 35 MiB of the 150 MiB heap would put the goal lower (140.6 MiB).
	fixedGoal := gcmodel.MemoryLimitGoal(limit, 35*mib, 100*mib)
	if float64(p[0].HeapGoalBytes) <= fixedGoal+mib/2 {
		t.Errorf("goal %.2f MiB, no higher than with the window's non-heap memory taken as fixed (%.2f MiB)", float64(p[0].HeapGoalBytes)/mib, fixedGoal/mib)
	}
	// Without the span figure the non-heap memory is taken as fixed, as before.
	w.SpanMetadataBytes = 0
	p, _ = gcmodel.Predict(&w, []gcmodel.Setting{{GOGC: gcmodel.Off, MemoryLimitBytes: limit}})
	if float64(p[0].HeapGoalBytes) != math.Floor(fixedGoal) {
		t.Errorf("without SpanMetadataBytes: goal %d, want %v", p[0].HeapGoalBytes, fixedGoal)
	}
}
