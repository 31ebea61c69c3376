package runtimediag

import (
	"bytes"
	"compress/gzip"
	"errors"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"
)

// parkedGoroutines starts goroutines parked in known ways and returns, per wait reason, the line
// each one parks at, and a release that ends them all.
func parkedGoroutines(t *testing.T) (lines map[string]int, release func()) {
	t.Helper()
	lines = map[string]int{}
	var wg sync.WaitGroup
	done := make(chan struct{})
	ch, never := make(chan int), make(chan int)
	var mu sync.Mutex
	mu.Lock()
	here := func() int { _, _, l, _ := runtime.Caller(1); return l }
	for range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); ch <- 1 }()
	}
	lines["chan send"] = here() - 2
	wg.Add(2)
	go func() { defer wg.Done(); <-done }()
	lines["chan receive"] = here() - 1
	go func() { defer wg.Done(); mu.Lock(); mu.Unlock() }()
	lines["sync.Mutex.Lock"] = here() - 1
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-done:
		case <-never:
		}
	}()
	lines["select"] = here() - 5
	waitFor(t, 5*time.Second, "goroutines to park", func() bool {
		gs := readGroups(t)
		n := 0
		for _, g := range gs {
			if _, ok := lines[g.wait]; ok && strings.Contains(g.function, "parkedGoroutines") {
				n += g.count
			}
		}
		return n >= 6
	})
	return lines, func() {
		close(done)
		mu.Unlock()
		for range 3 {
			<-ch
		}
		wg.Wait()
	}
}

func readGroups(t *testing.T) []goroutineGroup {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 0); err != nil {
		t.Fatal(err)
	}
	gs, err := parseGoroutineProfile(&b)
	if err != nil {
		t.Fatal(err)
	}
	return gs
}

// TestParseGoroutineProfile: goroutines parked on a channel send, a receive, a mutex and a select
// are grouped by that wait, in the function and at the line they park at.
func TestParseGoroutineProfile(t *testing.T) {
	lines, release := parkedGoroutines(t)
	defer release()
	_, thisFile, _, _ := runtime.Caller(0)
	gs := readGroups(t)
	for wait, line := range lines {
		var found *goroutineGroup
		for i := range gs {
			if gs[i].wait == wait && strings.Contains(gs[i].function, "parkedGoroutines") {
				found = &gs[i]
			}
		}
		if found == nil {
			t.Errorf("no %q group in %+v", wait, gs)
			continue
		}
		if found.file != thisFile || found.line != line {
			t.Errorf("%s: blocking frame %s:%d, want %s:%d", wait, found.file, found.line, thisFile, line)
		}
		if !strings.HasSuffix(found.createdBy, "runtimediag.parkedGoroutines") || len(found.stack) == 0 {
			t.Errorf("%s: created by %q, stack %v", wait, found.createdBy, found.stack)
		}
		if wait == "chan send" && found.count != 3 {
			t.Errorf("chan send group counts %d, want 3", found.count)
		}
	}
}

func TestClassifyGoroutineWaits(t *testing.T) {
	app := goroutineFrame{"example.com/svc.handle", "/src/svc/h.go", 7}
	entry := goroutineFrame{"example.com/svc.serve", "/src/svc/s.go", 3}
	tests := []struct {
		name   string
		frames []goroutineFrame
		wait   string
	}{
		{"mutex above the semaphore", []goroutineFrame{{"runtime.gopark", "proc.go", 1}, {"runtime.semacquire1", "sema.go", 1},
			{"internal/sync.(*Mutex).lockSlow", "mutex.go", 1}, {"sync.(*Mutex).Lock", "mutex.go", 1}, app, entry}, "sync.Mutex.Lock"},
		{"bare semaphore", []goroutineFrame{{"runtime.gopark", "proc.go", 1}, {"runtime.semacquire1", "sema.go", 1}, app, entry}, "semacquire"},
		{"sleep", []goroutineFrame{{"runtime.gopark", "proc.go", 1}, {"time.Sleep", "time.go", 1}, app, entry}, "sleep"},
		{"io", []goroutineFrame{{"runtime.gopark", "proc.go", 1}, {"runtime.netpollblock", "netpoll.go", 1}, {"internal/poll.runtime_pollWait", "netpoll.go", 1}, app, entry}, "IO wait"},
		{"wait group", []goroutineFrame{{"runtime.gopark", "proc.go", 1}, {"sync.runtime_SemacquireWaitGroup", "sema.go", 1}, {"sync.(*WaitGroup).Wait", "waitgroup.go", 1}, app, entry}, "sync.WaitGroup.Wait"},
		{"parked elsewhere", []goroutineFrame{{"runtime.gopark", "proc.go", 1}, {"runtime.somethingNew", "x.go", 1}, app, entry}, "parked"},
		{"running", []goroutineFrame{app, entry}, "running"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g := classifyGoroutine(tc.frames)
			if g.wait != tc.wait || g.function != app.function || g.line != app.line || g.createdBy != entry.function {
				t.Errorf("got wait %q in %s:%d created by %s; want %q in %s:%d created by %s",
					g.wait, g.function, g.line, g.createdBy, tc.wait, app.function, app.line, entry.function)
			}
		})
	}
	for entry, want := range map[string]string{"a/b.f.func1": "a/b.f", "a/b.(*T).m.func2.3": "a/b.(*T).m", "a/b.worker": "a/b.worker", "main.main": "main.main", "func1": "func1"} {
		if got := creatorOf(entry); got != want {
			t.Errorf("creatorOf(%q) = %q, want %q", entry, got, want)
		}
	}
	if g := classifyGoroutine(nil); g.function == "" {
		t.Error("a stack without frames has no name")
	}
}

// TestParseGoroutineProfileMalformed: what is not a goroutine profile is a clear error.
func TestParseGoroutineProfileMalformed(t *testing.T) {
	var heap bytes.Buffer
	if err := pprof.Lookup("heap").WriteTo(&heap, 0); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, in, want string
	}{
		{"empty", "", "goroutine profile"},
		{"text", "not a profile\n", "goroutine profile"},
		{"garbage", "\x1f\x8b\x08garbage", "goroutine profile"},
		{"heap profile", heap.String(), "want [goroutine]"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseGoroutineProfile(strings.NewReader(tc.in))
			if err == nil || !errors.Is(err, errGoroutineProfile) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

func FuzzParseGoroutineProfile(f *testing.F) {
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 0); err != nil {
		f.Fatal(err)
	}
	f.Add(b.Bytes())
	zr, err := gzip.NewReader(bytes.NewReader(b.Bytes()))
	if err != nil {
		f.Fatal(err)
	}
	var raw bytes.Buffer
	if _, err := raw.ReadFrom(zr); err != nil {
		f.Fatal(err)
	}
	f.Add(raw.Bytes())
	f.Add([]byte{})
	f.Add([]byte("goroutine profile: total 1\n1 @ 0x1\n#\t0x1\tmain.main+0x1\t/x.go:1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		gs, err := parseGoroutineProfile(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, errGoroutineProfile) {
				t.Fatalf("error %v does not wrap errGoroutineProfile", err)
			}
			return
		}
		for i, g := range gs {
			if g.count <= 0 || g.wait == "" || g.function == "" {
				t.Fatalf("group %d: %+v", i, g)
			}
			if i > 0 && gs[i-1].count < g.count {
				t.Fatalf("groups not largest first: %d then %d", gs[i-1].count, g.count)
			}
		}
	})
}
