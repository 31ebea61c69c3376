package runtimediag

import (
	"bufio"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memdiag/memdiag/internal/alonetest"
	"github.com/memdiag/memdiag/internal/appframe"
)

// The planted goroutine leaks and their quiet twin. Each line a leaked goroutine waits at carries a
// "parks: <case>" comment, so the test reads the line from this file instead of hard-coding it.

// stuckRequests is the planted handler's state: every request leaves a goroutine blocked sending
// its result on a channel nobody reads (the request gave up waiting for it).
type stuckRequests struct {
	mu  sync.Mutex
	chs []chan int
}

func (s *stuckRequests) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	ch := make(chan int)
	s.mu.Lock()
	s.chs = append(s.chs, ch)
	s.mu.Unlock()
	go func() {
		ch <- len(r.URL.Path) // parks: request
	}()
	w.WriteHeader(http.StatusAccepted) // answers without waiting for the result
}

// release reads every result, so the goroutines end.
func (s *stuckRequests) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ch := range s.chs {
		<-ch
	}
	s.chs = nil
}

// tickerLoops is the planted ticker: each call starts a goroutine ranging over a ticker nobody
// stops. quit exists only so the test can end them.
type tickerLoops struct {
	quit atomic.Bool
	wg   sync.WaitGroup
}

func (tl *tickerLoops) start() {
	tl.wg.Add(1)
	go func() {
		defer tl.wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		for range t.C { // parks: ticker
			if tl.quit.Load() {
				return
			}
		}
	}()
}

func (tl *tickerLoops) release() { tl.quit.Store(true); tl.wg.Wait() }

// workerPool is the quiet twin: a fixed pool of workers taking jobs from a channel.
type workerPool struct {
	jobs chan int
	wg   sync.WaitGroup
	sum  atomic.Int64
}

func newWorkerPool(n int) *workerPool {
	p := &workerPool{jobs: make(chan int)}
	for range n {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for j := range p.jobs {
				p.sum.Add(int64(j))
			}
		}()
	}
	return p
}

func (p *workerPool) release() { close(p.jobs); p.wg.Wait() }

// parkLine is the line of this file marked "parks: name".
func parkLine(t *testing.T, name string) int {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		if strings.HasSuffix(sc.Text(), "// parks: "+name) {
			return n
		}
	}
	t.Fatalf("no line marked parks: %s", name)
	return 0
}

// goroutineLeakMonitor is a Monitor with short intervals whose window readings are a fifth of the
// full interval apart, as at the defaults (a reading a minute, a full report every five), and its
// goroutine source.
func goroutineLeakMonitor(t *testing.T) (*Monitor, *goroutineSource) {
	full := 500 * time.Millisecond
	m := newTestMonitor(t, WithTickInterval(20*time.Millisecond), WithFullInterval(full), WithLogInterval(0))
	m.windows.step = full / 5
	if m.leaks == nil {
		t.Fatal("leak tracking is off by default")
	}
	for _, s := range m.leaks.sources {
		if g, ok := s.(*goroutineSource); ok {
			// These tests are about naming a leak, not the pause bound
			// (TestGoroutineSourcePauseBudget): on a loaded machine one stop-the-world stretched to
			// 120 ms by a descheduled thread would hold the next reading back two minutes at 0.1%.
			g.pauseBudget = 0.05
			return m, g
		}
	}
	t.Fatal("the Monitor has no goroutine source")
	return nil, nil
}

func (s *goroutineSource) readingsTaken() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.readings
}

