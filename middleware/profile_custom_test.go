package middleware

import (
	"fmt"
	"net/http/httptest"
	"reflect"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// testProfile is a profile the test process registers, as a service registers its own.
var testProfile = sync.OnceValue(func() *pprof.Profile { return pprof.NewProfile("memdiag_test_conns") })

// testSymbolTarget is a function whose address the symbol tests look up.
func testSymbolTarget() {}

// TestCustomProfileAndSymbol serves a profile registered with pprof.NewProfile (listed in the
// index, opened with go tool pprof -raw, in text with debug=1) and names an address by GET and POST.
func TestCustomProfileAndSymbol(t *testing.T) {
	t.Parallel()
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	conn := new(int)
	testProfile().Add(conn, 0)
	defer testProfile().Remove(conn)

	w := serve(h, "GET", testPrefix+"pprof/memdiag_test_conns", "")
	checkHygiene(t, w)
	if w.Code != 200 {
		t.Fatalf("custom profile: %d %s", w.Code, body(t, w))
	}
	out := openWith(t, body(t, w), "conns.pb.gz", "pprof", "-raw")
	if !strings.Contains(out, "TestCustomProfileAndSymbol") {
		t.Errorf("go tool pprof -raw does not show the stack that added the object:\n%.1500s", out)
	}
	if w := serve(h, "GET", testPrefix+"pprof/memdiag_test_conns?debug=1", ""); !strings.HasPrefix(body(t, w), "memdiag_test_conns profile: total ") {
		t.Errorf("debug=1: %d %.300s", w.Code, body(t, w))
	}
	if b := body(t, serve(h, "GET", testPrefix+"pprof/", "")); !strings.Contains(b, "\nmemdiag_test_conns: ") || !strings.Contains(b, testPrefix+"pprof/memdiag_test_conns") {
		t.Errorf("the index does not list the registered profile:\n%s", b)
	}
	if b := body(t, serve(h, "GET", testPrefix+"pprof/nosuch", "")); !strings.Contains(b, "memdiag_test_conns") {
		t.Errorf("a 404 for an unregistered profile does not list the registered ones: %s", b)
	}

	pc := reflect.ValueOf(testSymbolTarget).Pointer()
	want := fmt.Sprintf("%#x %s\n", pc, runtime.FuncForPC(pc).Name())
	w = serve(h, "GET", testPrefix+fmt.Sprintf("pprof/symbol?%#x+0", pc), "")
	if b := body(t, w); w.Code != 200 || !strings.HasPrefix(b, "num_symbols: 1\n") || !strings.Contains(b, want) {
		t.Errorf("GET symbol: %d %q, want %q", w.Code, b, want)
	}
	r := httptest.NewRequest("POST", testPrefix+"pprof/symbolz", strings.NewReader(fmt.Sprintf("%#x+%d", pc, pc)))
	r.Host, r.RemoteAddr = testHost, "127.0.0.1:1"
	r.Header.Set("Content-Type", "application/octet-stream")
	w = httptest.NewRecorder()
	h.ServeHTTP(w, r)
	checkHygiene(t, w)
	if b := body(t, w); w.Code != 200 || strings.Count(b, want) != 2 {
		t.Errorf("POST symbolz: %d %q, want %q twice", w.Code, b, want)
	}
}

//go:noinline
func allocDuringWindow() []byte { return make([]byte, 1<<20) }

var deltaSink [][]byte

// TestDeltaProfiles takes allocs?seconds=1 while allocating, and opens the delta with go tool
// pprof -raw: the window's allocations are in it, with its duration.
func TestDeltaProfiles(t *testing.T) {
	t.Parallel()
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	// One delta of a kind at a time.
	release, _, _ := h.pprof.slot("allocs?seconds").acquire(time.Second)
	if w := serve(h, "GET", testPrefix+"pprof/allocs?seconds=1", ""); w.Code != 429 {
		t.Errorf("a second allocs delta during the first: %d, want 429", w.Code)
	}
	release()
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- serve(h, "GET", testPrefix+"pprof/allocs?seconds=1", "") }()
	// Allocate through the window until the answer comes, publishing the samples with a GC
	// each time: whenever the first read was taken, some of these fall after it.
	var w *httptest.ResponseRecorder
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for w == nil {
		select {
		case w = <-done:
		case <-tick.C:
			deltaSink = append(deltaSink, allocDuringWindow())
			runtime.GC()
			deltaSink = nil
		}
	}
	checkHygiene(t, w)
	if w.Code != 200 || !strings.Contains(w.Header().Get("X-Memdiag-Note"), "a delta") {
		t.Fatalf("allocs?seconds=1: %d note %q %s", w.Code, w.Header().Get("X-Memdiag-Note"), body(t, w))
	}
	out := openWith(t, body(t, w), "allocs-delta.pb.gz", "pprof", "-raw")
	if !strings.Contains(out, "allocDuringWindow") || !strings.Contains(out, "Duration:") {
		t.Errorf("the delta lacks the window's allocations or its duration:\n%.2000s", out)
	}
}

