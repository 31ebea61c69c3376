package runtimediag

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/memdiag/memdiag/internal/alonetest"
	"github.com/memdiag/memdiag/runtimediag/internal/workload"
	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

// The mapping timeline's end-to-end tests run a Monitor (a full reading every 250 ms) against a
// real leak planted in this process. The leak takes one step per full report the Monitor
// publishes, so that every reading sees it grow however loaded the machine is and however late
// the readings run; nothing here depends on how long a reading takes.

const (
	mappingE2EFullInterval = 250 * time.Millisecond
	mappingE2EMaxReadings  = 40 // a suspect later than this is a failure
)

// mappingLeakResult is what watchMappingLeak saw.
type mappingLeakResult struct {
	suspect       LeakSuspect
	readings      int // full reports published until the suspect was significant
	weakReadings  int // … until it was first shown, weak or significant (0: never weak first)
	changes       []MappingChange
	findingNamed  bool // rss_growing_heap_flat, when reported, named the mappings
	findingSeen   bool
	findingHeadln string
}

// watchMappingLeak starts a Monitor, takes one step of the leak per published full report, and
// returns once a significant mappings suspect of category whose description contains culprit is
// reported.
func watchMappingLeak(t *testing.T, category, culprit string, step func(i int)) mappingLeakResult {
	t.Helper()
	m := newTestMonitor(t, WithTickInterval(50*time.Millisecond), WithFullInterval(mappingE2EFullInterval), WithLogInterval(0))
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var res mappingLeakResult
	var last *Report
	for res.readings < mappingE2EMaxReadings {
		time.Sleep(10 * time.Millisecond)
		_, rep := m.Latest()
		if rep == nil || rep == last {
			continue
		}
		last = rep
		res.readings++
		if f := findingByCode(rep, "rss_growing_heap_flat"); f != nil {
			res.findingSeen, res.findingHeadln = true, f.Headline
			res.findingNamed = res.findingNamed || strings.Contains(f.Headline, "("+category+")")
		}
		if rep.Leaks != nil {
			for _, s := range rep.Leaks.Suspects {
				if s.Kind != LeakMappings || !strings.Contains(s.Headline, ": "+category+" grew") || !strings.Contains(s.Culprit.Description, culprit) {
					continue
				}
				if res.weakReadings == 0 {
					res.weakReadings = res.readings
				}
				if s.Certainty == LeakSignificant {
					res.suspect, res.changes = s, rep.Leaks.MappingChanges
					return res
				}
			}
		}
		step(res.readings - 1)
	}
	var got []string
	if last != nil && last.Leaks != nil {
		for _, s := range last.Leaks.Suspects {
			got = append(got, s.Certainty+" "+s.Headline+" ["+s.Culprit.Description+"]")
		}
		got = append(got, formatChanges(last.Leaks.MappingChanges))
	}
	t.Fatalf("no significant %s suspect naming %q after %d full reports; last leaks:\n%s", category, culprit, res.readings, strings.Join(got, "\n"))
	return res
}

func logMappingLeak(t *testing.T, r mappingLeakResult) {
	t.Helper()
	t.Logf("after %d full reports (shown weak after %d): %s [%s], p=%.2g", r.readings, r.weakReadings, r.suspect.Headline, r.suspect.Culprit.Description, *r.suspect.PValue)
	if r.findingSeen {
		t.Logf("rss_growing_heap_flat: %s", r.findingHeadln)
	}
}

// hasChange reports whether the timeline holds a change of the kind and class.
func hasChange(cs []MappingChange, kind string, class MappingClass) bool {
	for _, c := range cs {
		if c.Change == kind && c.Class == class {
			return true
		}
	}
	return false
}

// TestMappingLeakCHeap: C memory malloc'd in small blocks (glibc serves them from its heaps,
// not mmaps of their own) and never freed is a c_heap suspect named by the glibc heap or arena
// that grows.
func TestMappingLeakCHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Monitor over a real leak for several seconds")
	}
	if alonetest.Run(t) {
		return
	}
	if !workload.Available {
		t.Skip(workload.ErrNoCgo)
	}
	var held []*workload.CHeap
	defer func() {
		for _, h := range held {
			h.Free()
		}
	}()
	r := watchMappingLeak(t, CategoryCHeap, "glibc", func(int) {
		// 2 MiB a step, in 32 KiB blocks: under glibc's mmap threshold.
		h, err := workload.Malloc(64, 32<<10)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, h)
	})
	logMappingLeak(t, r)
	if r.suspect.Unit != "bytes" || r.suspect.GrowthPerSecond <= 0 {
		t.Errorf("unit %s growth %v", r.suspect.Unit, r.suspect.GrowthPerSecond)
	}
	if !hasChange(r.changes, MappingGrew, rssattr.ClassCHeap) && !hasChange(r.changes, MappingAppeared, rssattr.ClassCHeap) {
		t.Errorf("the timeline has no c_heap change: %+v", r.changes)
	}
}

