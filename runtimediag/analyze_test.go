package runtimediag

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sink keeps allocations from being optimised away.
var sink any

func analyzeFixtureFile(t *testing.T, name string) *Report {
	t.Helper()
	in, err := loadAnalyzeFixture(t, name).input()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if compressedTrendFixtures[name] {
		th := DefaultThresholds()
		th.TrendMinSpan = 0
		in.Thresholds = &th
	}
	return Analyze(in)
}

// compressedTrendFixtures were recorded with 50 ms ticks, a leak of a minute played in half a
// second: shorter than the default TrendMinSpan, which is waived for them.
var compressedTrendFixtures = map[string]bool{"goroutine_leak": true, "c_heap_leak": true}

func findingCodes(r *Report) []string {
	var out []string
	for _, f := range r.Findings {
		out = append(out, f.Code)
	}
	return out
}

// TestAnalyzeRules proves every rule on recorded snapshot pairs: it fires on the fixture recorded
// from a workload that produces its condition, and stays quiet on one that does not (the healthy
// process, or a near miss). testdata/analyze/README.md says how each fixture was made.
func TestAnalyzeRules(t *testing.T) {
	tests := []struct {
		code, fires, quiet string
		severity           Severity
	}{
		{"gomemlimit_unset_in_container", "container_gomemlimit_unset", "container_gomemlimit_set", SeverityWarning},
		{"gomemlimit_above_cgroup_limit", "container_gomemlimit_above", "container_gomemlimit_set", SeverityWarning},
		{"resident_near_cgroup_limit", "resident_near_cgroup_limit", "container_gomemlimit_set", SeverityCritical},
		{"gc_cpu_high", "gc_limiter", "healthy", SeverityCritical},
		{"gc_too_frequent", "small_object_churn", "healthy", SeverityWarning},
		{"gc_mark_assist_high", "mark_assist", "healthy", SeverityWarning},
		{"heap_fragmentation", "fragmentation", "heap_free", SeverityWarning},
		{"heap_free_not_returned", "heap_free", "healthy", SeverityInfo},
		{"non_go_memory_large", "cgo_heap", "healthy", SeverityWarning},
		{"threads_high", "threads_locked", "healthy", SeverityWarning},
		{"goroutines_growing", "goroutine_leak", "c_heap_leak", SeverityWarning},
		{"rss_growing_heap_flat", "c_heap_leak", "goroutine_leak", SeverityWarning},
		{"small_object_churn", "small_object_churn", "large_allocations", SeverityWarning},
		{"large_allocations_dominate", "large_allocations", "small_object_churn", SeverityInfo},
		{"gc_cpu_limiter_engaged", "gc_limiter", "mark_assist", SeverityCritical},
		{"stw_pause_long", "stw_stopping", "healthy", SeverityWarning},
		{"stw_stopping_long", "stw_stopping", "healthy", SeverityWarning},
		{"fds_near_limit", "fds_near_limit", "healthy", SeverityCritical},
		{"finalizer_backlog", "finalizer_backlog", "healthy", SeverityWarning},
		{"lazy_free_resident", "lazy_free", "heap_free", SeverityInfo},
		{"page_cache_in_cgroup", "page_cache", "container_gomemlimit_set", SeverityInfo},
		{"scan_heap_share_high", "scan_heap", "fragmentation", SeverityInfo},
		{"gc_off_without_limit", "gc_off", "gc_off_with_limit", SeverityCritical},
		{"forced_gc_frequent", "forced_gc", "healthy", SeverityInfo},
		{"heap_near_gomemlimit", "heap_near_gomemlimit", "container_gomemlimit_set", SeverityWarning},
	}
	covered := map[string]bool{}
	for _, tt := range tests {
		covered[tt.code] = true
		t.Run(tt.code, func(t *testing.T) {
			r := analyzeFixtureFile(t, tt.fires)
			i := slices.IndexFunc(r.Findings, func(f Finding) bool { return f.Code == tt.code })
			if i < 0 {
				t.Fatalf("%s: %s did not fire; findings %v", tt.fires, tt.code, findingCodes(r))
			}
			f := r.Findings[i]
			if f.Severity != tt.severity {
				t.Errorf("%s: severity %s, want %s", tt.fires, f.Severity, tt.severity)
			}
			if f.Headline == "" || f.Advice == "" || len(f.Evidence) == 0 || f.Doc != "docs/findings.md#"+tt.code {
				t.Errorf("%s: incomplete finding %+v", tt.fires, f)
			}
			if q := analyzeFixtureFile(t, tt.quiet); slices.Contains(findingCodes(q), tt.code) {
				t.Errorf("%s: %s fired on the quiet fixture; findings %v", tt.quiet, tt.code, findingCodes(q))
			}
		})
	}
	for _, code := range leakFindingCodes {
		covered[code] = true // proven on suspects in TestLeakFindings
	}
	for _, code := range FindingCodes() {
		if !covered[code] {
			t.Errorf("rule %s has no fixture test", code)
		}
	}
}