// waitForReadings waits until the source has taken target readings, and says why not when it fails.
func waitForReadings(t *testing.T, g *goroutineSource, target int) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for g.readingsTaken() < target {
		if time.Now().After(deadline) {
			g.mu.Lock()
			defer g.mu.Unlock()
			t.Fatalf("after 2m: %d goroutine readings of %d; %d offered, %d skipped, last pause %v (measured %v), next allowed %v, last error %v",
				g.readings, target, g.scheduled, g.skipped, g.lastPause, g.pauseOK, g.next, g.lastErr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// every calls f every d until the returned stop is called.
func every(d time.Duration, f func()) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				f()
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// TestGoroutineLeakPlanted: a goroutine per request blocked on a channel nobody reads, and a
// ticker loop started per call and never stopped, are each named by function and file:line within
// three full intervals (fifteen window readings).
func TestGoroutineLeakPlanted(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real workloads for seconds")
	}
	if alonetest.Run(t) {
		return
	}
	_, thisFile, _, _ := runtime.Caller(0)
	cases := []struct {
		name, fn, wait, creator string
		plant                   func(t *testing.T) (stop func())
	}{
		{"request", "(*stuckRequests).ServeHTTP.func1", "chan send", "(*stuckRequests).ServeHTTP", func(t *testing.T) func() {
			h := &stuckRequests{}
			srv := httptest.NewServer(h)
			stop := every(5*time.Millisecond, func() {
				resp, err := srv.Client().Get(srv.URL + "/work")
				if err == nil {
					resp.Body.Close()
				}
			})
			return func() { stop(); srv.Close(); h.release() }
		}},
		{"ticker", "(*tickerLoops).start.func1", "chan receive", "(*tickerLoops).start", func(t *testing.T) func() {
			tl := &tickerLoops{}
			stop := every(10*time.Millisecond, tl.start)
			return func() { stop(); tl.release() }
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			line := parkLine(t, c.name)
			m, g := goroutineLeakMonitor(t)
			if err := m.Start(t.Context()); err != nil {
				t.Fatal(err)
			}
			stop := c.plant(t)
			defer stop()
			start := g.readingsTaken()
			var found *LeakSuspect
			for found == nil {
				if g.readingsTaken()-start > 15 {
					t.Fatalf("not named within fifteen readings; leaks %+v", m.leaks.report(time.Now()))
				}
				target := g.readingsTaken() + 1
				waitForReadings(t, g, target)
				for _, s := range m.leaks.report(time.Now()).Suspects {
					if s.Kind == LeakGoroutineGroup && s.Certainty == LeakSignificant && strings.HasSuffix(s.Culprit.Function, c.fn) {
						found = &s
						break
					}
				}
			}
			cu := found.Culprit
			if cu.File != thisFile || cu.Line != line {
				t.Errorf("culprit %s:%d, want %s:%d", cu.File, cu.Line, thisFile, line)
			}
			if !strings.Contains(found.Headline, c.wait) || !strings.Contains(found.Headline, c.fn) || !strings.HasSuffix(cu.CreatedBy, c.creator) || len(cu.Stack) == 0 {
				t.Errorf("suspect does not say what waits where: %q, created by %q, stack %v", found.Headline, cu.CreatedBy, cu.Stack)
			}
			if found.Finding != FindingGoroutineGroupGrowing || found.Unit != "goroutines" || found.PValue == nil || found.Advice == "" ||
				len(found.Series) < 8 || found.GrowthPerSecond <= 0 || found.Since.IsZero() {
				t.Errorf("incomplete suspect %+v", found)
			}
			l := m.leaks.report(time.Now())
			var group bool
			for _, gg := range l.GoroutineGroups {
				group = group || (gg.Growing && gg.Line == line && gg.Wait == c.wait)
			}
			if !group {
				t.Errorf("the growing group is not among the goroutine groups %+v", l.GoroutineGroups)
			}
			t.Logf("named after %d readings: %s", g.readingsTaken()-start, found.Headline)
		})
	}
}

// TestGoroutineLeakQuiet: a fixed pool of workers, busy, is never a suspect.
func TestGoroutineLeakQuiet(t *testing.T) {
	if testing.Short() {
		t.Skip("runs real workloads for seconds")
	}
	if alonetest.Run(t) {
		return
	}
	pool := newWorkerPool(32)
	defer pool.release()
	m, g := goroutineLeakMonitor(t)
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	var i int
	stop := every(time.Millisecond, func() { i++; pool.jobs <- i })
	defer stop()
	target := g.readingsTaken() + 30
	waitForReadings(t, g, target)
	l := m.leaks.report(time.Now())
	for _, s := range l.Suspects {
		if s.Kind == LeakGoroutineGroup || s.Kind == LeakGoroutines {
			t.Errorf("suspect on a fixed worker pool: %s", s.Headline)
		}
	}
	var pooled int
	for _, gg := range l.GoroutineGroups {
		if strings.Contains(gg.Function, "newWorkerPool") {
			pooled += gg.Count
		}
	}
	for _, gg := range l.GoroutineGroups {
		if appframe.Memdiag(gg.Function, gg.File) || strings.Contains(gg.CreatedBy, "(*Monitor)") {
			t.Errorf("memdiag's own goroutines among the groups: %+v", gg)
		}
	}
	if pooled != 32 {
		t.Errorf("the pool's groups count %d goroutines, want 32: %+v", pooled, l.GoroutineGroups)
	}
}
