package runtimediag

import (
	"bufio"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/memdiag/memdiag/internal/alonetest"
)

// The planted leaks and their quiet twins. Each allocating line carries a "planted:" comment
// naming its case, so the test reads the line numbers from this file instead of hard-coding them.

var plantedMu sync.Mutex // guards the planted structures, so a stop can release them

var leakCache = map[int][]byte{}

// leakMapCache puts an entry in a map-backed cache that never evicts.
func leakMapCache(i int) {
	v := make([]byte, 64<<10) // planted: map cache
	plantedMu.Lock()
	leakCache[i] = v // planted: map cache
	plantedMu.Unlock()
}

var leakSlice [][]byte

// leakAppendSlice appends to a slice that is never truncated.
func leakAppendSlice(int) {
	v := make([]byte, 64<<10) // planted: slice
	plantedMu.Lock()
	leakSlice = append(leakSlice, v) // planted: slice
	plantedMu.Unlock()
}

var warmCache = map[int][]byte{}

// warmThenPlateau fills a cache of 512 entries, then only replaces them.
func warmThenPlateau(i int) {
	v := make([]byte, 16<<10) // planted: warm cache
	plantedMu.Lock()
	warmCache[i%512] = v
	plantedMu.Unlock()
}

var steadyRing [64][]byte

// steadyServer is a request's work: a buffer of garbage and a bounded ring of recent results.
func steadyServer(i int) {
	buf := make([]byte, 32<<10) // planted: steady
	buf[0] = byte(i)
	res := make([]byte, 8<<10) // planted: steady
	plantedMu.Lock()
	steadyRing[i%len(steadyRing)] = res
	plantedMu.Unlock()
}

func releasePlanted() {
	plantedMu.Lock()
	leakCache, leakSlice, warmCache, steadyRing = map[int][]byte{}, nil, map[int][]byte{}, [64][]byte{}
	plantedMu.Unlock()
}

// plantedLines are the lines of this file marked "planted: <name>".
func plantedLines(t *testing.T, name string) []int {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []int
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.HasSuffix(sc.Text(), "// planted: "+name) {
			lines = append(lines, n)
		}
	}
	if len(lines) == 0 {
		t.Fatalf("no line marked planted: %s", name)
	}
	return lines
}

// runPlanted calls work(i) every interval until stop, and runs a GC every few calls so that the
// profile's in-use figures (published at each GC) move on whatever the load. It returns stop.
func runPlanted(work func(int), every time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-t.C:
			}
			work(i)
			if i%16 == 15 {
				runtime.GC()
			}
		}
	}()
	return func() { close(done); wg.Wait(); releasePlanted(); runtime.GC() }
}

// heapLeakMonitor is a Monitor with short intervals: a full report every 500 ms, a window reading
// every 100 ms (a fifth of it, as at the defaults).
func heapLeakMonitor(t *testing.T, opts ...Option) (*Monitor, *heapSource) {
	m := newTestMonitor(t, append([]Option{WithTickInterval(20 * time.Millisecond), WithFullInterval(500 * time.Millisecond), WithLogInterval(0)}, opts...)...)
	if m.windows.step != 100*time.Millisecond {
		t.Fatalf("window step %s, want a fifth of the full interval", m.windows.step)
	}
	if m.leaks == nil || len(m.leaks.sources) == 0 {
		t.Fatal("leak tracking is off by default")
	}
	h, ok := m.leaks.sources[0].(*heapSource)
	if !ok {
		t.Fatalf("first leak source is %T", m.leaks.sources[0])
	}
	return m, h
}

func (h *heapSource) readingsTaken() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.readings
}

// waitReadings waits until the heap source has used n more readings than it had; the deadline
// only keeps a broken run from hanging.
func waitReadings(t *testing.T, h *heapSource, n int) {
	t.Helper()
	target := h.readingsTaken() + n
	waitFor(t, 2*time.Minute, "heap readings", func() bool { return h.readingsTaken() >= target })
}