// TestAnalyzeHealthyIsQuiet: the idle process's recorded window has no findings at all.
func TestAnalyzeHealthyIsQuiet(t *testing.T) {
	if r := analyzeFixtureFile(t, "healthy"); len(r.Findings) != 0 {
		t.Errorf("findings on the healthy fixture: %v", findingCodes(r))
	}
}

// TestAnalyzeFindingOrder: most severe first, then by code, whatever the table order.
func TestAnalyzeFindingOrder(t *testing.T) {
	for _, name := range []string{"gc_limiter", "stw_stopping", "mark_assist"} {
		r := analyzeFixtureFile(t, name)
		sorted := slices.IsSortedFunc(r.Findings, func(a, b Finding) int {
			if d := severityRank(b.Severity) - severityRank(a.Severity); d != 0 {
				return d
			}
			return strings.Compare(a.Code, b.Code)
		})
		if !sorted {
			t.Errorf("%s: findings out of order: %v", name, findingCodes(r))
		}
	}
}

// TestAnalyzeDeterministic: the same input gives the same report, byte for byte.
func TestAnalyzeDeterministic(t *testing.T) {
	entries, err := os.ReadDir(analyzeFixtureDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		a, _ := json.Marshal(analyzeFixtureFile(t, name))
		b, _ := json.Marshal(analyzeFixtureFile(t, name))
		if string(a) != string(b) {
			t.Errorf("%s: two reports from one input differ", name)
		}
	}
}

// TestAnalyzeGolden compares a whole report with testdata/analyze/golden/gc_limiter.json;
// go test -run TestAnalyzeGolden -update rewrites it.
func TestAnalyzeGolden(t *testing.T) {
	got, err := json.MarshalIndent(analyzeFixtureFile(t, "gc_limiter"), "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join(analyzeFixtureDir, "golden", "gc_limiter.report.json")
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), string(got)); d != "" {
		t.Errorf("report differs from %s (-want +got):\n%s", path, d)
	}
}

