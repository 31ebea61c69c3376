package middleware

import (
	"bytes"
	"io"
	"log"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/memdiag/memdiag/internal/alonetest"
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

// TestInstrumentMisconfigured: NewInstrument refuses a nil Monitor, a bad option and a Handler
// option at construction; Instrument, given the same, never turns them into application errors —
// it logs once and passes every request through, answered by the application as it would be.
func TestInstrumentMisconfigured(t *testing.T) {
	mon := newIdleMonitor(t)
	for name, tc := range map[string]struct {
		mon  *runtimediag.Monitor
		opts []Option
		want []string
	}{
		"nil Monitor":     {nil, nil, []string{"nil Monitor"}},
		"bad option":      {mon, []Option{WithMaxRoutes(0)}, []string{"WithMaxRoutes"}},
		"handler option":  {mon, []Option{WithPrefix("/x/")}, []string{"WithPrefix", "Handler", "Instrument"}},
		"nil option":      {mon, []Option{nil}, []string{"nil"}},
		"authorizer":      {mon, []Option{WithAuthorizer(func(*http.Request) bool { return true })}, []string{"WithAuthorizer", "Handler"}},
		"handler options": {mon, []Option{WithMaxDuration(time.Minute)}, []string{"WithMaxDuration"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewInstrument(tc.mon, tc.opts...); err == nil {
				t.Fatal("NewInstrument accepted it")
			} else {
				for _, w := range tc.want {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q does not name %s", err, w)
					}
				}
			}
			var logged bytes.Buffer
			log.SetOutput(&logged)
			defer log.SetOutput(os.Stderr)
			mw := Instrument(tc.mon, tc.opts...)
			h := mw(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(http.StatusTeapot)
				io.WriteString(w, "the application")
			}))
			for range 3 {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
				if w.Code != http.StatusTeapot || w.Body.String() != "the application" {
					t.Fatalf("misconfigured Instrument answered %d %q, want the application's 418", w.Code, w.Body.String())
				}
			}
			if n := strings.Count(logged.String(), "memdiag: Instrument is misconfigured"); n != 1 {
				t.Errorf("logged %d times, want once:\n%s", n, logged.String())
			}
		})
	}
}

// TestInstrumentMisconfiguredLogsThroughMonitor: with a Monitor whose logger logs, the
// misconfiguration goes there.
func TestInstrumentMisconfiguredLogsThroughMonitor(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	mon, err := runtimediag.NewMonitor(runtimediag.WithLogger(zap.New(core)))
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	Instrument(mon, WithMaxRoutes(-1))
	if n := logs.FilterMessageSnippet("Instrument is misconfigured").FilterLevelExact(zapcore.ErrorLevel).Len(); n != 1 {
		t.Errorf("%d error lines through the Monitor's logger, want 1: %v", n, logs.All())
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
		if b.FromSeconds >= 0.025 {
			slow += b.Count
		}
	}
	if slow != 1 {
		t.Errorf("requests over 25 ms = %d, want 1: %+v", slow, s.LatencyBuckets)
	}
	if s.LatencyP50Seconds == nil || *s.LatencyP50Seconds > 0.025 || s.LatencyMaxSeconds == nil || *s.LatencyMaxSeconds < 0.030 || s.LatencySumSeconds < 0.030 {
		t.Errorf("p50 %v, max %v, sum %g: want p50 ≤ 25 ms and the rest ≥ 30 ms", deref(s.LatencyP50Seconds), deref(s.LatencyMaxSeconds), s.LatencySumSeconds)
	}
	if s.LatencyP99Seconds != nil {
		t.Errorf("p99 of 10 requests = %g, want none (too few samples)", *s.LatencyP99Seconds)
	}
}

