package bench

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
)

var sink []byte

func TestMeasureReportsUnits(t *testing.T) {
	r := testing.Benchmark(func(b *testing.B) {
		Measure(b)
		for b.Loop() {
			sink = make([]byte, 64)
		}
	})
	for _, u := range []string{UnitFracAllocs, UnitFracBytes, UnitGCCycles, UnitSTW, UnitSTWPauses, UnitPeakHeap, UnitRetainedHeap} {
		if _, ok := r.Extra[u]; !ok {
			t.Errorf("%s not reported: %v", u, r.Extra)
		}
	}
	_, rss := r.Extra[UnitResidentGrowth]
	if rss != (runtime.GOOS == "linux") {
		t.Errorf("%s reported %v on %s", UnitResidentGrowth, rss, runtime.GOOS)
	}
	if raceEnabled {
		return
	}
	// One 64-byte object per iteration, plus a few of the testing package's per run.
	if got := r.Extra[UnitFracAllocs]; got < 1 || got > 1+64/float64(r.N) {
		t.Errorf("%s = %v, want 1 up to %v", UnitFracAllocs, got, 1+64/float64(r.N))
	}
	if got := r.Extra[UnitFracBytes]; got < 64 || got > 64+16384/float64(r.N) {
		t.Errorf("%s = %v, want 64 and a little", UnitFracBytes, got)
	}
}

func TestStartStopExact(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	w := Start()
	for range 1000 {
		sink = make([]byte, 48)
	}
	r := w.Stop(1000)
	if r.AllocsPerOp != 1 || r.BytesPerOp != 48 {
		t.Errorf("got %v allocs/op %v B/op, want exactly 1 and 48", r.AllocsPerOp, r.BytesPerOp)
	}
}

// TestSTWPausesCounted proves stw-pauses/op counts a stop-the-world per call exactly, where
// stw-ns/op would only say "more".
func TestSTWPausesCounted(t *testing.T) {
	var ms runtime.MemStats
	w := Start()
	for range 100 {
		runtime.ReadMemStats(&ms)
	}
	r := w.Stop(100)
	// 100 ReadMemStats pauses; a GC cycle the runtime forced meanwhile would add 2.
	if r.STWPausesPerOp < 1 || r.STWPausesPerOp > 1.02 {
		t.Errorf("STWPausesPerOp = %v, want 1 (100 ReadMemStats over 100 ops)", r.STWPausesPerOp)
	}
	w = Start()
	r = w.Stop(100)
	if r.STWPausesPerOp > 0.02 {
		t.Errorf("STWPausesPerOp = %v for an empty window, want 0", r.STWPausesPerOp)
	}
}

func TestAssertAllocs(t *testing.T) {
	AssertAllocs(t, 0, func() {})
	AssertAllocs(t, 1, func() { sink = make([]byte, 8) })
	ft := &fakeTB{TB: t}
	func() {
		defer func() { recover() }()
		AssertAllocs(ft, 0, func() { sink = make([]byte, 8) })
	}()
	if !raceEnabled && !strings.Contains(ft.errors, "allocates 1 objects per call, budget 0") {
		t.Errorf("errors = %q", ft.errors)
	}
}

type fakeTB struct {
	testing.TB
	errors string
}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.errors += strings.TrimSpace(strings.ReplaceAll(fmt.Sprintf(format, args...), "\n", " "))
}
func (f *fakeTB) Logf(string, ...any) {}
func (f *fakeTB) Helper()             {}
func (f *fakeTB) Skip(...any)         { panic("skip") }

func TestHeader(t *testing.T) {
	var b bytes.Buffer
	if err := Header(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{
		"Unit allocs/op assume=exact better=lower\n",
		"Unit frac-allocs/op assume=exact better=lower\n",
		"Unit ns/op better=lower\n",
		"goversion: " + runtime.Version() + "\n",
		"gomaxprocs: ",
		"gogc: ",
		"gomemlimit: ",
		"goexperiment: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("header lacks %q:\n%s", want, out)
		}
	}
}

// BenchmarkMeasureOverhead is the cost Measure adds to each run of a benchmark function:
// two windows' worth of metric reads, the statm reads and the forced GC at the end.
func BenchmarkMeasureOverhead(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		w := Start()
		w.Stop(1)
	}
}

// BenchmarkReadOnly is one reading, the part of the overhead at each edge of the window.
func BenchmarkReadOnly(b *testing.B) {
	m := newMeter()
	m.read(&m.start)
	b.ReportAllocs()
	for b.Loop() {
		m.read(&m.end)
	}
}

// TestAssertAllocsFreshProcess runs AssertAllocs as the first thing a process does, with other
// goroutines allocating all the while: the two things that once made it fail on correct code
// (runtime/metrics initialising itself inside the window, other goroutines' allocations counted).
func TestAssertAllocsFreshProcess(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts differ under the race detector")
	}
	if os.Getenv(freshChildEnv) == "1" {
		return // the child's work is done in TestMain
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestAssertAllocsFreshProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), freshChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("AssertAllocs failed on functions within their budgets in a fresh process: %v\n%s", err, out)
	}
}
