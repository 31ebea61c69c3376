package promexport

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"

	"github.com/memdiag/memdiag/runtimediag"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// fixedSource is a Monitor frozen at one point and one report.
type fixedSource struct {
	p   runtimediag.Point
	rep *runtimediag.Report
	st  runtimediag.MonitorStats
}

func (s *fixedSource) Latest() (runtimediag.Point, *runtimediag.Report) { return s.p, s.rep }
func (s *fixedSource) Stats() runtimediag.MonitorStats                  { return s.st }

var fixtureTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// fixtureReport is a report with a value in every family the Collector exports: every category,
// an arena check, pauses of each kind, two findings and a duplicate and an unknown one that must
// be left out.
func fixtureReport() *runtimediag.Report {
	rep := &runtimediag.Report{
		Time:          fixtureTime.Add(-30 * time.Second),
		WindowSeconds: 300,
		RSS: runtimediag.RSS{
			Tier:             runtimediag.TierFull,
			ResidentBytes:    100 << 20,
			UnexplainedBytes: -4096,
			GoManagedBytes:   60 << 20,
			NonGoBytes:       40<<20 + 4096,
			LazyFreeBytes:    1 << 20,
			ArenaCheck:       &runtimediag.ArenaCheck{OK: true},
		},
		Efficiency: runtimediag.Efficiency{
			GCCPUFraction:       0.03,
			GCAssistCPUFraction: 0.005,
			GCBusyCPUShare:      0.08,
			HeapUnusedRatio:     0.12,
			HeapFreeRatio:       0.25,
			PauseGC: runtimediag.PauseSummary{Count: 40, P50: 0.0001, P99: 0.0008, Max: 0.0012,
				P50Lower: 0.00009, P99Lower: 0.0007, MaxLower: 0.001},
			StoppingGC: runtimediag.PauseSummary{Count: 40, P50: 0.00001, P99: 0.00005, Max: 0.0001,
				P99Lower: 0.00004, MaxLower: 0.00009}, // the median in the lowest bucket: lower bound 0
			// No non-GC pause in the window: the kind must be absent, not zero.
		},
		MemdiagSelf: &runtimediag.SelfCost{CPUSeconds: 0.3, AllocBytesPerSecond: 200 << 10, HeapInuseBytes: 800 << 10},
		TopAllocationSites: &runtimediag.AllocationSites{GCCycles: 3, TotalBytesPerSecond: 1 << 20,
			MemdiagItself: &runtimediag.MemdiagSites{BytesPerSecond: 200 << 10}},
		Findings: []runtimediag.Finding{
			{Code: "gc_cpu_high", Severity: runtimediag.SeverityCritical},
			{Code: "heap_free_not_returned", Severity: runtimediag.SeverityInfo},
			{Code: "gc_cpu_high", Severity: runtimediag.SeverityCritical},
			{Code: "not_a_rule", Severity: runtimediag.SeverityWarning},
		},
	}
	rep.Routes = []runtimediag.RouteStats{
		{Route: "GET /hello", Requests: 1000, STWSeconds: 0.002, DelayedRequests: 3,
			Alloc: &runtimediag.RouteAlloc{BytesPerRequest: 512, RelativeError: 0.1, Samples: 100, SampleRateBytes: 512 << 10}},
		{Route: "GET /report", Requests: 500, STWSeconds: 0.01, DelayedRequests: 9, AllocNote: "too few samples"},
		{Route: "GET /hello", Requests: 1}, // a duplicate name: left out, never a duplicate series
		{Route: "GET /bad\xff", Requests: 2},
	}
	for i, name := range runtimediag.RSSCategoryNames() {
		method := runtimediag.MethodSmaps
		if strings.HasPrefix(name, "go_") {
			method = runtimediag.MethodRuntimeShare
		}
		rep.RSS.Categories = append(rep.RSS.Categories, runtimediag.RSSCategory{Name: name, Bytes: uint64(i+1) << 20, Method: method})
	}
	rep.RSS.Categories = append(rep.RSS.Categories,
		runtimediag.RSSCategory{Name: runtimediag.CategoryCHeap, Bytes: 1, Method: runtimediag.MethodSmaps},
		runtimediag.RSSCategory{Name: "/tmp/secret path", Bytes: 1, Method: runtimediag.MethodSmaps})
	return rep
}

func fixturePoint() runtimediag.Point {
	return runtimediag.Point{
		Time:              fixtureTime.Add(-time.Second),
		ResidentBytes:     101 << 20,
		GoTotalBytes:      70 << 20,
		HeapObjectsBytes:  30 << 20,
		HeapLiveBytes:     25 << 20,
		HeapGoalBytes:     50 << 20,
		HeapReleasedBytes: 2 << 20,
		LimitBytes:        512 << 20,
		CgroupUsageBytes:  200 << 20,
		AllocBytesTotal:   123456789,
		GCCyclesTotal:     42,
		GCCPUSecondsTotal: 1.5,
		CPUSecondsTotal:   600,
		Goroutines:        12,
		Threads:           7,
	}
}