// TestLatencyHistogramResolution: the histogram tells microsecond routes apart. Latencies from
// 1.1 µs to 90 s fall in buckets whose midpoint is within 3.2% of them, and quantiles of a known
// sample are within that bound of the exact ones — where the old fixed buckets said "500 µs" for
// anything faster.
func TestLatencyHistogramResolution(t *testing.T) {
	for _, d := range []time.Duration{1100, 1500, 2047, 2048, 7 * time.Microsecond, 114 * time.Microsecond,
		999 * time.Microsecond, 3 * time.Millisecond, 250 * time.Millisecond, 7 * time.Second, 90 * time.Second} {
		i := latencyBucket(int64(d))
		lo, hi := latencyBounds(i)
		if float64(d) < lo || float64(d) >= hi {
			t.Errorf("%s in bucket %d = [%g, %g) ns", d, i, lo, hi)
		}
		if rel := math.Abs((lo+hi)/2-float64(d)) / float64(d); rel > latMaxRelError+1e-9 {
			t.Errorf("%s: bucket midpoint %g ns is %.1f%% off", d, (lo+hi)/2, 100*rel)
		}
	}
	for i := 1; i < latBuckets; i++ {
		plo, phi := latencyBounds(i - 1)
		lo, _ := latencyBounds(i)
		if lo != phi || !(plo < phi) {
			t.Fatalf("bucket %d starts at %g, bucket %d = [%g, %g)", i, lo, i-1, plo, phi)
		}
	}

	var h latencyHistogram
	// 1000 requests from 100 µs to 199.9 µs, evenly: p50 ≈ 150 µs, p99 ≈ 199 µs.
	for i := range 1000 {
		h.observe(100*time.Microsecond + time.Duration(i)*100)
	}
	var s runtimediag.RouteStats
	h.fill(&s)
	for _, c := range []struct {
		name      string
		got       *float64
		wantNanos float64
	}{{"p50", s.LatencyP50Seconds, 149_900}, {"p99", s.LatencyP99Seconds, 198_900}, {"max", s.LatencyMaxSeconds, 199_900}} {
		if c.got == nil {
			t.Fatalf("%s: none", c.name)
		}
		if rel := math.Abs(*c.got*1e9-c.wantNanos) / c.wantNanos; rel > latMaxRelError {
			t.Errorf("%s = %g s, want %g ns within %.1f%% (%.1f%% off)", c.name, *c.got, c.wantNanos, 100*latMaxRelError, 100*rel)
		}
	}
	if s.Requests != 1000 || len(s.LatencyBuckets) == 0 || s.LatencyBuckets[len(s.LatencyBuckets)-1].UpToSeconds > 200.1e-6*1.07 {
		t.Errorf("requests %d, buckets %+v", s.Requests, s.LatencyBuckets)
	}

	var slow latencyHistogram
	slow.observe(200 * time.Second)
	var ss runtimediag.RouteStats
	slow.fill(&ss)
	if b := ss.LatencyBuckets; len(b) != 1 || !math.IsInf(b[0].UpToSeconds, 1) || ss.LatencyP50Seconds == nil || *ss.LatencyP50Seconds != 200 {
		t.Errorf("a 200 s request: buckets %+v, p50 %v; want the unbounded bucket and the request itself", b, deref(ss.LatencyP50Seconds))
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

var sink, otherSink [][]byte

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
	// Another goroutine allocates ten times what /alloc does while the requests run: none of it
	// is any route's.
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var keep [][]byte
		for {
			select {
			case <-stop:
				return
			default:
			}
			keep = append(keep[:0], make([]byte, 8<<10))
			otherSink = keep
		}
	}()
	const n = 64
	for range n {
		h.ServeHTTP(w, httptest.NewRequest("GET", "/alloc", nil))
		h.ServeHTTP(w, httptest.NewRequest("GET", "/none", nil))
	}
	close(stop)
	<-done
	sink, otherSink = nil, nil
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
	// Not "0 B ± 0%", which says nothing measured it: no sample, and the bound that supports.
	if none.Alloc != nil || !strings.Contains(none.AllocNote, "too few samples: no allocation sampled in 64 requests") {
		t.Errorf("allocation-free route: %+v %q, want no estimate and a note saying no sample fell in it", none.Alloc, none.AllocNote)
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
	if alonetest.Run(t) {
		return
	}
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

// BenchmarkLatencyObserve is the histogram's share of Instrument's cost: one observation of a
// latency between 1 µs and 10 ms.
func BenchmarkLatencyObserve(b *testing.B) {
	var h latencyHistogram
	ds := [...]time.Duration{1100, 114 * time.Microsecond, 800 * time.Microsecond, 3 * time.Millisecond, 9 * time.Millisecond}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		h.observe(ds[i%len(ds)])
		i++
	}
}
