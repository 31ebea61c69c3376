package promexport

import (
	"cmp"
	"slices"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memdiag/memdiag/runtimediag"
)

// appendRoutes adds the memdiag_route_* families from the report's routes (Report.Routes), not
// from Monitor.Routes: attributing allocation to routes reads the allocation profile, which a
// scrape must not do. The counters therefore move once per report.
//
// Latency is not exported: a service's own HTTP metrics (promhttp) already histogram it, and a
// histogram per route would multiply the series by its buckets for no memory insight.
func (c *Collector) appendRoutes(rep *runtimediag.Report, out []prometheus.Metric) []prometheus.Metric {
	if len(rep.Routes) == 0 {
		return out
	}
	routes := make([]*runtimediag.RouteStats, 0, len(rep.Routes))
	for i := range rep.Routes {
		routes = append(routes, &rep.Routes[i])
	}
	// The busiest routes are kept when there are more than the bound; ties by name, so the same
	// report always exports the same routes.
	slices.SortStableFunc(routes, func(a, b *runtimediag.RouteStats) int {
		return cmp.Or(cmp.Compare(b.Requests, a.Requests), strings.Compare(a.Route, b.Route))
	})
	seen := make(map[string]bool, min(len(routes), c.cfg.maxRoutes))
	d := &c.d
	for _, r := range routes {
		if len(seen) == c.cfg.maxRoutes {
			break
		}
		// A route function may name routes with any bytes; a label value must be UTF-8, and one
		// invalid value would fail the whole scrape.
		name := strings.ToValidUTF8(r.Route, "\uFFFD")
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		out = append(out,
			counter(d.routeRequests, float64(r.Requests), name),
			counter(d.routeSTW, r.STWSeconds, name),
			counter(d.routeDelayed, float64(r.DelayedRequests), name),
		)
		if r.Alloc != nil {
			out = append(out, gauge(d.routeAllocPerRequest, r.Alloc.BytesPerRequest, name))
		}
	}
	return out
}
