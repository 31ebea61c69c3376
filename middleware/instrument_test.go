package middleware

import (
	"bytes"
	"math"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// newIdleMonitor is a Monitor that is never started: Instrument needs only its route source.
func newIdleMonitor(t testing.TB) *runtimediag.Monitor {
	t.Helper()
	mon, err := runtimediag.NewMonitor()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	return mon
}

func instrument(t testing.TB, mon *runtimediag.Monitor, h http.Handler, opts ...Option) http.Handler {
	t.Helper()
	mw, err := NewInstrument(mon, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return mw(h)
}

func routeStats(t testing.TB, mon *runtimediag.Monitor, name string) runtimediag.RouteStats {
	t.Helper()
	for _, s := range mon.Routes() {
		if s.Route == name {
			return s
		}
	}
	t.Fatalf("no route %q in %v", name, routeNames(mon))
	return runtimediag.RouteStats{}
}

func routeNames(mon *runtimediag.Monitor) map[string]uint64 {
	out := map[string]uint64{}
	for _, s := range mon.Routes() {
		out[s.Route] = s.Requests
	}
	return out
}

func nop(http.ResponseWriter, *http.Request) {}

func TestInstrumentRouteNames(t *testing.T) {
	newMux := func() *http.ServeMux {
		mux := http.NewServeMux()
		mux.HandleFunc("GET /users/{id}", nop)
		mux.HandleFunc("/static/", nop)
		mux.HandleFunc("POST /items", nop)
		mux.HandleFunc("GET /files/{path...}", nop)
		return mux
	}
	requests := []struct{ method, target string }{
		{"GET", "/users/42"}, {"GET", "/users/43"}, {"GET", "/static/a/b"}, {"POST", "/items"},
		{"GET", "/files/x/y/z"}, {"GET", "/nope"}, {"DELETE", "/items"},
	}
	want := map[string]uint64{"GET /users/{id}": 2, "/static/": 1, "POST /items": 1, "GET /files/{path...}": 1, RouteUnmatched: 2}
	for _, labels := range []bool{false, true} {
		t.Run(map[bool]string{false: "after", true: "labels"}[labels], func(t *testing.T) {
			mon := newIdleMonitor(t)
			var opts []Option
			if labels {
				opts = append(opts, WithPprofLabels())
			}
			h := instrument(t, mon, newMux(), opts...)
			for _, rq := range requests {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(rq.method, rq.target, nil))
			}
			got := routeNames(mon)
			if len(got) != len(want) {
				t.Errorf("routes = %v, want %v", got, want)
			}
			for k, n := range want {
				if got[k] != n {
					t.Errorf("route %q: %d requests, want %d (all: %v)", k, got[k], n, got)
				}
			}
			in := routeStats(t, mon, "GET /users/{id}").InFlight
			if labels != (in != nil) {
				t.Errorf("in_flight known = %v, want %v (known only when routed before the handler)", in != nil, labels)
			}
		})
	}
}

func TestInstrumentRouteFuncAndOverflow(t *testing.T) {
	mon := newIdleMonitor(t)
	byHeader := func(r *http.Request) string { return r.Header.Get("X-Route") }
	h := instrument(t, mon, http.HandlerFunc(nop), WithRouteFunc(byHeader), WithMaxRoutes(2))
	for _, name := range []string{"a", "b", "a", "c", "d", ""} {
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("X-Route", name)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	got := routeNames(mon)
	want := map[string]uint64{"a": 2, "b": 1, RouteOther: 2, RouteUnmatched: 1}
	if len(got) != len(want) {
		t.Errorf("routes = %v, want %v", got, want)
	}
	for k, n := range want {
		if got[k] != n {
			t.Errorf("route %q: %d requests, want %d", k, got[k], n)
		}
	}
	// A second Instrument on the same Monitor shares the table (and its bound).
	h2 := instrument(t, mon, http.HandlerFunc(nop), WithRouteFunc(func(*http.Request) string { return "a" }))
	h2.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	if n := routeStats(t, mon, "a").Requests; n != 3 {
		t.Errorf("route a after a second Instrument: %d requests, want 3", n)
	}
}

func TestInstrumentBadOptions(t *testing.T) {
	mon := newIdleMonitor(t)
	if _, err := NewInstrument(mon, WithMaxRoutes(0)); err == nil {
		t.Error("NewInstrument(WithMaxRoutes(0)) = nil error")
	}
	if _, err := NewInstrument(nil); err == nil {
		t.Error("NewInstrument(nil) = nil error")
	}
	w := httptest.NewRecorder()
	Instrument(mon, WithMaxRoutes(0))(http.HandlerFunc(nop)).ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
	if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), "WithMaxRoutes") {
		t.Errorf("bad option served %d %q, want 500 naming the option", w.Code, w.Body.String())
	}
}

