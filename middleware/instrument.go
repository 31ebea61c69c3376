package middleware

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"runtime/pprof"
	"time"

	"go.uber.org/zap"

	"github.com/memdiag/memdiag/runtimediag"
)

// Instrument returns a middleware that counts, per route, the requests, their latency, the
// requests in flight, the stop-the-world GC time they sat through and the heap they allocated,
// and puts the routes into the Monitor's reports (Report.Routes). Every Instrument of one Monitor
// shares one route table, bounded by the first one's WithMaxRoutes. Instrument never turns a
// misconfiguration into an application error: with a nil Monitor or a bad option it logs the
// reason once and passes every request through uninstrumented. NewInstrument returns the error
// instead, which is what a service that wants to fail at start should call.
//
// # Route names
//
// A route is named, in order: by WithRouteFunc, called before the handler (so it must name the
// route from the request as it arrives); by the ServeMux pattern that served the request; else
// "unmatched" (404s, 405s, the mux's redirects to a cleaned path). Past WithMaxRoutes distinct
// names, requests count under "other".
//
// The pattern is read from the request after the handler returns: ServeMux.ServeHTTP stores it
// in the very *http.Request it was given (r.Pattern), so a mux wrapped directly, or through
// middleware that passes the request on unchanged, costs no extra routing. A request that a
// middleware replaced on its way to the mux (r.WithContext, http.StripPrefix) carries the pattern
// on the replacement only: wrap the mux itself. Knowing the route only after the handler has run
// means no per-route in-flight count and no profiler labels; WithPprofLabels asks the mux for the
// route before the handler runs, at the cost of one more routing (measured below).
//
// # Stop-the-world
//
// A request is charged the GC cycles whose pause ended while it ran: the runtime records each
// cycle's two stop-the-world phases summed and timed at the end of the second
// (runtime/debug.ReadGCStats), so a request in flight during only the first phase (at the cycle's
// start, usually microseconds) is missed and one in flight during only the second is charged
// both. Finding the cycles costs no more than a weak pointer read per request: a sentinel object
// that only a weak pointer refers to dies in every collection, and only a request that sees it
// die reads the pause history, which is then shared until the next collection.
//
// # Allocation
//
// Heap profiles carry no labels (golang/go#23458), so allocation is attributed by stack: the
// sampled allocations whose stack holds a route's handler function (the HandlerFunc, or the
// handler type's ServeHTTP method, as the mux holds it) belong to that route. Handlers shared by
// several routes, or wrapped in one common type (a timeout or tracing handler), cannot be told
// apart and get no estimate, and neither do routes named by WithRouteFunc; RouteStats.AllocNote
// says so. The estimate is cumulative: the bytes sampled under the handler since the process
// started ÷ the route's requests since Instrument saw it first; the profile counts allocations up
// to the last completed GC cycle.
//
// # Overhead
//
// benchmarks/instrument_test.go measures it against a bare ServeMux and client_golang's
// InstrumentHandlerDuration + InstrumentHandlerCounter in one run (2-core VM, Go 1.26.8, medians
// of 6 on a loaded machine): bare 57 ns, Instrument 246 ns and no allocation, WithPprofLabels
// 539 ns, promhttp 1207 ns and 6 allocations. Two time.Now calls (about 33 ns each on that VM)
// are a third of the cost. Once per GC cycle, the first
// request after it allocates the next sentinel (three small objects) and a request that saw the
// cycle reads the pause history (a few microseconds under the heap lock).
func Instrument(mon *runtimediag.Monitor, opts ...Option) func(http.Handler) http.Handler {
	mw, err := NewInstrument(mon, opts...)
	if err != nil {
		logMisconfigured(mon, err)
		return func(next http.Handler) http.Handler { return next }
	}
	return mw
}

// logMisconfigured says, once, that Instrument passes requests through uninstrumented: through
// the Monitor's logger when it has one that logs errors, else through the standard library's
// log package, so that the misconfiguration is seen even with the default no-op logger.
func logMisconfigured(mon *runtimediag.Monitor, err error) {
	const msg = "memdiag: Instrument is misconfigured; requests pass through uninstrumented"
	if mon != nil {
		if l := mon.Logger(); l.Core().Enabled(zap.ErrorLevel) {
			l.Error(msg, zap.Error(err))
			return
		}
	}
	log.Printf("%s: %v", msg, err)
}