func newFixtureCollector(t testing.TB, src *fixedSource) *Collector {
	t.Helper()
	c, err := newCollector(src)
	if err != nil {
		t.Fatal(err)
	}
	c.now = func() time.Time { return fixtureTime }
	return c
}

func exposition(t testing.TB, cs ...prometheus.Collector) []byte {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			t.Fatal(err)
		}
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	// Not testutil.GatherAndFormat: in client_golang v1.25.0 it keeps no family when given no names.
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// TestCollectGolden proves what a scrape carries for a known point and report, with its help and
// types, unknown categories and codes left out and a pause kind without pauses absent.
func TestCollectGolden(t *testing.T) {
	src := &fixedSource{p: fixturePoint(), rep: fixtureReport(),
		st: runtimediag.MonitorStats{Ticks: 300, TickTime: 3 * time.Millisecond, FullReports: 2}}
	got := exposition(t, newFixtureCollector(t, src))
	// The version depends on how the test binary was built.
	got = regexpReplaceVersion(got)
	golden := filepath.Join("testdata", "collect.golden")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("exposition differs from %s (-want +got):\n%s", golden, diff)
	}
}

func regexpReplaceVersion(b []byte) []byte {
	lines := bytes.Split(b, []byte("\n"))
	for i, l := range lines {
		if bytes.HasPrefix(l, []byte("memdiag_info{")) {
			lines[i] = []byte(`memdiag_info{version="VERSION"} 1`)
		}
	}
	return bytes.Join(lines, []byte("\n"))
}

// TestCollectBeforeAnything proves that a Monitor without a tick or a report exports its info and
// its own counters only: nothing it has not measured appears as a zero.
func TestCollectBeforeAnything(t *testing.T) {
	got := string(exposition(t, newFixtureCollector(t, &fixedSource{})))
	var names []string
	for _, l := range strings.Split(got, "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			names = append(names, l[:strings.IndexAny(l, "{ ")])
		}
	}
	want := []string{"memdiag_info", "memdiag_monitor_full_reports_total", "memdiag_monitor_tick_seconds_total", "memdiag_monitor_ticks_total", "memdiag_self_cpu_seconds_total"}
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("series before the first tick (-want +got):\n%s", diff)
	}
}

// TestReportFamiliesFollowTheReport proves the per-report cache: a new report is exported at the
// next scrape, and a finding that cleared disappears.
func TestReportFamiliesFollowTheReport(t *testing.T) {
	src := &fixedSource{p: fixturePoint(), rep: fixtureReport()}
	c := newFixtureCollector(t, src)
	if n := testutil.CollectAndCount(c, "memdiag_finding"); n != 2 {
		t.Fatalf("memdiag_finding: %d series, want 2", n)
	}
	next := fixtureReport()
	next.Findings = nil
	next.RSS.Categories[0].Bytes = 7
	src.rep = next
	if n := testutil.CollectAndCount(c, "memdiag_finding"); n != 0 {
		t.Errorf("memdiag_finding after the findings cleared: %d series, want 0", n)
	}
	var got float64
	for _, m := range c.reportMetrics(next) {
		if m.Desc() == c.d.category {
			got = metricValue(t, m)
			break
		}
	}
	if got != 7 {
		t.Errorf("go_heap_objects after a new report = %v, want 7", got)
	}
}

// TestNoClashWithGoAndProcessCollectors registers memdiag beside client_golang's own collectors
// on a pedantic registry: a name memdiag shared with go_* or process_* would fail the gather.
func TestNoClashWithGoAndProcessCollectors(t *testing.T) {
	src := &fixedSource{p: fixturePoint(), rep: fixtureReport()}
	out := exposition(t, newFixtureCollector(t, src),
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsAll)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, name := range familyNames(newFixtureCollector(t, src)) {
		if !strings.HasPrefix(name, "memdiag_") {
			t.Errorf("family %s is not under memdiag_", name)
		}
		if !bytes.Contains(out, []byte("# TYPE "+name+" ")) {
			t.Errorf("family %s missing from a full exposition", name)
		}
	}
}

