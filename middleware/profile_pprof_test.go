package middleware

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memdiag/memdiag/internal/alonetest"
	"github.com/memdiag/memdiag/runtimediag"
)

// openWith writes body to a file and runs a go tool on it, failing the test when the tool
// cannot read it.
func openWith(t *testing.T, body, file string, tool ...string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), file)
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", append(append([]string{"tool"}, tool...), path)...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go tool %s %s: %v\n%.2000s", strings.Join(tool, " "), file, err, out)
	}
	return string(out)
}

// TestPprofProfilesOpenInPprof takes every named profile (with the block and mutex rates off
// first, which must be refused and name the call that enables them) and opens each with
// go tool pprof -raw.
func TestPprofProfilesOpenInPprof(t *testing.T) {
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)

	// Off: refused, naming how to turn them on. The block profile's rate cannot be read, so this
	// half holds only while nothing in the process has recorded blocking yet.
	prevMutex := runtime.SetMutexProfileFraction(0)
	if w := serve(h, "GET", testPrefix+"pprof/mutex", ""); w.Code != 409 || !strings.Contains(body(t, w), "runtime.SetMutexProfileFraction(n)") {
		t.Errorf("mutex with the fraction 0: %d %s", w.Code, body(t, w))
	}
	if runtime.SetMutexProfileFraction(-1) != 0 {
		t.Error("asking for the mutex profile turned it on")
	}
	if pprof.Lookup("block").Count() == 0 {
		if w := serve(h, "GET", testPrefix+"pprof/block", ""); w.Code != 409 || !strings.Contains(body(t, w), "runtime.SetBlockProfileRate(rate)") {
			t.Errorf("block with no record: %d %s", w.Code, body(t, w))
		}
	} else {
		t.Log("the block profile already holds records (another test turned its rate on): its refusal is not checked")
	}

	// On: something to record in each.
	runtime.SetMutexProfileFraction(1)
	runtime.SetBlockProfileRate(1)
	t.Cleanup(func() { runtime.SetMutexProfileFraction(prevMutex); runtime.SetBlockProfileRate(0) })
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 200 {
				mu.Lock()
				time.Sleep(10 * time.Microsecond)
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	for _, sp := range snapshotProfiles {
		t.Run(sp.name, func(t *testing.T) {
			t.Parallel()
			w := serve(h, "GET", testPrefix+"pprof/"+sp.name, "")
			checkHygiene(t, w)
			if w.Code != 200 {
				t.Fatalf("%d %s", w.Code, body(t, w))
			}
			out := openWith(t, body(t, w), sp.name+".pb.gz", "pprof", "-raw")
			if !strings.Contains(out, "PeriodType") || !strings.Contains(out, "Samples:") {
				t.Errorf("go tool pprof -raw shows no profile:\n%.1000s", out)
			}
		})
	}
}

// TestPprofTextAndLimits reads the text forms and checks the one-a-second limit on profiles that
// stop the world.
func TestPprofTextAndLimits(t *testing.T) {
	t.Parallel()
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	w := serve(h, "GET", testPrefix+"pprof/goroutine?debug=1", "")
	if b := body(t, w); w.Code != 200 || !strings.HasPrefix(b, "goroutine profile: total ") {
		t.Errorf("debug=1: %d %.200s", w.Code, b)
	}
	time.Sleep(stwInterval)
	w = serve(h, "GET", testPrefix+"pprof/goroutine?debug=2", "")
	if b := body(t, w); w.Code != 200 || !strings.Contains(b, "goroutine 1 [") || w.Header().Get("X-Memdiag-Note") == "" {
		t.Errorf("debug=2: %d note %q %.200s", w.Code, w.Header().Get("X-Memdiag-Note"), b)
	}
	// Within the second: another profile that stops the world, of another kind, waits.
	w = serve(h, "GET", testPrefix+"pprof/heap?gc=1", "")
	checkHygiene(t, w)
	if w.Code != 429 || w.Header().Get("Retry-After") != "1" || !strings.Contains(body(t, w), "stops the world") {
		t.Errorf("heap?gc=1 right after a dump: %d Retry-After %q %s", w.Code, w.Header().Get("Retry-After"), body(t, w))
	}
	// So does a goroutine profile of any debug level (debug=0 stops the world twice, briefly);
	// one that does not stop the world is served.
	if w := serve(h, "GET", testPrefix+"pprof/goroutine", ""); w.Code != 429 {
		t.Errorf("goroutine debug=0 right after a dump: %d, want 429", w.Code)
	}
	if w := serve(h, "GET", testPrefix+"pprof/heap", ""); w.Code != 200 {
		t.Errorf("heap right after a dump: %d", w.Code)
	}
	time.Sleep(stwInterval)
	w = serve(h, "GET", testPrefix+"pprof/heap?gc=1&debug=1", "")
	if b := body(t, w); w.Code != 200 || !strings.Contains(b, "heap profile:") || !strings.Contains(w.Header().Get("X-Memdiag-Note"), "a full GC cycle ran first") {
		t.Errorf("heap?gc=1&debug=1: %d note %q %.200s", w.Code, w.Header().Get("X-Memdiag-Note"), b)
	}
	w = serve(h, "GET", testPrefix+"pprof/", "")
	b := body(t, w)
	for _, name := range []string{"heap", "allocs", "goroutine", "block", "mutex", "threadcreate", "trace"} {
		if !strings.Contains(b, "\n"+name+": ") {
			t.Errorf("index lacks %s:\n%s", name, b)
		}
	}
	if !strings.Contains(b, "cost: ") {
		t.Errorf("index says no costs:\n%s", b)
	}
}

