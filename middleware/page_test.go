package middleware

import (
	"bytes"
	"encoding/json"
	"flag"
	"html"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/memdiag/memdiag/runtimediag"
)

var updatePageGolden = flag.Bool("update", false, "rewrite testdata/page/*.golden from the current rendering")

// recordedPage is a full report and history recorded from a real Monitor (Linux, Go 1.26.8),
// the executable's path replaced.
type recordedPage struct {
	Report  *runtimediag.Report `json:"report"`
	History []runtimediag.Point `json:"history"`
}

func loadRecorded(t *testing.T) recordedPage {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "page", "recorded.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rec recordedPage
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

func renderString(t *testing.T, in *pageInput) string {
	t.Helper()
	var buf bytes.Buffer
	if err := renderPage(&buf, in); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "page", name+".golden")
	if *updatePageGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs from the golden file (-want +got; -update rewrites it):\n%s", path, d)
	}
}

const testNonce = "dGVzdG5vbmNldGVzdG5vbmNl"

// TestPageGolden pins the whole page for a recorded report and for the states around it.
func TestPageGolden(t *testing.T) {
	rec := loadRecorded(t)
	last := rec.History[len(rec.History)-1]

	noSmaps := *rec.Report
	noSmaps.RSS.Mappings = nil
	noSmaps.RSS.Tier = runtimediag.TierCheap
	noSmaps.RSS.Notes = nil
	noSmaps.Sources = append([]runtimediag.SourceHealth{{Name: "smaps", OK: false, Reason: "permission denied",
		Error: "open /proc/self/smaps: permission denied"}}, noSmaps.Sources...)
	noSmaps.TopAllocationSites = nil

	withRoutes := recordedWithRoutes(rec)

	withRoutes.Leaks = pageLeaks()
	quiet := noSmaps
	quiet.Leaks = &runtimediag.Leaks{Suspects: []runtimediag.LeakSuspect{}, Notes: []string{"heap by site: 3 of the 8 readings (each after a GC cycle) a trend needs"}}
	noSmaps = quiet

	for _, tc := range []struct {
		name string
		in   pageInput
	}{
		{"recorded", pageInput{Point: last, Report: &withRoutes, History: rec.History, Nonce: testNonce}},
		{"stale_report", pageInput{Point: last, Report: rec.Report, ReportErr: "context deadline exceeded", History: rec.History[:2], Nonce: testNonce}},
		{"collecting", pageInput{Point: last, History: rec.History, Nonce: testNonce}},
		{"no_tick", pageInput{Nonce: testNonce, ReportErr: "runtimediag: monitor closed"}},
		{"missing_sources", pageInput{Point: last, Report: &noSmaps, History: rec.History[:1], Nonce: testNonce}},
		{"plots", pageInput{Point: plotHistory[len(plotHistory)-1], History: plotHistory, Nonce: testNonce,
			Custom: []runtimediag.CustomSeries{{Name: "queue depth", Unit: runtimediag.UnitCount}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGolden(t, tc.name, renderString(t, &tc.in))
		})
	}
}

// plotHistory is a history of every figure the plots draw: 40 ticks a second apart, the first
// ones before a full classification (non-Go categories unmeasured), one without a scheduler
// reading, a GC pause every third tick, and a limit.
var plotHistory = func() []runtimediag.Point {
	base := time.Date(2026, 12, 5, 6, 0, 0, 0, time.UTC)
	var hist []runtimediag.Point
	for i := range 40 {
		f := float64(i)
		p := runtimediag.Point{Time: base.Add(time.Duration(i) * time.Second), ResidentBytes: uint64(60+i) << 20,
			GoTotalBytes: uint64(40+i/2) << 20, HeapObjectsBytes: 20 << 20, HeapLiveBytes: uint64(16+i%8) << 20, HeapGoalBytes: uint64(32+i%8) << 20,
			LimitBytes: 128 << 20, AllocBytesTotal: uint64(i) * (8 << 20), GCCyclesTotal: uint64(i / 3), GCCPUSecondsTotal: 0.02 * f,
			CPUSecondsTotal: 2 * f, Goroutines: uint32(10 + i), Threads: uint32(6 + i/10),
			CPU:          runtimediag.PointCPU{User: 0.5 * f, GCMarkAssist: 0.005 * f, GCMarkBackground: 0.01 * f, GCPause: 0.005 * f, Scavenge: 0.001 * f, Idle: 1.479 * f},
			RSSEstimated: true, RSSClassified: i >= 10, SchedLatencyRead: i != 20, LiveObjectsRead: true,
			SchedLatency: runtimediag.PointQuantiles{P50: 1e-6, P99: float64(10+i) * 1e-6, Max: float64(100+i) * 1e-6}}
		for c := range p.RSSCategoryBytes {
			p.RSSCategoryBytes[c] = uint64(c+1) << 18
		}
		for b := range p.LiveObjectsBySize {
			p.LiveObjectsBySize[b] = uint64((b + 1) * (100 + i))
		}
		// Mutex wait and cgo calls as counters; the scan figures unread at one tick; the
		// application's series with a gap.
		p.MutexWaitSecondsTotal, p.MutexWaitRead = 0.003*f*f, true
		p.CgoCallsTotal, p.CgoCallsRead = uint64(i*i*5), true
		p.StackStartingBytes, p.StackStartingRead = uint64(8192+(i/20)*8192), true
		p.GCScanHeapBytes, p.GCScanStackBytes, p.GCScanGlobalsBytes, p.GCScanRead = uint64(8+i%5)<<20, uint64(256+i)<<10, 96<<10, i != 25
		if i != 30 {
			p.Custom[0], p.CustomRead = float64(100+(i%7)*10), 1
		}
		if i%3 == 0 {
			p = withPause(p, p.Time.Add(-300*time.Millisecond), time.Duration(50+i*10)*time.Microsecond)
		}
		hist = append(hist, p)
	}
	return hist
}()

// withPause returns p with one GC pause, through the JSON a Point is read from.
func withPause(p runtimediag.Point, end time.Time, d time.Duration) runtimediag.Point {
	b, err := json.Marshal(p)
	if err != nil {
		panic(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(err)
	}
	m["gc_pauses"] = []map[string]any{{"end": end, "duration_seconds": d.Seconds()}}
	m["gc_pauses_since_previous_count"] = 1
	b, _ = json.Marshal(m)
	var out runtimediag.Point
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	return out
}

// recordedWithRoutes is the recorded report with two routes, as Instrument fills them.
func recordedWithRoutes(rec recordedPage) runtimediag.Report {
	withRoutes := *rec.Report
	inFlight := int64(2)
	withRoutes.Routes = []runtimediag.RouteStats{
		{Route: "GET /users/{id}", Requests: 12840, InFlight: &inFlight, LatencyP50Seconds: latencyPtr(0.000512), LatencyP99Seconds: latencyPtr(0.008192),
			LatencyMaxSeconds: latencyPtr(0.0213), STWSeconds: 0.0042, DelayedRequests: 31,
			Alloc: &runtimediag.RouteAlloc{BytesPerRequest: 18432, RelativeError: 0.08, Samples: 156, SampleRateBytes: 512 << 10},
			CPU:   &runtimediag.RouteCPU{ProfileSeconds: 10, CPUSeconds: 1.25, AllocCPUSeconds: 0.31, AssistCPUSeconds: 0.02}},
		{Route: "unmatched", Requests: 3, LatencyP50Seconds: latencyPtr(0.000016), LatencyMaxSeconds: latencyPtr(0.000032),
			AllocNote: "too few samples"},
	}
	return withRoutes
}

// TestPageShowsReport checks the figures the verdict and the bar promise, on the recorded report.
func TestPageShowsReport(t *testing.T) {
	rec := loadRecorded(t)
	got := renderString(t, &pageInput{Point: rec.History[len(rec.History)-1], Report: rec.Report, History: rec.History, Nonce: testNonce})

	if want := `data-resident-bytes="58761216"`; !strings.Contains(got, want) {
		t.Errorf("page lacks %s", want)
	}
	if want := `data-report-time="` + rec.Report.Time.UTC().Format(time.RFC3339Nano) + `"`; !strings.Contains(got, want) {
		t.Errorf("page lacks %s", want)
	}
	var nonEmpty []string
	for _, c := range rec.Report.RSS.Categories {
		if c.Bytes > 0 {
			nonEmpty = append(nonEmpty, c.Name)
		}
	}
	var drawn []string
	for _, m := range regexp.MustCompile(`<rect [^>]*data-category="([a-z_]+)"`).FindAllStringSubmatch(got, -1) {
		drawn = append(drawn, m[1])
	}
	if d := cmp.Diff(nonEmpty, drawn); d != "" {
		t.Errorf("bar segments differ from the non-empty categories (-want +got):\n%s", d)
	}
	for _, want := range []string{
		"page_cache_in_cgroup", "docs/findings.md#page_cache_in_cgroup", // the finding and its doc
		`data-class="go_heap"`, `data-class="thread_stack"`, // the address space
		`data-series="resident_bytes"`, `data-series="heap_goal_bytes"`, `data-series="rate:alloc_bytes_total"`, `data-series="share:gc_cpu_seconds_total"`,
		`id="chart-rss"`, `id="chart-cpu"`, `id="chart-goroutines"`, `id="chart-threads"`, `id="chart-pauses"`, `id="chart-sched"`, `id="chart-sizes"`,
		`<a href="https://github.com/memdiag/memdiag/blob/main/docs/findings.md#page_cache_in_cgroup"`, // the finding's doc, a link
		`data-mark="p99"`, // pauses
		"latency",         // the source that was not read
	} {
		if !strings.Contains(got, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	// The verdict comes before everything else in <main>.
	if i, j := strings.Index(got, `id="verdict"`), strings.Index(got, `id="rss"`); i < 0 || j < i {
		t.Errorf("verdict (at %d) is not before the RSS bar (at %d)", i, j)
	}
	// Links to the project's docs are followed only when clicked, and the script names the SVG
	// namespace; nothing else may name another origin.
	loads := strings.NewReplacer(`href="`+docsBase, "", `'http://www.w3.org/2000/svg'`, "").Replace(got)
	for _, ext := range []string{"http://", "https://", "//cdn", "@import", "src="} {
		if strings.Contains(loads, ext) {
			t.Errorf("page refers to something outside itself: %q", ext)
		}
	}
}

// TestPageEscapesHostileStrings feeds markup through every string a report carries from the
// process (mapping names, function names, finding text, source errors, notes) and checks that
// none of it comes out as markup.
func TestPageEscapesHostileStrings(t *testing.T) {
	const evil = `"><script>alert(1)</script><img src=x onerror=alert(2)>`
	rec := loadRecorded(t)
	rep := *rec.Report
	rep.RSS.Mappings = append([]runtimediag.ClassifiedMapping(nil), rep.RSS.Mappings...)
	rep.RSS.Mappings[0].Name = "/usr/bin/" + evil
	rep.RSS.Mappings[0].Class = runtimediag.MappingClass(evil)
	rep.RSS.Categories = append([]runtimediag.RSSCategory(nil), rep.RSS.Categories...)
	rep.RSS.Categories[0].Method = evil
	rep.RSS.LargestCategory = evil
	rep.Findings = []runtimediag.Finding{{Code: evil, Severity: runtimediag.Severity(evil), Headline: evil, Advice: evil, Doc: evil,
		Evidence: []runtimediag.Evidence{{Name: evil, Value: 1, Unit: evil}}}}
	rep.Sources = []runtimediag.SourceHealth{{Name: evil, Reason: evil, Error: evil}}
	rep.Notes = []string{evil}
	rep.Routes = []runtimediag.RouteStats{{Route: evil, AllocNote: evil}}
	rep.RSS.Notes = []string{evil}
	rep.TopAllocationSites = &runtimediag.AllocationSites{SampleRateBytes: 512 << 10, Sites: []runtimediag.AllocationSite{
		{Function: "main.(*T)." + evil, File: evil, Line: 1, BytesPerSecond: 1, Share: 1}}}
	got := renderString(t, &pageInput{Point: rec.History[0], Report: &rep, History: rec.History, Nonce: testNonce})

	// Escaped, the words stay readable ("onerror=alert" is text); what must never appear is a quote
	// or a bracket that ends the attribute or element it was put in.
	for _, bad := range []string{evil, "<script>alert", "<img"} {
		if n := strings.Count(got, bad); n > 0 {
			t.Errorf("hostile string reflected as markup: %q appears %d times", bad, n)
		}
	}
	// The page's own two scripts, and nothing else.
	if n := strings.Count(got, "<script"); n != 2 {
		t.Errorf("%d <script> elements, want the page's 2", n)
	}
	// And the text is still there, escaped, for a person to read.
	if !strings.Contains(got, html.EscapeString("/usr/bin/"+evil)) && !strings.Contains(got, "/usr/bin/&#34;&gt;&lt;script&gt;") {
		t.Errorf("the mapping name is not shown escaped")
	}
}

func TestFormatting(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		// The page formats with internal/humanize (its own tests cover Bytes, Count, Percent...);
		// what is left here is the page's own: figures, units, "no window".
		{signedBytesFigure(-2048).Text, "-2.0 KiB"},
		{signedBytesFigure(-2048).Exact, "-2,048 bytes"},
		{fmtUnit(-2048, bytesUnit), "-2.0 KiB"},
		{fmtUnit(math.NaN(), bytesUnit), "–"},
		{fmtUnit(0.25, percentUnit), "0.25%"},
		{fmtUnit(19400, countUnit), "19.4k"},
		{windowSpan(90), "1m30s"},
		{windowSpan(0), "no window"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	for _, tc := range []struct {
		v    float64
		unit string
		want float64
	}{
		{0, bytesUnit, 1 << 20},
		{60 << 20, bytesUnit, 100 << 20},
		{90 << 20, bytesUnit, 100 << 20},
		{100 << 20, bytesUnit, 200 << 20},
		{3.1, percentUnit, 5},
	} {
		if got := niceCeil(tc.v, tc.unit); got != tc.want {
			t.Errorf("niceCeil(%g, %s) = %g, want %g", tc.v, tc.unit, got, tc.want)
		}
	}
}

func TestDownsampleKeepsNewest(t *testing.T) {
	ps := make([]runtimediag.Point, 1000)
	for i := range ps {
		ps[i].Goroutines = uint32(i)
	}
	got := downsample(ps, 600)
	if len(got) != 600 || got[0].Goroutines != 0 || got[599].Goroutines != 999 {
		t.Errorf("downsample: %d points, first %d, last %d; want 600, 0, 999", len(got), got[0].Goroutines, got[len(got)-1].Goroutines)
	}
}

// pageLeaks is a leaks section with a suspect of two kinds, for the page's golden.
func pageLeaks() *runtimediag.Leaks {
	p := 0.00042
	t0 := time.Date(2026, 12, 5, 6, 30, 0, 0, time.UTC)
	var series []runtimediag.LeakPoint
	for i := range 10 {
		series = append(series, runtimediag.LeakPoint{Time: t0.Add(time.Duration(i) * time.Minute), Value: float64(i*i) * 1e6})
	}
	return &runtimediag.Leaks{Suspects: []runtimediag.LeakSuspect{
		{Kind: runtimediag.LeakHeapSite, Certainty: runtimediag.LeakSignificant, PValue: &p, Unit: "bytes", GrowthPerSecond: 30000, Current: 81e6,
			Since: t0, Series: series, Finding: runtimediag.FindingHeapGrowingAtSite,
			Culprit:  runtimediag.LeakCulprit{Function: "main.(*cache).put", File: "/src/app/cache.go", Line: 42, Stack: []string{"main.(*cache).put /src/app/cache.go:42", "main.handle /src/app/main.go:17"}},
			Headline: "heap retained at main.(*cache).put (app/cache.go:42) grows 1.7 MiB/min to 77.2 MiB <since 06:30:00>", Advice: "evict & bound the cache"},
		{Kind: runtimediag.LeakGoroutineGroup, Certainty: runtimediag.LeakWeak, Unit: "goroutines", GrowthPerSecond: 0.5, Current: 130, Since: t0,
			Series: series[:2], Finding: runtimediag.FindingGoroutineGroupGrowing,
			Culprit:  runtimediag.LeakCulprit{Function: "main.worker", File: "/src/app/w.go", Line: 9, CreatedBy: "main.serve"},
			Headline: "goroutines blocked in main.worker grow", Advice: "close the channel"},
	}}
}

// TestPageCustomSeriesNameEscaped: a custom series' name is the application's text, shown in a
// caption and carried in the page's JSON; markup in it stays text in both.
func TestPageCustomSeriesNameEscaped(t *testing.T) {
	const name = `</script><img src=x onerror=alert(1)>"&`
	got := renderString(t, &pageInput{Point: plotHistory[len(plotHistory)-1], History: plotHistory, Nonce: testNonce,
		Custom: []runtimediag.CustomSeries{{Name: name, Unit: runtimediag.UnitCount}}})
	if strings.Contains(got, "<img") || strings.Count(got, "</script>") != strings.Count(renderString(t, &pageInput{Nonce: testNonce}), "</script>") {
		t.Error("a custom series' name reached the page as markup")
	}
	if !strings.Contains(got, `id="chart-custom-0"`) || !strings.Contains(got, "&lt;img src=x onerror=alert(1)&gt;") {
		t.Error("the custom plot or its escaped caption is missing")
	}
}

// TestPointJSONCustomBounded: a history point read back from JSON keeps at most
// MaxCustomSeries values, whatever the JSON holds.
func TestPointJSONCustomBounded(t *testing.T) {
	var p runtimediag.Point
	if err := json.Unmarshal([]byte(`{"time":"2026-12-05T06:00:00Z","custom_series_values":[1,null,3,4,5,6,7,8,9,10]}`), &p); err != nil {
		t.Fatal(err)
	}
	if v, ok := p.CustomValue(7); !ok || v != 8 {
		t.Errorf("value 8 is %v, %v", v, ok)
	}
	if _, ok := p.CustomValue(1); ok {
		t.Error("a null value was read")
	}
	if _, ok := p.CustomValue(8); ok {
		t.Error("a ninth value was kept")
	}
}