func TestInstrumentInFlight(t *testing.T) {
	mon := newIdleMonitor(t)
	const n = 8
	var entered sync.WaitGroup
	entered.Add(n)
	release := make(chan struct{})
	h := instrument(t, mon, http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		entered.Done()
		<-release
	}), WithRouteFunc(func(*http.Request) string { return "slow" }))
	var done sync.WaitGroup
	for range n {
		done.Go(func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil)) })
	}
	entered.Wait()
	if in := routeStats(t, mon, "slow").InFlight; in == nil || *in != n {
		t.Errorf("in flight while %d requests wait = %v, want %d", n, in, n)
	}
	close(release)
	done.Wait()
	s := routeStats(t, mon, "slow")
	if s.InFlight == nil || *s.InFlight != 0 || s.Requests != n {
		t.Errorf("after: in flight %v, requests %d; want 0 and %d", s.InFlight, s.Requests, n)
	}
}

func TestInstrumentLatencyHistogram(t *testing.T) {
	mon := newIdleMonitor(t)
	var d time.Duration
	h := instrument(t, mon, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { time.Sleep(d) }),
		WithRouteFunc(func(*http.Request) string { return "r" }))
	for i := range 10 {
		d = 0
		if i == 9 {
			d = 30 * time.Millisecond
		}
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil))
	}
	s := routeStats(t, mon, "r")
	if s.Requests != 10 {
		t.Fatalf("requests = %d, want 10", s.Requests)
	}
	var slow uint64
	for _, b := range s.LatencyBuckets {
		if b.UpToSeconds == 0 || b.UpToSeconds > 0.025 {
			slow += b.Count
		}
	}
	if slow != 1 {
		t.Errorf("requests over 25 ms = %d, want 1: %+v", slow, s.LatencyBuckets)
	}
	if s.LatencyP50Seconds > 0.025 || s.LatencyP99Seconds < 0.030 || s.LatencyMaxSeconds < 0.030 || s.LatencySumSeconds < 0.030 {
		t.Errorf("p50 %g, p99 %g, max %g, sum %g: want p50 ≤ 25 ms and the rest ≥ 30 ms",
			s.LatencyP50Seconds, s.LatencyP99Seconds, s.LatencyMaxSeconds, s.LatencySumSeconds)
	}
	if s.LatencyP99Seconds > 0.050 {
		t.Errorf("p99 %g: over its bucket's bound of 50 ms", s.LatencyP99Seconds)
	}
}

func TestInstrumentGCImpact(t *testing.T) {
	mon := newIdleMonitor(t)
	entered, release := make(chan struct{}), make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /slow", func(http.ResponseWriter, *http.Request) {
		entered <- struct{}{}
		<-release
	})
	mux.HandleFunc("GET /fast", nop)
	h := instrument(t, mon, mux)
	serveFast := func() {
		for range 20 {
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/fast", nil))
		}
	}
	serveFast()
	done := make(chan struct{})
	go func() {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/slow", nil))
		close(done)
	}()
	<-entered
	runtime.GC()
	close(release)
	<-done
	serveFast()
	slow, fast := routeStats(t, mon, "GET /slow"), routeStats(t, mon, "GET /fast")
	if slow.DelayedRequests != 1 || !(slow.STWSeconds > 0) {
		t.Errorf("slow route: delayed %d, stw %g s; want 1 and > 0", slow.DelayedRequests, slow.STWSeconds)
	}
	if fast.DelayedRequests != 0 || fast.STWSeconds != 0 {
		t.Errorf("fast route, never in flight during the GC: delayed %d, stw %g s; want 0", fast.DelayedRequests, fast.STWSeconds)
	}
}

var sink [][]byte

func TestInstrumentAllocByRoute(t *testing.T) {
	defer func(r int) { runtime.MemProfileRate = r }(runtime.MemProfileRate)
	runtime.MemProfileRate = 64 << 10
	mon := newIdleMonitor(t)
	mux := http.NewServeMux()
	const perRequest = 1 << 20
	mux.HandleFunc("GET /alloc", func(http.ResponseWriter, *http.Request) {
		// 1 MiB in 1 KiB objects: ~16 samples a request at this rate, so the error is not nil.
		buf := make([][]byte, 1024)
		for i := range buf {
			buf[i] = make([]byte, 1024)
		}
		sink = buf
	})
	mux.HandleFunc("GET /none", func(http.ResponseWriter, *http.Request) {})
	h := instrument(t, mon, mux)
	w := &discardWriter{}
	const n = 64
	for range n {
		h.ServeHTTP(w, httptest.NewRequest("GET", "/alloc", nil))
		h.ServeHTTP(w, httptest.NewRequest("GET", "/none", nil))
	}
	sink = nil
	// The profile publishes a cycle's allocations when the following ones complete.
	runtime.GC()
	runtime.GC()
	a, none := routeStats(t, mon, "GET /alloc"), routeStats(t, mon, "GET /none")
	if a.Alloc == nil {
		t.Fatalf("alloc route: no estimate: %s", a.AllocNote)
	}
	// The array of 1024 slice headers is 24 KiB more per request.
	want := float64(perRequest + 24<<10)
	got, rel := a.Alloc.BytesPerRequest, a.Alloc.RelativeError
	t.Logf("alloc route: %.0f B/request ± %.1f%% (%d samples at %d B), want %.0f", got, 100*rel, a.Alloc.Samples, a.Alloc.SampleRateBytes, want)
	if !(rel > 0 && rel < 0.2) {
		t.Errorf("relative error %g, want in (0, 0.2)", rel)
	}
	if math.Abs(got-want) > 4*rel*want {
		t.Errorf("estimate %.0f B/request, want %.0f within 4 standard errors (%.1f%%)", got, want, 100*rel)
	}
	if none.Alloc == nil || none.Alloc.BytesPerRequest != 0 {
		t.Errorf("allocation-free route: %+v %s, want 0 B/request", none.Alloc, none.AllocNote)
	}
}

