package runtimediag

import (
	"encoding/json"
	"math"
	"sync"

	"go.uber.org/zap"
)

// RouteStats is what one HTTP route of the process did, as an instrumenting middleware counted it
// (middleware.Instrument). Counters are cumulative since the route was first seen, so that a
// Prometheus exporter can export them as they are and two reports can be subtracted.
type RouteStats struct {
	// Route is the ServeMux pattern ("GET /users/{id}"), the name a route function gave, "other"
	// for routes past the cardinality bound, or "unmatched" for requests no pattern served.
	Route    string `json:"route"`
	Requests uint64 `json:"requests"`
	// InFlight is the requests of this route being served now; nil when the route was only known
	// after its handler returned (a ServeMux pattern without up-front routing), which is never a
	// silent zero.
	InFlight *int64 `json:"in_flight"`

	// Latency quantiles come from a log-linear histogram (16 buckets per power of two from
	// 1.024 µs to 137 s) as the midpoint of the bucket they fall in, never more than the slowest
	// request: within 3.1% of the true quantile in that range. Nil (JSON null) when there are too
	// few requests to say: P50 and Max with none, P99 with fewer than 100.
	LatencyP50Seconds *float64 `json:"latency_p50_seconds"`
	LatencyP99Seconds *float64 `json:"latency_p99_seconds"`
	LatencyMaxSeconds *float64 `json:"latency_max_seconds"`
	LatencySumSeconds float64  `json:"latency_sum_seconds"`
	// LatencyBuckets are the histogram's non-empty buckets, fastest first.
	LatencyBuckets []LatencyBucket `json:"latency_buckets"`

	// STWSeconds is the stop-the-world GC time this route's requests sat through, summed over
	// requests (two requests in flight during one 1 ms pause make 2 ms); DelayedRequests is how
	// many requests saw at least one pause.
	STWSeconds      float64 `json:"stw_seconds"`
	DelayedRequests uint64  `json:"delayed_requests"`

	// Alloc is the estimated heap allocation per request, from the sampled allocation profile;
	// nil when it could not be attributed (AllocNote says why).
	Alloc     *RouteAlloc `json:"alloc,omitempty"`
	AllocNote string      `json:"alloc_note,omitempty"`

	// CPU is this route's CPU time in the last CPU profile taken with route labels, nil when none
	// was.
	CPU *RouteCPU `json:"cpu,omitempty"`
}

// LatencyBucket is one bucket of a latency histogram: the requests that took at least FromSeconds
// and less than UpToSeconds. The last bucket has no upper bound: UpToSeconds is +Inf in Go and
// null in JSON.
type LatencyBucket struct {
	FromSeconds float64 `json:"from_seconds"`
	UpToSeconds float64 `json:"up_to_seconds"`
	Count       uint64  `json:"count"`
}

// MarshalJSON writes an infinite UpToSeconds as null.
func (b LatencyBucket) MarshalJSON() ([]byte, error) {
	v := latencyBucketJSON{FromSeconds: b.FromSeconds, Count: b.Count}
	if !math.IsInf(b.UpToSeconds, 1) {
		v.UpToSeconds = &b.UpToSeconds
	}
	return json.Marshal(v)
}

// UnmarshalJSON reads a null UpToSeconds as +Inf.
func (b *LatencyBucket) UnmarshalJSON(data []byte) error {
	var v latencyBucketJSON
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	b.FromSeconds, b.Count, b.UpToSeconds = v.FromSeconds, v.Count, math.Inf(1)
	if v.UpToSeconds != nil {
		b.UpToSeconds = *v.UpToSeconds
	}
	return nil
}

type latencyBucketJSON struct {
	FromSeconds float64  `json:"from_seconds"`
	UpToSeconds *float64 `json:"up_to_seconds"`
	Count       uint64   `json:"count"`
}