// TestHeapLeakPlanted: a map cache that never evicts and a slice appended to forever are each
// named, by function and file:line, within three full intervals (fifteen window readings).
func TestHeapLeakPlanted(t *testing.T) {
	// named, and a significant trend: weak suspects come earlier
	if testing.Short() {
		t.Skip("runs real workloads for seconds")
	}
	if alonetest.Run(t) {
		return
	}
	cases := []struct {
		name, fn string
		work     func(int)
	}{
		{"map cache", "runtimediag.leakMapCache", leakMapCache},
		{"slice", "runtimediag.leakAppendSlice", leakAppendSlice},
	}
	_, thisFile, _, _ := runtime.Caller(0)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			lines := plantedLines(t, c.name)
			core, logs := observer.New(zapcore.DebugLevel)
			m, h := heapLeakMonitor(t, WithLogger(zap.New(core)))
			if err := m.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			stop := runPlanted(c.work, 2*time.Millisecond)
			defer stop()
			start := h.readingsTaken()
			var found *LeakSuspect
			for found == nil {
				if h.readingsTaken()-start > 15 {
					t.Fatalf("not named within fifteen readings; leaks %+v", m.Leaks())
				}
				waitReadings(t, h, 1)
				for _, s := range m.Leaks().Suspects {
					if s.Kind == LeakHeapSite && s.Certainty == LeakSignificant && strings.HasSuffix(s.Culprit.Function, c.fn) {
						found = &s
						break
					}
				}
			}
			cu := found.Culprit
			if cu.File != thisFile || !containsInt(lines, cu.Line) {
				t.Errorf("culprit %s:%d, want %s at one of lines %v", cu.File, cu.Line, thisFile, lines)
			}
			if len(cu.Stack) == 0 || !strings.Contains(strings.Join(cu.Stack, "\n"), c.fn) {
				t.Errorf("stack %v does not hold %s", cu.Stack, c.fn)
			}
			if found.Finding != FindingHeapGrowingAtSite || found.Headline == "" || found.Advice == "" || len(found.Series) < 5 || found.GrowthPerSecond <= 0 {
				t.Errorf("incomplete suspect %+v", found)
			}
			t.Logf("named after %d readings: %s", h.readingsTaken()-start, found.Headline)

			// The finding's Warn line, once: a few more reports must not repeat it.
			appeared := func() (n int) {
				for _, e := range linesWith(logs, LogMessageFinding) {
					c := e.ContextMap()
					if c[fieldFindingCode] == FindingHeapGrowingAtSite && c[fieldTransition] == TransitionAppeared {
						if e.Level != zapcore.WarnLevel {
							t.Errorf("appeared at %s, want warn", e.Level)
						}
						n++
					}
				}
				return n
			}
			waitFor(t, 2*time.Minute, "the heap_growing_at_site Warn line", func() bool { return appeared() > 0 })
			waitReadings(t, h, 10)
			if n := appeared(); n != 1 {
				t.Errorf("%d appeared lines for one suspect, want 1", n)
			}
			// And the suspect's own line, naming the culprit, once.
			named := 0
			for _, e := range linesWith(logs, LogMessageLeakSuspect) {
				f := e.ContextMap()
				if culprit, _ := f[fieldLeakCulprit].(string); f[fieldTransition] == TransitionAppeared && strings.Contains(culprit, c.fn) && e.Level == zapcore.WarnLevel {
					named++
				}
			}
			if named != 1 {
				t.Errorf("%d Warn lines name %s as an appeared suspect, want 1", named, c.fn)
			}
		})
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestHeapLeakQuiet: a cache that warms up then plateaus stops being a suspect, and a steady
// workload never is one: zero suspects once the series are long.
func TestHeapLeakQuiet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real workloads for seconds")
	}
	if alonetest.Run(t) {
		return
	}
	cases := []struct {
		name string
		work func(int)
	}{
		{"warm cache", warmThenPlateau},
		{"steady", steadyServer},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m, h := heapLeakMonitor(t)
			if err := m.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			start := h.readingsTaken()
			stop := runPlanted(c.work, 2*time.Millisecond)
			defer stop()
			// Long enough for the warm-up (512 entries, about 1 s on an idle machine, several on a
			// loaded one) to be the older part of the series: at least 40 readings, and twice as
			// many after the cache is full as it took to fill. Not once: the site's heap in use goes
			// on rising after the cache is full, by the replaced entries no GC has freed yet (8 MiB
			// of entries read 12-13 MiB in use), and under -count=20 on a loaded machine that rise
			// still filled the recent half of a series only as long again as the warm-up.
			warm := 0
			if c.name == "warm cache" {
				waitFor(t, 2*time.Minute, "the warm cache full", func() bool {
					plantedMu.Lock()
					defer plantedMu.Unlock()
					return len(warmCache) == 512
				})
				warm = h.readingsTaken() - start
			}
			waitReadings(t, h, max(40-warm, 2*warm))
			for _, s := range m.Leaks().Suspects {
				if s.Kind == LeakHeapSite {
					var v []string
					for _, p := range s.Series {
						v = append(v, strconv.Itoa(int(p.Value)>>10))
					}
					t.Errorf("suspect on a quiet workload: %s; series (KiB) %s", s.Headline, strings.Join(v, " "))
				}
			}
		})
	}
}
