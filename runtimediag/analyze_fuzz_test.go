package runtimediag

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"

	"github.com/memdiag/memdiag/procself"
	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

// FuzzAnalyze feeds Analyze random snapshots: counters in any order (a restart between the
// snapshots), histograms whose buckets do not match each other or their counts, zero and negative
// windows, NaN and infinite CPU figures, zero denominators. The report must never panic, never hold
// NaN or an infinity (encoding/json refuses them) and never give a negative rate.
func FuzzAnalyze(f *testing.F) {
	f.Add(uint64(1), uint64(2), int64(1e9), false)
	f.Add(uint64(3), uint64(3), int64(0), true)
	f.Add(uint64(7), uint64(1), int64(-5e8), false)
	f.Fuzz(func(t *testing.T, seedA, seedB uint64, windowNanos int64, noPrev bool) {
		rng := rand.New(rand.NewPCG(seedA, seedB))
		base := time.Unix(1_700_000_000, 0)
		prev := randomSnapshot(rng, base)
		cur := randomSnapshot(rng, base.Add(time.Duration(windowNanos)))
		in := AnalyzeInput{Prev: prev, Cur: cur, RSS: randomRSS(rng)}
		if noPrev {
			in.Prev = nil
		}
		for range rng.IntN(8) {
			in.History = append(in.History, Point{Time: base.Add(time.Duration(rng.Int64N(1e10))),
				ResidentBytes: rng.Uint64N(1 << 34), HeapLiveBytes: rng.Uint64N(1 << 34), Goroutines: rng.Uint32()})
		}
		r := Analyze(in)
		if _, err := json.Marshal(r); err != nil {
			t.Fatalf("report does not marshal: %v", err)
		}
		checkFinite(t, reflect.ValueOf(r.Efficiency), "efficiency")
		e := r.Efficiency
		for name, v := range map[string]float64{"alloc bytes/s": e.AllocBytesPerSecond, "alloc objects/s": e.AllocObjectsPerSecond,
			"gc cycles/s": e.GCCyclesPerSecond, "forced/s": e.ForcedGCCyclesPerSecond, "gc cpu": e.GCCPUFraction, "busy": e.BusyCores, "churn": e.Churn} {
			if v < 0 {
				t.Errorf("%s = %v < 0", name, v)
			}
		}
		for _, fd := range r.Findings {
			checkFinite(t, reflect.ValueOf(fd.Evidence), fd.Code)
		}
	})
}

func checkFinite(t *testing.T, v reflect.Value, path string) {
	t.Helper()
	switch v.Kind() {
	case reflect.Float64:
		if x := v.Float(); math.IsNaN(x) || math.IsInf(x, 0) {
			t.Errorf("%s = %v", path, x)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				checkFinite(t, v.Field(i), path+"."+v.Type().Field(i).Name)
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			checkFinite(t, v.Index(i), path)
		}
	case reflect.Pointer:
		if !v.IsNil() {
			checkFinite(t, v.Elem(), path)
		}
	}
}

func randomFloat(rng *rand.Rand) float64 {
	switch rng.IntN(8) {
	case 0:
		return math.NaN()
	case 1:
		return math.Inf(1)
	case 2:
		return 0
	case 3:
		return -rng.Float64() * 100
	}
	return rng.Float64() * 1e4
}

func randomHistogram(rng *rand.Rand) Histogram {
	n := rng.IntN(6)
	h := Histogram{Counts: make([]uint64, n)}
	for i := range h.Counts {
		h.Counts[i] = rng.Uint64N(1000)
	}
	nb := n + 1
	if rng.IntN(4) == 0 {
		nb = rng.IntN(8) // mismatched with the counts
	}
	x := -1.0
	for i := range nb {
		switch {
		case i == 0 && rng.IntN(2) == 0:
			h.Buckets = append(h.Buckets, math.Inf(-1))
		case i == nb-1 && rng.IntN(2) == 0:
			h.Buckets = append(h.Buckets, math.Inf(1))
		default:
			x += rng.Float64() * 40000
			h.Buckets = append(h.Buckets, x)
		}
	}
	return h
}

func randomSnapshot(rng *rand.Rand, t time.Time) *Snapshot {
	u := func() uint64 {
		if rng.IntN(5) == 0 {
			return 0
		}
		return rng.Uint64N(1 << 40)
	}
	s := &Snapshot{Time: t, Requested: SourceSet(rng.Uint32()) & AllSources}
	m := &s.Runtime
	m.HeapObjectsBytes, m.HeapUnusedBytes, m.HeapFreeBytes, m.HeapReleasedBytes, m.HeapStacksBytes = u(), u(), u(), u(), u()
	m.TotalBytes, m.HeapAllocsBytes, m.HeapAllocsObjects, m.HeapTinyAllocsObjects = u(), u(), u(), u()
	m.HeapLiveBytes, m.HeapGoalBytes, m.ScanHeapBytes = u(), u(), u()
	m.GCCyclesTotal, m.GCCyclesForced, m.LimiterLastEnabled = u(), u(), u()
	m.GOGC = int64(rng.IntN(400)) - 1
	m.GOMEMLIMITBytes = []int64{math.MaxInt64, 0, -1, int64(u())}[rng.IntN(4)]
	m.FinalizersQueued, m.FinalizersExecuted, m.CleanupsQueued, m.CleanupsExecuted = u(), u(), u(), u()
	m.Goroutines, m.Threads, m.GOMAXPROCS = u(), u(), u()%64
	m.CPU = CPUClasses{GCMarkAssist: randomFloat(rng), GCMarkDedicated: randomFloat(rng), GCMarkIdle: randomFloat(rng),
		GCPause: randomFloat(rng), GCTotal: randomFloat(rng), Idle: randomFloat(rng), User: randomFloat(rng), Total: randomFloat(rng)}
	m.AllocsBySize, m.PausesTotalGC, m.PausesStoppingGC, m.PausesTotalOther = randomHistogram(rng), randomHistogram(rng), randomHistogram(rng), randomHistogram(rng)
	for range rng.IntN(20) {
		s.GCPauses.Recent = append(s.GCPauses.Recent, GCPause{End: t.Add(-time.Duration(rng.Int64N(1e10))), Duration: time.Duration(rng.Int64N(1e8) - 1e7)})
	}
	s.Statm.ResidentBytes = u()
	cg := &s.CgroupMemory
	cg.Present = procself.CgroupFields(rng.Uint32())
	cg.UsageBytes = u()
	cg.EffectiveLimit = procself.CgroupLimit{Bytes: u(), Unlimited: rng.IntN(3) == 0}
	cg.Limit = procself.CgroupLimit{Bytes: u()}
	cg.Stat.Present = procself.CgroupStatFields(rng.Uint32())
	cg.Stat.InactiveFileBytes = u()
	s.Limits.OpenFiles = procself.Limit{Soft: u() % 100000}
	s.FDs.Count = rng.IntN(100000)
	return s
}

func randomRSS(rng *rand.Rand) RSS {
	r := RSS{ResidentBytes: rng.Uint64N(1 << 36), LazyFreeBytes: rng.Uint64N(1 << 36)}
	for _, n := range rssattr.CategoryNames() {
		r.Categories = append(r.Categories, RSSCategory{Name: n, Bytes: rng.Uint64N(1 << 34)})
	}
	return r
}