// TestLint runs client_golang's promlint (the linter promtool uses) over a full exposition.
func TestLint(t *testing.T) {
	src := &fixedSource{p: fixturePoint(), rep: fixtureReport()}
	problems, err := testutil.CollectAndLint(newFixtureCollector(t, src))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestMaxRoutes proves the route bound keeps the busiest routes.
func TestMaxRoutes(t *testing.T) {
	rep := fixtureReport()
	rep.Routes = nil
	for i := range 50 {
		rep.Routes = append(rep.Routes, runtimediag.RouteStats{Route: fmt.Sprintf("GET /r%02d", i), Requests: uint64(i)})
	}
	c, err := newCollector(&fixedSource{p: fixturePoint(), rep: rep}, WithMaxRoutes(3))
	if err != nil {
		t.Fatal(err)
	}
	got := exposition(t, c)
	for _, want := range []string{`route="GET /r49"`, `route="GET /r48"`, `route="GET /r47"`} {
		if !bytes.Contains(got, []byte("memdiag_route_requests_total{"+want+"}")) {
			t.Errorf("busiest route %s missing", want)
		}
	}
	if n := testutil.CollectAndCount(c, "memdiag_route_requests_total"); n != 3 {
		t.Errorf("memdiag_route_requests_total: %d series, want 3", n)
	}
}

func TestNewCollectorOptions(t *testing.T) {
	if _, err := NewCollector(nil); err == nil {
		t.Error("NewCollector(nil): no error")
	}
	mon, err := runtimediag.NewMonitor()
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	for _, tc := range []struct {
		name string
		opt  Option
		ok   bool
	}{
		{"nil", nil, false},
		{"routes 0", WithMaxRoutes(0), false},
		{"routes 10001", WithMaxRoutes(10_001), false},
		{"routes 1", WithMaxRoutes(1), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewCollector(mon, tc.opt)
			if (err == nil) != tc.ok {
				t.Errorf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// TestCollectNeverCollects proves that scrapes of a running Monitor read what it has: no full
// report is taken by a scrape, and a report taken on demand appears at the next scrape.
func TestCollectNeverCollects(t *testing.T) {
	mon, err := runtimediag.NewMonitor(runtimediag.WithTickInterval(10*time.Millisecond), runtimediag.WithFullInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	c, err := NewCollector(mon)
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { p, _ := mon.Latest(); return !p.Time.IsZero() })
	for range 5 {
		exposition(t, c)
	}
	if n := mon.Stats().FullReports; n != 0 {
		t.Fatalf("5 scrapes took %d full reports, want 0", n)
	}
	if n := testutil.CollectAndCount(c, "memdiag_rss_category_bytes"); n != 0 {
		t.Fatalf("categories before any report: %d series", n)
	}
	if _, err := mon.Report(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(c, "memdiag_rss_category_bytes"); n != len(runtimediag.RSSCategoryNames()) {
		t.Errorf("categories after a report: %d series, want %d", n, len(runtimediag.RSSCategoryNames()))
	}
}

func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// familyNames are the names of every family c describes.
func familyNames(c prometheus.Collector) []string {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	var names []string
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			names = append(names, m[1])
		}
	}
	return names
}

func metricValue(t testing.TB, m prometheus.Metric) float64 {
	t.Helper()
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	switch {
	case pb.Gauge != nil:
		return pb.Gauge.GetValue()
	case pb.Counter != nil:
		return pb.Counter.GetValue()
	}
	t.Fatalf("metric %s is neither a gauge nor a counter", m.Desc())
	return 0
}

// TestSelfCost: memdiag's own CPU is a counter from the Monitor's stats on every scrape; its
// allocation rate and live heap follow the report, and are absent (never 0) when the report could
// not measure them.
func TestSelfCost(t *testing.T) {
	src := &fixedSource{p: fixturePoint(), rep: fixtureReport(), st: runtimediag.MonitorStats{SelfCPU: 1500 * time.Millisecond}}
	c := newFixtureCollector(t, src)
	for name, v := range map[string]float64{
		"memdiag_self_cpu_seconds_total":      1.5,
		"memdiag_self_alloc_bytes_per_second": 200 << 10,
		"memdiag_self_heap_inuse_bytes":       800 << 10,
	} {
		if n := testutil.CollectAndCount(c, name); n != 1 {
			t.Errorf("%s: %d series, want 1", name, n)
			continue
		}
		if got := gatheredValue(t, c, name); got != v {
			t.Errorf("%s = %v, want %v", name, got, v)
		}
	}
	// A report without a GC cycle in its window, and one whose profile was not read.
	rep := fixtureReport()
	rep.TopAllocationSites = &runtimediag.AllocationSites{}
	rep.MemdiagSelf = &runtimediag.SelfCost{CPUSeconds: 0.3}
	src.rep = rep
	for _, name := range []string{"memdiag_self_alloc_bytes_per_second", "memdiag_self_heap_inuse_bytes"} {
		if n := testutil.CollectAndCount(c, name); n != 0 {
			t.Errorf("%s: %d series for a report that did not measure it, want none", name, n)
		}
	}
}

// gatheredValue is the value of the one series of family name that c exports.
func gatheredValue(t *testing.T, c prometheus.Collector, name string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if g := m.GetGauge(); g != nil {
			return g.GetValue()
		}
		return m.GetCounter().GetValue()
	}
	t.Fatalf("%s not gathered", name)
	return 0
}