// TestPprofTrace takes a fresh trace and the flight recorder's window and opens both with
// go tool trace. Not parallel: the runtime allows one trace and one flight recorder per process.
func TestPprofTrace(t *testing.T) {
	if trace.IsEnabled() {
		t.Skip("a trace is already running")
	}
	if alonetest.Run(t) {
		return
	}
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	w := serve(h, "GET", testPrefix+"pprof/trace", "")
	if w.Code != 200 {
		t.Fatalf("fresh trace: %d %s", w.Code, body(t, w))
	}
	openWith(t, body(t, w), "trace.out", "trace", "-d=parsed")

	frMon := newTestMonitor(t, runtimediag.WithFlightRecorder(time.Second, 1<<20))
	h = newTestTree(t, frMon)
	time.Sleep(100 * time.Millisecond)
	w = serve(h, "GET", testPrefix+"pprof/trace", "")
	if w.Code != 200 || !strings.Contains(w.Header().Get("X-Memdiag-Note"), "flight recorder") {
		t.Fatalf("flight recorder trace: %d note %q %s", w.Code, w.Header().Get("X-Memdiag-Note"), body(t, w))
	}
	openWith(t, body(t, w), "fr.out", "trace", "-d=parsed")
}

// TestProfileStopTheWorldMeasured measures the stop-the-world of each profile at 10,000 parked
// goroutines, from /sched/pauses/total/other:seconds (pauses that are not the GC's). It only
// logs: run it with MEMDIAG_MEASURE_STW=1 for docs/performance.md.
func TestProfileStopTheWorldMeasured(t *testing.T) {
	if os.Getenv("MEMDIAG_MEASURE_STW") == "" {
		t.Skip("set MEMDIAG_MEASURE_STW=1 to measure")
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 10_000 {
		wg.Go(func() { <-stop })
	}
	defer func() { close(stop); wg.Wait() }()
	mon := newTestMonitor(t)
	for _, target := range []string{"pprof/goroutine", "pprof/goroutine?debug=1", "pprof/goroutine?debug=2", "pprof/heap", "pprof/heap?debug=1",
		"pprof/heap?gc=1", "pprof/allocs", "pprof/threadcreate", "pprof/trace?seconds=1",
		"pprof/goroutine?seconds=1", "pprof/heap?seconds=1"} {
		h := newTestTree(t, mon)
		before, beforeGC := pauses("other"), pauses("gc")
		start := time.Now()
		w := serve(h, "GET", testPrefix+target, "")
		wall := time.Since(start)
		n, total, maxP := pauseDelta(before, pauses("other"))
		gcN, gcTotal, _ := pauseDelta(beforeGC, pauses("gc"))
		t.Logf("%-26s status %d, %8d bytes, wall %10s; %d non-GC pauses, %s in all, the longest under %s; %d GC pauses, %s in all",
			target, w.Code, w.Body.Len(), wall.Round(time.Microsecond), n, total, maxP, gcN, gcTotal)
	}

}

// pauses reads /sched/pauses/total/{kind}:seconds, kind "gc" or "other".
func pauses(kind string) *metrics.Float64Histogram {
	s := []metrics.Sample{{Name: "/sched/pauses/total/" + kind + ":seconds"}}
	metrics.Read(s)
	return s[0].Value.Float64Histogram()
}

// pauseDelta is the number of pauses between two reads, their total (each counted at its bucket's
// upper bound) and the upper bound of the longest.
func pauseDelta(a, b *metrics.Float64Histogram) (n uint64, total, longest time.Duration) {
	for i := range b.Counts {
		d := b.Counts[i] - a.Counts[i]
		if d == 0 {
			continue
		}
		hi := b.Buckets[i+1]
		if math.IsInf(hi, 1) {
			hi = b.Buckets[i]
		}
		n += d
		total += time.Duration(float64(d) * hi * 1e9)
		longest = time.Duration(hi * 1e9)
	}
	return n, total, longest
}
