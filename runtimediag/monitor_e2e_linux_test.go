package runtimediag

import (
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memdiag/memdiag/internal/alonetest"
	"github.com/memdiag/memdiag/runtimediag/internal/workload"
)

// plantedProblem is one real misbehaviour run inside this test process, and what the Monitor
// must say about it.
type plantedProblem struct {
	name string
	code string   // the finding that must appear
	opts []Option // e.g. a fixture root
	// site, when the problem is allocation, is a function that must be among the top sites of the
	// report that has the finding.
	site  string
	plant func(t *testing.T) (stop func())
}

// TestMonitorSeesPlantedProblems runs a Monitor (50 ms ticks, a full report every 500 ms) against
// five real problems, one at a time, and requires the right finding within 30 s — and, for the
// allocation problem, the allocating function among the top sites of the same report.
func TestMonitorSeesPlantedProblems(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real workloads for several seconds")
	}
	if alonetest.Run(t) {
		return
	}
	// A memory limit is set for the run, so that unsetting it is the gomemlimit case's plant.
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(16 << 30))

	problems := []plantedProblem{
		{name: "goroutine leak", code: "goroutines_growing", plant: plantGoroutineLeak},
		{name: "small-object churn loop", code: "small_object_churn", site: "runtimediag.churnSmallObjects", plant: plantChurn},
		{name: "cgo leak (C heap)", code: "non_go_memory_large", plant: plantCHeapLeak},
		{name: "GOMEMLIMIT unset under a cgroup limit", code: "gomemlimit_unset_in_container",
			opts: []Option{WithRoot("../procself/testdata/cgroup-v2-nested")}, plant: plantUnsetMemoryLimit},
		{name: "thread explosion (LockOSThread, blocked)", code: "threads_high", plant: plantLockedThreads},
	}
	var table strings.Builder
	fmt.Fprintf(&table, "\n| planted problem | finding | seconds to detect | top site |\n|---|---|---|---|\n")
	for _, p := range problems {
		t.Run(p.code, func(t *testing.T) {
			secs, site := detectPlanted(t, p)
			fmt.Fprintf(&table, "| %s | `%s` | %.1f | %s |\n", p.name, p.code, secs, site)
		})
	}
	t.Log(table.String())
}

func detectPlanted(t *testing.T, p plantedProblem) (secs float64, site string) {
	if p.code == "non_go_memory_large" && raceEnabled {
		t.Skip("the race detector's shadow memory is itself non-Go memory: the control would see the finding already")
	}
	m := newTestMonitor(t, append([]Option{WithTickInterval(50 * time.Millisecond), WithFullInterval(500 * time.Millisecond),
		WithLogInterval(0)}, p.opts...)...)
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The control: the finding is not there before the problem is planted.
	if rep, err := m.Report(t.Context()); err != nil {
		t.Fatal(err)
	} else if reportHasFinding(rep, p.code) {
		t.Fatalf("%s before the problem was planted", p.code)
	}
	start := time.Now()
	stop := p.plant(t)
	defer stop()
	var last *Report
	for time.Since(start) < 30*time.Second {
		time.Sleep(20 * time.Millisecond)
		_, rep := m.Latest()
		if rep == nil || rep == last {
			continue
		}
		last = rep
		if !reportHasFinding(rep, p.code) {
			continue
		}
		if p.site == "" {
			return time.Since(start).Seconds(), ""
		}
		if s := reportTopSite(rep, p.site, 5); s != "" {
			return time.Since(start).Seconds(), s
		}
	}
	var codes []string
	if last != nil {
		for _, f := range last.Findings {
			codes = append(codes, f.Code)
		}
	}
	t.Fatalf("no %s finding (with site %q) within 30s; last report's findings: %v, sites: %v", p.code, p.site, codes, reportSites(last))
	return 0, ""
}

func reportHasFinding(r *Report, code string) bool {
	for _, f := range r.Findings {
		if f.Code == code {
			return true
		}
	}
	return false
}

// reportTopSite returns "function (share)" when fn is among the first n sites.
func reportTopSite(r *Report, fn string, n int) string {
	if r.TopAllocationSites == nil {
		return ""
	}
	for i, s := range r.TopAllocationSites.Sites {
		if i >= n {
			break
		}
		if strings.HasSuffix(s.Function, fn) {
			return fmt.Sprintf("#%d `%s` (%.0f%% of sampled bytes)", i+1, fn, 100*s.Share)
		}
	}
	return ""
}

func reportSites(r *Report) []string {
	if r == nil || r.TopAllocationSites == nil {
		return nil
	}
	var out []string
	for _, s := range r.TopAllocationSites.Sites {
		out = append(out, fmt.Sprintf("%s %.2f", s.Function, s.Share))
	}
	return out
}

// plantGoroutineLeak starts goroutines that never end on their own, a few at a time.
func plantGoroutineLeak(t *testing.T) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		tk := time.NewTicker(20 * time.Millisecond)
		defer tk.Stop()
		for range 300 { // 6,000 goroutines over 6 s at most
			select {
			case <-done:
				return
			case <-tk.C:
			}
			for range 20 {
				wg.Go(func() { <-done })
			}
		}
	})
	return func() { close(done); wg.Wait() }
}

type e2eChurnNode struct {
	next *e2eChurnNode
	v    int
}

var e2eChurnSink *e2eChurnNode

// churnSmallObjects allocates 16-byte objects as fast as it can until done: millions a second,
// each garbage at once.
//
//go:noinline
func churnSmallObjects(done <-chan struct{}) {
	for {
		for range 10_000 {
			e2eChurnSink = &e2eChurnNode{next: e2eChurnSink, v: 1}
			e2eChurnSink.next = nil
		}
		select {
		case <-done:
			return
		default:
		}
	}
}

func plantChurn(t *testing.T) func() {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { churnSmallObjects(done) })
	return func() { close(done); wg.Wait() }
}

// plantCHeapLeak mallocs 160 MiB through cgo and writes it, so that it is resident.
func plantCHeapLeak(t *testing.T) func() {
	if !workload.Available {
		t.Skip(workload.ErrNoCgo)
	}
	h, err := workload.Malloc(160, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	return h.Free
}

// plantLockedThreads parks goroutines locked to their OS threads, enough for threads_high whatever
// GOMAXPROCS; when they end still locked, their threads exit with them.
func plantLockedThreads(t *testing.T) func() {
	n := max(64, 8*runtime.GOMAXPROCS(0)) + 32
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			runtime.LockOSThread()
			<-done
		})
	}
	return func() { close(done); wg.Wait() }
}

// plantUnsetMemoryLimit removes GOMEMLIMIT (the run sets one), with the Monitor reading a fixture root
// whose cgroup limits memory to 256 MiB: the /proc and cgroup sources come from the fixture
// (statm, smaps and the rest are not recorded there and say so), the runtime ones from this
// process.
func plantUnsetMemoryLimit(*testing.T) func() {
	prev := debug.SetMemoryLimit(math.MaxInt64)
	return func() { debug.SetMemoryLimit(prev) }
}
