package benchmarks

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/memdiag/memdiag/middleware"
	"github.com/memdiag/memdiag/runtimediag"
)

// The Instrument benchmarks serve one request through a ServeMux with a handful of routes: bare,
// under memdiag's Instrument (the pattern read after the handler; with WithPprofLabels, routed
// before it too), and under client_golang's InstrumentHandlerDuration + InstrumentHandlerCounter
// with code and method labels, the usual promhttp pairing. All in one run, so that the ratio is
// measured on one machine state:
//
//	go test -run '^$' -bench 'Instrument' -count 6 . | benchstat -

func benchMux() *http.ServeMux {
	mux := http.NewServeMux()
	h := func(http.ResponseWriter, *http.Request) {}
	for _, p := range []string{"GET /users/{id}", "GET /static", "POST /items", "/assets/", "GET /a/b/c"} {
		mux.HandleFunc(p, h)
	}
	return mux
}

// nopWriter allocates nothing, so that allocations counted are the middleware's.
type nopWriter struct{ h http.Header }

func (w *nopWriter) Header() http.Header         { return w.h }
func (w *nopWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *nopWriter) WriteHeader(int)             {}

func benchServe(b *testing.B, h http.Handler, target string) {
	r := httptest.NewRequest("GET", target, nil)
	w := &nopWriter{h: http.Header{}}
	h.ServeHTTP(w, r)
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func instrumented(b *testing.B, opts ...middleware.Option) http.Handler {
	mon, err := runtimediag.NewMonitor()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { mon.Close() })
	mw, err := middleware.NewInstrument(mon, opts...)
	if err != nil {
		b.Fatal(err)
	}
	return mw(benchMux())
}

func promInstrumented() http.Handler {
	reg := prometheus.NewRegistry()
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "http_request_duration_seconds", Buckets: prometheus.DefBuckets}, []string{"code", "method"})
	cnt := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "http_requests_total"}, []string{"code", "method"})
	reg.MustRegister(dur, cnt)
	return promhttp.InstrumentHandlerDuration(dur, promhttp.InstrumentHandlerCounter(cnt, benchMux()))
}

func BenchmarkInstrument(b *testing.B) {
	for _, target := range []string{"/static", "/users/42"} {
		b.Run("target="+target, func(b *testing.B) {
			b.Run("handler=bare", func(b *testing.B) { benchServe(b, benchMux(), target) })
			b.Run("handler=memdiag", func(b *testing.B) { benchServe(b, instrumented(b), target) })
			b.Run("handler=memdiag-labels", func(b *testing.B) { benchServe(b, instrumented(b, middleware.WithPprofLabels()), target) })
			b.Run("handler=promhttp", func(b *testing.B) { benchServe(b, promInstrumented(), target) })
		})
	}
}

// BenchmarkInstrumentParallel is the same under contention: every goroutine on one route, its
// counters shared.
func BenchmarkInstrumentParallel(b *testing.B) {
	for _, c := range []struct {
		name string
		h    func() http.Handler
	}{
		{"bare", func() http.Handler { return benchMux() }},
		{"memdiag", func() http.Handler { return instrumented(b) }},
		{"promhttp", promInstrumented},
	} {
		b.Run("handler="+c.name, func(b *testing.B) {
			h := c.h()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				r := httptest.NewRequest("GET", "/static", nil)
				w := &nopWriter{h: http.Header{}}
				for pb.Next() {
					h.ServeHTTP(w, r)
				}
			})
		})
	}
}