// RouteAlloc is a route's allocation estimated from the runtime's sampled allocation profile: the
// samples whose stack holds the route's handler function, scaled as the runtime scales them
// (runtime.MemProfileRate), divided by the route's requests.
type RouteAlloc struct {
	BytesPerRequest float64 `json:"bytes_per_request"`
	// RelativeError is one standard error of the estimate ÷ the estimate, from the sampling alone:
	// about 1/√Samples for objects much smaller than the sample rate, less for larger ones.
	RelativeError   float64 `json:"relative_error"`
	Samples         int64   `json:"samples"` // allocation samples behind the estimate
	SampleRateBytes int     `json:"sample_rate_bytes"`
	// HandlerFrames are the functions whose frames identified the route's allocations.
	HandlerFrames []string `json:"handler_frames"`
}

// RouteCPU is a route's share of a CPU profile taken with route labels.
type RouteCPU struct {
	ProfileSeconds float64 `json:"profile_seconds"` // the profile's duration
	CPUSeconds     float64 `json:"cpu_seconds"`     // every sample labelled with the route
	// AllocCPUSeconds is time in the allocator (runtime.mallocgc and its size-specialised
	// variants), GC assist included; AssistCPUSeconds is the assist alone (runtime.gcAssistAlloc).
	AllocCPUSeconds  float64 `json:"alloc_cpu_seconds"`
	AssistCPUSeconds float64 `json:"assist_cpu_seconds"`
}

// RouteSource gives the per-route statistics a report carries. middleware.Instrument installs
// one on the Monitor; runtimediag itself knows nothing of HTTP.
type RouteSource interface {
	Routes() []RouteStats
}

// ProfileRouteSource is a RouteSource that attributes an allocation profile reading to its
// routes itself: the Monitor hands it the reading it took for the report, so that the profile is
// read once per report, not once for the sites and again for the routes.
type ProfileRouteSource interface {
	RouteSource
	RoutesFromProfile(p *AllocProfile) []RouteStats
}

// CPURouteSource is a RouteSource that also carries each route's share of a CPU profile
// (RouteStats.CPU). Whoever takes a CPU profile with route labels (middleware's /cpu) hands the
// split to the Monitor's route source when it implements this interface.
type CPURouteSource interface {
	RouteSource
	// SetRouteCPU replaces the last profile's split by route with byRoute, keyed by route name.
	SetRouteCPU(byRoute map[string]RouteCPU)
}

// routeSlot holds a Monitor's route source.
type routeSlot struct {
	mu  sync.Mutex
	src RouteSource
}

// SetRouteSource makes the Monitor's reports carry src's routes (Report.Routes); nil removes it.
func (m *Monitor) SetRouteSource(src RouteSource) {
	m.routes.mu.Lock()
	m.routes.src = src
	m.routes.mu.Unlock()
}

// RouteSource returns the Monitor's route source, nil when there is none.
func (m *Monitor) RouteSource() RouteSource {
	m.routes.mu.Lock()
	defer m.routes.mu.Unlock()
	return m.routes.src
}

// SetRouteSourceIfAbsent installs src as the Monitor's route source when it has none, and returns
// the source the Monitor has afterwards: src, or the one installed before it. Every instrumenting
// middleware of one Monitor shares one route table that way.
func (m *Monitor) SetRouteSourceIfAbsent(src RouteSource) RouteSource {
	m.routes.mu.Lock()
	defer m.routes.mu.Unlock()
	if m.routes.src == nil {
		m.routes.src = src
	}
	return m.routes.src
}

// Routes returns the route source's statistics, nil when there is none.
func (m *Monitor) Routes() []RouteStats {
	m.routes.mu.Lock()
	src := m.routes.src
	m.routes.mu.Unlock()
	if src == nil {
		return nil
	}
	return src.Routes()
}

// Logger is the logger given with WithLogger (a no-op one by default), for the packages that
// extend the Monitor (middleware) to report their own problems where the Monitor reports its.
func (m *Monitor) Logger() *zap.Logger { return m.user }

// routesFrom is Routes, giving a ProfileRouteSource the report's profile reading.
func (m *Monitor) routesFrom(p *AllocProfile) []RouteStats {
	m.routes.mu.Lock()
	src := m.routes.src
	m.routes.mu.Unlock()
	if ps, ok := src.(ProfileRouteSource); ok && p != nil {
		return ps.RoutesFromProfile(p)
	}
	if src == nil {
		return nil
	}
	return src.Routes()
}
