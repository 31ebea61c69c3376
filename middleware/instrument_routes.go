package middleware

import (
	"context"
	"net/http"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// Route names that are not patterns.
const (
	RouteOther     = "other"     // routes past WithMaxRoutes
	RouteUnmatched = "unmatched" // requests that no pattern or route function named
)

// route is one route's counters. Each route is its own allocation, so that two busy routes do not
// share cache lines; the requests of one route do, which is the price of exact counts.
type route struct {
	name     string
	labelled context.Context
	inFlight atomic.Int64
	// early is set once the route was named before its handler ran: only then is inFlight
	// meaningful.
	early    atomic.Bool
	latency  latencyHistogram
	delayed  atomic.Uint64
	stwNanos atomic.Int64

	// frames are the handler functions whose stacks are this route's allocations; guarded by
	// routeTable.mu.
	frames []string
}

func (rt *route) observe(d time.Duration) { rt.latency.observe(d) }

// routeTable is the routes of one Monitor. Lookups read a copy-on-write map without a lock or an
// allocation; a new route copies the map under mu, which happens at most maxRoutes times.
type routeTable struct {
	max       int
	routes    atomic.Pointer[map[string]*route]
	full      atomic.Bool // max routes named: unknown names go to other without taking mu
	other     *route
	unmatched *route
	gc        gcWatch

	mu    sync.Mutex
	order []*route // in the order first seen
	alloc allocAttribution
	cpu   cpuAttribution
}

func newRouteTable(max int) *routeTable {
	t := &routeTable{max: max, other: newRoute(RouteOther), unmatched: newRoute(RouteUnmatched)}
	m := map[string]*route{}
	t.routes.Store(&m)
	t.gc.init()
	t.alloc.baseline()
	return t
}

func newRoute(name string) *route { return &route{name: name, labelled: labelsFor(name)} }

// lookup finds or adds the route called name. mux and r, when given, let a new route learn its
// handler function for allocation attribution.
func (t *routeTable) lookup(name string, mux *http.ServeMux, r *http.Request) *route {
	if name == "" {
		return t.unmatched
	}
	if rt, ok := (*t.routes.Load())[name]; ok {
		return rt
	}
	if t.full.Load() {
		return t.other
	}
	return t.add(name, mux, r)
}

func (t *routeTable) add(name string, mux *http.ServeMux, r *http.Request) *route {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := *t.routes.Load()
	if rt, ok := old[name]; ok {
		return rt
	}
	if len(old) >= t.max {
		t.full.Store(true)
		return t.other
	}
	rt := newRoute(name)
	if mux != nil && r != nil {
		if h, pattern := mux.Handler(r); pattern == name {
			rt.frames = handlerFrames(h)
		}
	}
	m := make(map[string]*route, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	m[name] = rt
	t.order = append(t.order, rt)
	t.routes.Store(&m)
	return rt
}

// handlerFrames names the functions a handler's stack frames carry: the function of a
// HandlerFunc, or the ServeHTTP method of any other handler type.
func handlerFrames(h http.Handler) []string {
	if f, ok := h.(http.HandlerFunc); ok {
		if fn := runtime.FuncForPC(reflect.ValueOf(f).Pointer()); fn != nil {
			return []string{fn.Name()}
		}
		return nil
	}
	t := reflect.TypeOf(h)
	if t.Kind() == reflect.Pointer {
		// A value-receiver method called through a pointer shows as the method itself, not as
		// the generated (*T) wrapper.
		if _, ok := t.Elem().MethodByName("ServeHTTP"); ok {
			t = t.Elem()
		}
	}
	m, ok := t.MethodByName("ServeHTTP")
	if !ok {
		return nil
	}
	if fn := runtime.FuncForPC(m.Func.Pointer()); fn != nil {
		return []string{fn.Name()}
	}
	return nil
}

// frameShared reports frames that mean nothing for one route: net/http's own handlers.
func frameShared(name string) bool { return strings.HasPrefix(name, "net/http.") }

// Routes is the table's statistics for a report: routes in the order first seen, then other and
// unmatched when they counted anything. It reads the allocation profile (a cost that grows with
// the number of distinct allocating stacks; see runtimediag.ReadAllocProfile); a Monitor calls
// RoutesFromProfile with the reading it took for the report instead.
func (t *routeTable) Routes() []runtimediag.RouteStats { return t.RoutesFromProfile(nil) }

// RoutesFromProfile is Routes with the allocation figures taken from p, read by the caller.
func (t *routeTable) RoutesFromProfile(p *runtimediag.AllocProfile) []runtimediag.RouteStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	all := slices.Clone(t.order)
	for _, rt := range []*route{t.other, t.unmatched} {
		if rt.requests() > 0 {
			all = append(all, rt)
		}
	}
	out := make([]runtimediag.RouteStats, len(all))
	for i, rt := range all {
		out[i] = rt.stats()
		if c, ok := t.cpu.byRoute[rt.name]; ok {
			out[i].CPU = &c
		}
	}
	t.alloc.fill(all, out, p)
	return out
}

func (rt *route) requests() uint64 { return rt.latency.requests() }

func (rt *route) stats() runtimediag.RouteStats {
	s := runtimediag.RouteStats{
		Route:           rt.name,
		STWSeconds:      time.Duration(rt.stwNanos.Load()).Seconds(),
		DelayedRequests: rt.delayed.Load(),
	}
	if rt.early.Load() {
		n := rt.inFlight.Load()
		s.InFlight = &n
	}
	rt.latency.fill(&s)
	return s
}