// TestMappingLeakThreads: goroutines that lock their OS thread and never exit keep a thread
// each; with cgo, every thread has a glibc stack of its own, a thread_stacks suspect.
func TestMappingLeakThreads(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Monitor over a real leak for several seconds")
	}
	if alonetest.Run(t) {
		return
	}
	if !workload.Available {
		// Without cgo the runtime allocates thread stacks itself, from the Go heap: no mapping.
		t.Skip(workload.ErrNoCgo)
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(done); wg.Wait() }()
	r := watchMappingLeak(t, CategoryThreadStacks, "thread stacks", func(int) {
		for range 2 {
			wg.Go(func() {
				runtime.LockOSThread()
				<-done // exits locked: the runtime ends the thread with it
			})
		}
	})
	logMappingLeak(t, r)
	if r.suspect.Unit != "mappings" || !strings.Contains(r.suspect.Headline, "thread stacks of") {
		t.Errorf("unit %s, headline %q", r.suspect.Unit, r.suspect.Headline)
	}
	if !hasChange(r.changes, MappingAppeared, rssattr.ClassThreadStack) {
		t.Errorf("the timeline has no thread stack that appeared: %+v", r.changes)
	}
}

// TestMappingLeakFileMapping: a file that grows, mapped again whole each time it grew (and
// written, so resident), is a file_mappings suspect named by the file's path.
func TestMappingLeakFileMapping(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Monitor over a real leak for several seconds")
	}
	if alonetest.Run(t) {
		return
	}
	p := filepath.Join(t.TempDir(), "data.db")
	f, err := os.OpenFile(p, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var mapped []byte
	defer func() {
		if mapped != nil {
			unix.Munmap(mapped)
		}
	}()
	const stepBytes = 2 << 20
	r := watchMappingLeak(t, CategoryFileMappings, p, func(i int) {
		size := int64(i+1) * stepBytes
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		// The mapping grows where it is (mremap): its touched pages stay resident and only the new
		// tail is touched. Unmapping and mapping the whole file again at every step left the
		// mapping with few resident pages until the loop had touched them all again, and under
		// load (-count=20 beside another package) a reading that fell in that loop saw the
		// resident size jump between 4 and 44 MiB: no trend in 40 reports (2 of 20 runs).
		old := len(mapped)
		if mapped == nil {
			mapped, err = unix.Mmap(int(f.Fd()), 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
		} else {
			mapped, err = unix.Mremap(mapped, int(size), unix.MREMAP_MAYMOVE)
		}
		if err != nil {
			t.Fatal(err)
		}
		for o := old; o < len(mapped); o += 4096 {
			mapped[o] = 1
		}
	})
	logMappingLeak(t, r)
	if !strings.Contains(r.suspect.Headline, "data.db") {
		t.Errorf("headline %q does not name data.db", r.suspect.Headline)
	}
}

// TestMappingLeakQuiet: a steady process — Go garbage made and collected, C memory malloc'd and
// freed, threads that come and go, warmed up — has no mapping suspect in any report over twenty
// full readings.
func TestMappingLeakQuiet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a Monitor for several seconds")
	}
	if alonetest.Run(t) {
		return
	}
	if raceEnabled {
		t.Skip("the race detector's shadow memory grows with every new address the heap touches: real other_anonymous growth")
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	defer func() { close(done); wg.Wait() }()
	// A step of steady work: C memory in and out, on whichever thread, and a thread that starts
	// and ends.
	step := func() {
		if workload.Available {
			if h, err := workload.Malloc(64, 32<<10); err == nil {
				h.Free()
			}
		}
		wg.Go(func() { runtime.LockOSThread() })
	}
	// Steady state, as a server reaches it: glibc makes an arena for each thread that first
	// mallocs, up to 8 per core, and keeps it; warm up before the Monitor watches.
	wg.Go(func() { churnSmallObjects(done) })
	for range 64 {
		step()
		time.Sleep(time.Millisecond)
	}
	m := newTestMonitor(t, WithTickInterval(50*time.Millisecond), WithFullInterval(mappingE2EFullInterval), WithLogInterval(0))
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var last *Report
	readings := 0
	for readings < 20 {
		time.Sleep(10 * time.Millisecond)
		_, rep := m.Latest()
		if rep == nil || rep == last {
			continue
		}
		last = rep
		readings++
		step()
		if rep.Leaks == nil {
			t.Fatal("a Monitor's report has no leaks section")
		}
		for _, s := range rep.Leaks.Suspects {
			if s.Kind == LeakMappings {
				t.Errorf("report %d: mapping suspect in a steady process: %s %s; series %v; timeline:\n%s",
					readings, s.Certainty, s.Headline, s.Series, formatChanges(rep.Leaks.MappingChanges))
			}
		}
	}
}

// formatChanges is the timeline, one change a line, for a failure message.
func formatChanges(cs []MappingChange) string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "  %s %s %s %q size %d→%d rss %d→%d\n", c.Time.Format("15:04:05.000"), c.Change, c.Class, c.Name,
			c.SizeBeforeBytes, c.SizeAfterBytes, c.RssBeforeBytes, c.RssAfterBytes)
	}
	return b.String()
}
