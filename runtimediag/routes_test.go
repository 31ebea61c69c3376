package runtimediag

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

type fixedRoutes []RouteStats

func (r fixedRoutes) Routes() []RouteStats { return r }

// TestSetRouteSource: a route source that is not middleware.Instrument (a gRPC interceptor, say)
// puts its routes in the Monitor's reports; instrumenting middleware then shares it rather than
// replacing it; nil takes the routes out again.
func TestSetRouteSource(t *testing.T) {
	m := newTestMonitor(t, WithFullInterval(0))
	src := fixedRoutes{{Route: "/memdiag.Echo/Say", Requests: 3, LatencyP50Seconds: new(float64)}}
	m.SetRouteSource(src)

	rep, err := m.Report(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]RouteStats(src), rep.Routes); d != "" {
		t.Errorf("Report.Routes (-set +reported):\n%s", d)
	}
	if d := cmp.Diff(RouteSource(src), m.RouteSource()); d != "" {
		t.Errorf("RouteSource (-set +returned):\n%s", d)
	}
	got := m.SetRouteSourceIfAbsent(fixedRoutes{})
	if d := cmp.Diff(RouteSource(src), got); d != "" {
		t.Errorf("SetRouteSourceIfAbsent replaced the source that was set (-set +returned):\n%s", d)
	}

	m.SetRouteSource(nil)
	if r := m.Routes(); r != nil {
		t.Errorf("Routes after SetRouteSource(nil) = %v, want nil", r)
	}
	if r := m.RouteSource(); r != nil {
		t.Errorf("RouteSource after SetRouteSource(nil) = %v, want nil", r)
	}
	rep, err = m.Report(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Routes != nil {
		t.Errorf("Report.Routes after SetRouteSource(nil) = %v, want nil", rep.Routes)
	}
}