// NewInstrument is Instrument with a misconfiguration — a nil Monitor, a bad option, a Handler
// option, a Monitor whose route source is not Instrument's — returned as an error at
// construction.
func NewInstrument(mon *runtimediag.Monitor, opts ...Option) (func(http.Handler) http.Handler, error) {
	if mon == nil {
		return nil, fmt.Errorf("middleware: Instrument: nil Monitor")
	}
	cfg, err := newConfig(forInstrument, opts)
	if err != nil {
		return nil, err
	}
	src := mon.SetRouteSourceIfAbsent(newRouteTable(cfg.maxRoutes))
	tab, ok := src.(*routeTable)
	if !ok {
		return nil, fmt.Errorf("middleware: Instrument: the Monitor already has a route source of type %T", src)
	}
	return func(next http.Handler) http.Handler {
		in := &instrumented{next: next, tab: tab, routeFunc: cfg.routeFunc, labels: cfg.pprofLabels}
		in.mux, _ = next.(*http.ServeMux)
		return in
	}, nil
}

// WithPprofLabels makes Instrument find each request's route before its handler runs and set
// the profiler label route=<name> on the goroutine while it runs, so that CPU, goroutine and
// fgprof profiles split by route (CPUByRoute sums a CPU profile that way), and counts requests
// in flight per route. With WithRouteFunc that is free; on a ServeMux it costs one more routing
// per request (mux.Handler: ~100 ns, and a 16-byte allocation when the pattern has wildcards),
// which is why it is not the default. Labels that r.Context() carries (pprof.WithLabels) are not
// merged in: the handler's goroutine carries route alone, and after it, r.Context()'s labels, as
// pprof.Do leaves them. Goroutines the handler starts inherit the label. An Instrument option.
func WithPprofLabels() Option {
	return instrumentOption("WithPprofLabels", func(c *config) error {
		c.pprofLabels = true
		return nil
	})
}

type instrumented struct {
	next      http.Handler
	mux       *http.ServeMux // next, when it is one: asked for the route up front (WithPprofLabels)
	tab       *routeTable
	routeFunc func(*http.Request) string
	labels    bool
}

func (in *instrumented) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var rt *route
	if in.routeFunc != nil || in.labels {
		rt = in.routeBefore(r)
	}
	if rt != nil {
		if !rt.early.Load() {
			rt.early.Store(true)
		}
		rt.inFlight.Add(1)
		if in.labels {
			pprof.SetGoroutineLabels(rt.labelled)
		}
	}
	epoch := in.tab.gc.begin()
	start := time.Now()
	// Deferred, so that a handler that panics (http.ErrAbortHandler) is still counted and its
	// goroutine does not keep the route's label.
	defer func() {
		end := time.Now()
		if rt != nil {
			rt.inFlight.Add(-1)
			if in.labels {
				pprof.SetGoroutineLabels(r.Context())
			}
		} else {
			rt = in.tab.lookup(r.Pattern, in.mux, r)
		}
		rt.observe(end.Sub(start))
		if in.tab.gc.sawGC(epoch) {
			if stw := in.tab.gc.pausedWithin(start.UnixNano(), end.UnixNano()); stw > 0 {
				rt.delayed.Add(1)
				rt.stwNanos.Add(stw)
			}
		}
	}()
	in.next.ServeHTTP(w, r)
}

// routeBefore names the route before the handler runs, nil when only the handler will tell.
func (in *instrumented) routeBefore(r *http.Request) *route {
	if in.routeFunc != nil {
		if name := in.routeFunc(r); name != "" {
			return in.tab.lookup(name, nil, nil)
		}
	}
	if in.labels && in.mux != nil {
		_, pattern := in.mux.Handler(r)
		return in.tab.lookup(pattern, in.mux, r)
	}
	return nil
}

// labelsFor is the context whose profiler labels the handler's goroutine carries: made once per
// route, since pprof.WithLabels allocates and SetGoroutineLabels does not.
func labelsFor(name string) context.Context {
	return pprof.WithLabels(context.Background(), pprof.Labels("route", name))
}