func TestInstrumentAllocNotes(t *testing.T) {
	mon := newIdleMonitor(t)
	shared := func(http.ResponseWriter, *http.Request) {}
	mux := http.NewServeMux()
	mux.HandleFunc("/a", shared)
	mux.HandleFunc("/b", shared)
	h := instrument(t, mon, mux)
	for _, p := range []string{"/a", "/b", "/nope"} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", p, nil))
	}
	for _, s := range mon.Routes() {
		if s.Alloc != nil || s.AllocNote == "" {
			t.Errorf("route %q: alloc %+v, note %q; want no estimate and a reason", s.Route, s.Alloc, s.AllocNote)
		}
	}
}

func TestInstrumentPprofLabels(t *testing.T) {
	mon := newIdleMonitor(t)
	var profile bytes.Buffer
	mux := http.NewServeMux()
	mux.HandleFunc("GET /labelled/{id}", func(http.ResponseWriter, *http.Request) {
		if err := pprof.Lookup("goroutine").WriteTo(&profile, 1); err != nil {
			t.Error(err)
		}
	})
	h := instrument(t, mon, mux, WithPprofLabels())
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/labelled/7", nil))
	if want := `"route":"GET /labelled/{id}"`; !strings.Contains(profile.String(), want) {
		t.Errorf("goroutine profile taken in the handler has no %s", want)
	}
	profile.Reset()
	pprof.Lookup("goroutine").WriteTo(&profile, 1)
	if strings.Contains(profile.String(), `"route":`) {
		t.Error("a route label outlived its request")
	}
}

func TestCPUByRouteOnARealProfile(t *testing.T) {
	mon := newIdleMonitor(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /busy", func(http.ResponseWriter, *http.Request) {
		for deadline := time.Now().Add(20 * time.Millisecond); time.Now().Before(deadline); {
			for range 1000 {
				sink = append(sink[:0], make([]byte, 256))
			}
		}
	})
	h := instrument(t, mon, mux, WithPprofLabels())
	var prof bytes.Buffer
	if err := pprof.StartCPUProfile(&prof); err != nil {
		t.Skip("a CPU profile is already running:", err)
	}
	for range 40 {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/busy", nil))
	}
	pprof.StopCPUProfile()
	sink = nil
	data := prof.Bytes()
	byRoute, err := CPUByRoute(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c, ok := byRoute["GET /busy"]
	t.Logf("GET /busy: %+v", c)
	if !ok || c.CPUSeconds < 0.05 || c.AllocCPUSeconds <= 0 || c.AllocCPUSeconds > c.CPUSeconds || c.AssistCPUSeconds > c.AllocCPUSeconds {
		t.Errorf("GET /busy in a profile of 800 ms of its allocating loop: %+v (found %v)", c, ok)
	}
	if note, err := noteCPUProfile(mon, data); err != nil || note != "" {
		t.Fatalf("noteCPUProfile: note %q, error %v", note, err)
	}
	if s := routeStats(t, mon, "GET /busy"); s.CPU == nil || s.CPU.CPUSeconds != c.CPUSeconds {
		t.Errorf("RouteStats.CPU = %+v, want %+v", s.CPU, c)
	}
	if _, err := CPUByRoute(strings.NewReader("not a profile")); err == nil {
		t.Error("CPUByRoute of garbage: nil error")
	}
}

// discardWriter is a ResponseWriter that allocates nothing.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header {
	if w.h == nil {
		w.h = http.Header{}
	}
	return w.h
}
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

func TestInstrumentAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	mon := newIdleMonitor(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /static", nop)
	mux.HandleFunc("GET /users/{id}", nop)
	for _, tc := range []struct {
		name   string
		target string
		opts   []Option
	}{
		{"pattern", "/static", nil},
		{"wildcard pattern", "/users/7", nil},
		{"labels", "/static", []Option{WithPprofLabels()}},
		{"route func", "/users/7", []Option{WithRouteFunc(func(*http.Request) string { return "users" }), WithPprofLabels()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := instrument(t, mon, mux, tc.opts...)
			r := httptest.NewRequest("GET", tc.target, nil)
			w := &discardWriter{}
			h.ServeHTTP(w, r)
			bare := testing.AllocsPerRun(1000, func() { mux.ServeHTTP(w, r) })
			got := testing.AllocsPerRun(1000, func() { h.ServeHTTP(w, r) })
			if got != bare {
				t.Errorf("instrumented: %g allocs/request, bare mux: %g; want no more", got, bare)
			}
		})
	}
}