// TestAnalyzeEfficiencyFromFixture checks the rates against the counters they come from.
func TestAnalyzeEfficiencyFromFixture(t *testing.T) {
	f := loadAnalyzeFixture(t, "small_object_churn")
	in, _ := f.input()
	r := Analyze(in)
	secs := in.Cur.Time.Sub(in.Prev.Time).Seconds()
	wantRate := float64(in.Cur.Runtime.HeapAllocsBytes-in.Prev.Runtime.HeapAllocsBytes) / secs
	if math.Abs(r.Efficiency.AllocBytesPerSecond-wantRate) > 1e-6*wantRate {
		t.Errorf("alloc rate %v, want %v", r.Efficiency.AllocBytesPerSecond, wantRate)
	}
	var share float64
	for _, b := range r.Efficiency.AllocBytesBySize {
		share += b.Share
	}
	if math.Abs(share-1) > 0.01 {
		t.Errorf("size classes' shares sum to %v, want 1", share)
	}
	if r.Efficiency.MeanObjectBytes < 16 || r.Efficiency.MeanObjectBytes > 64 {
		t.Errorf("mean object %v bytes, the workload allocates 48-byte nodes", r.Efficiency.MeanObjectBytes)
	}
	if r.Efficiency.PauseGC.Count == 0 || r.Efficiency.PauseGC.P99 < r.Efficiency.PauseGC.P50 || r.Efficiency.PauseGC.Max < r.Efficiency.PauseGC.P99 {
		t.Errorf("pause summary %+v", r.Efficiency.PauseGC)
	}
	for _, p := range r.Efficiency.LastPauses {
		if !p.End.After(in.Prev.Time) {
			t.Errorf("pause ending %v is before the window", p.End)
		}
	}
	if r.TopAllocationSites == nil || len(r.TopAllocationSites.Sites) == 0 || !strings.Contains(r.TopAllocationSites.Sites[0].Function, "churn") {
		t.Errorf("top allocation site: %+v, want the churn workload", r.TopAllocationSites)
	}
}

// TestAnalyzeWithoutWindow: one snapshot, or two out of order, or counters that went backwards,
// give a report without rates and with a note, never a negative rate.
func TestAnalyzeWithoutWindow(t *testing.T) {
	in, _ := loadAnalyzeFixture(t, "small_object_churn").input()
	tests := map[string]AnalyzeInput{
		"no prev":      {Cur: in.Cur},
		"swapped":      {Prev: in.Cur, Cur: in.Prev},
		"same":         {Prev: in.Cur, Cur: in.Cur},
		"nil snapshot": {},
	}
	for name, tin := range tests {
		t.Run(name, func(t *testing.T) {
			r := Analyze(tin)
			if r.Efficiency.AllocBytesPerSecond != 0 || r.Efficiency.GCCyclesPerSecond != 0 || len(r.Notes) == 0 {
				t.Errorf("rates %v, %v, notes %q: want none and a note", r.Efficiency.AllocBytesPerSecond, r.Efficiency.GCCyclesPerSecond, r.Notes)
			}
			if _, err := json.Marshal(r); err != nil {
				t.Error(err)
			}
		})
	}
	// A restart: the newer snapshot's counters are smaller.
	restarted := *in.Cur
	restarted.Time = in.Cur.Time.Add(time.Second)
	restarted.Runtime.HeapAllocsBytes, restarted.Runtime.GCCyclesTotal = 10, 1
	r := Analyze(AnalyzeInput{Prev: in.Cur, Cur: &restarted})
	if r.Efficiency.AllocBytesPerSecond != 0 || !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, "backwards") }) {
		t.Errorf("restart: rate %v, notes %q", r.Efficiency.AllocBytesPerSecond, r.Notes)
	}
}

// TestFindingsDoc fails when docs/findings.md and the rule table drift: every code has a heading
// of its own (its anchor) and every code documented exists, and every default threshold is named.
func TestFindingsDoc(t *testing.T) {
	b, err := os.ReadFile("../docs/findings.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^### ([a-z0-9_]+)\s*$`).FindAllStringSubmatch(doc, -1) {
		documented = append(documented, m[1])
	}
	codes := FindingCodes()
	for _, c := range codes {
		if !slices.Contains(documented, c) {
			t.Errorf("code %s has no '### %s' heading in docs/findings.md", c, c)
		}
	}
	for _, c := range documented {
		if !slices.Contains(codes, c) {
			t.Errorf("docs/findings.md documents %s, which no rule produces", c)
		}
	}
	for _, f := range reflectFieldNames(Thresholds{}) {
		if !strings.Contains(doc, "`"+f+"`") {
			t.Errorf("threshold %s is not in docs/findings.md", f)
		}
	}
	if len(codes) < 15 {
		t.Errorf("%d rules, want at least 15", len(codes))
	}
}