// TestGoroutineDelta takes goroutine?seconds=1 while goroutines start, and opens it with go tool
// pprof -raw; its two reads each keep the one-a-second limit on profiles that stop the world.
func TestGoroutineDelta(t *testing.T) {
	t.Parallel()
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	stop := make(chan struct{})
	defer close(stop)
	for range 3 {
		go parkedBeforeWindow(stop) // in both reads: not in their difference
	}
	start := time.Now()
	// Wait until all three have run: a goroutine that has not run yet has only runtime.goexit in
	// its profiled stack, and would count in the second read only.
	for {
		var buf strings.Builder
		pprof.Lookup("goroutine").WriteTo(&buf, 1)
		parked := 0
		for _, rec := range strings.Split(buf.String(), "\n\n") {
			if strings.Contains(rec, "parkedBeforeWindow") {
				for _, line := range strings.Split(rec, "\n") {
					if count, _, ok := strings.Cut(line, " @ "); ok {
						n, _ := strconv.Atoi(count)
						parked += n
					}
				}
			}
		}
		if parked == 3 {
			break
		}
		if time.Since(start) > 30*time.Second {
			t.Fatalf("the goroutines started for the test have not run after 30 s:\n%s", buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	done := make(chan *httptest.ResponseRecorder)
	go func() { done <- serve(h, "GET", testPrefix+"pprof/goroutine?seconds=1", "") }()
	var w *httptest.ResponseRecorder
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for w == nil {
		select {
		case w = <-done:
		case <-tick.C:
			go parkedDuringWindow(stop)
		}
	}
	checkHygiene(t, w)
	if w.Code != 200 {
		t.Fatalf("goroutine?seconds=1: %d %s", w.Code, body(t, w))
	}
	openWith(t, body(t, w), "goroutine-delta.pb.gz", "pprof", "-raw")
	// One that had run but not yet parked has another stack than once parked: what counts is
	// the sum per function.
	p, err := profile.ParseData(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]int64{}
	for _, s := range p.Sample {
		for _, loc := range s.Location {
			for _, ln := range loc.Line {
				if n := ln.Function.Name; strings.HasSuffix(n, "parkedDuringWindow") || strings.HasSuffix(n, "parkedBeforeWindow") {
					sums[n[strings.LastIndex(n, ".")+1:]] += s.Value[0]
				}
			}
		}
	}
	if sums["parkedDuringWindow"] < 1 || sums["parkedBeforeWindow"] != 0 {
		t.Errorf("goroutines in the delta by function: %v; want those started in the window, none of those started before", sums)
	}
}

//go:noinline
func parkedDuringWindow(stop chan struct{}) { <-stop }

//go:noinline
func parkedBeforeWindow(stop chan struct{}) { <-stop }