// TestAllocSitesDelta allocates at a known line between two real profile reads and finds it on
// top, with the sampling rate reported.
func TestAllocSitesDelta(t *testing.T) {
	runtime.GC()
	prev, err := ReadAllocProfile()
	if err != nil {
		t.Fatal(err)
	}
	for range 4096 {
		sink = make([]byte, 64<<10) // the allocation site
	}
	runtime.GC() // the profile advances when a cycle ends
	cur, err := ReadAllocProfile()
	if err != nil {
		t.Fatal(err)
	}
	cur.Time = prev.Time.Add(2 * time.Second)
	s := AllocSitesDelta(prev, cur, 3)
	if s == nil || len(s.Sites) == 0 {
		t.Fatalf("no sites: %+v", s)
	}
	top := s.Sites[0]
	if !strings.HasSuffix(top.Function, "TestAllocSitesDelta") || !strings.HasSuffix(top.File, "analyze_test.go") || top.Line == 0 {
		t.Errorf("top site %+v, want this test's make", top)
	}
	want := float64(4096*64<<10) / 2
	if top.BytesPerSecond < want/2 || top.BytesPerSecond > want*2 {
		t.Errorf("top site %v bytes/s, want about %v (sampled)", top.BytesPerSecond, want)
	}
	if s.SampleRateBytes != runtime.MemProfileRate || len(s.Sites) > 3 || s.WindowSeconds != 2 {
		t.Errorf("sites %+v", s)
	}
	if AllocSitesDelta(nil, cur, 3) != nil || AllocSitesDelta(cur, prev, 3) != nil {
		t.Error("a delta without a window in time order must be nil")
	}
}

func reflectFieldNames(v any) []string {
	t := reflect.TypeOf(v)
	out := make([]string, t.NumField())
	for i := range out {
		out[i] = t.Field(i).Name
	}
	return out
}

// splitForTest allocates inside the standard library (strings.genSplit) on behalf of its own
// line, the one a reader would change.
//
//go:noinline
func splitForTest(s string) []string {
	return strings.Split(s, ",") // the application's line
}

// TestAllocSitesAppFrame: a site whose allocating line is a library's carries the application's
// line that called it, and a site allocated by the application's own line carries that line.
func TestAllocSitesAppFrame(t *testing.T) {
	runtime.GC()
	prev, err := ReadAllocProfile()
	if err != nil {
		t.Fatal(err)
	}
	in := strings.Repeat("abcdefgh,", 512)
	for range 2048 {
		strSink = splitForTest(in)
	}
	runtime.GC()
	runtime.GC() // published by the end of the next cycle
	cur, err := ReadAllocProfile()
	if err != nil {
		t.Fatal(err)
	}
	cur.Time = prev.Time.Add(time.Second)
	s := AllocSitesDelta(prev, cur, 50)
	if s == nil {
		t.Fatal("no sites")
	}
	var found bool
	for _, site := range s.Sites {
		if site.Function != "strings.genSplit" {
			continue
		}
		if site.AppFrame == nil || !strings.HasSuffix(site.AppFrame.Function, ".splitForTest") ||
			!strings.HasSuffix(site.AppFrame.File, "analyze_test.go") || site.AppFrame.Line == 0 {
			t.Errorf("strings.genSplit site %+v: want the app frame splitForTest in analyze_test.go", site)
			continue
		}
		found = true
	}
	if !found {
		t.Fatalf("no strings.genSplit site among %d sites", len(s.Sites))
	}
	for _, site := range s.Sites {
		if site.AppFrame != nil && strings.HasPrefix(site.AppFrame.Function, memdiagModule) && !strings.HasSuffix(site.AppFrame.File, "_test.go") {
			t.Errorf("site %+v: memdiag's own code is never an application frame", site)
		}
	}
}

var strSink []string
