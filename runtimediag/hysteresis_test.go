package runtimediag

import (
	"math"
	"math/rand/v2"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// fixtureInput loads a recorded fixture as Analyze's input, with the thresholds the fixture is
// tested with (compressedTrendFixtures).
func fixtureInput(t *testing.T, name string) AnalyzeInput {
	t.Helper()
	in, err := loadAnalyzeFixture(t, name).input()
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	th := DefaultThresholds()
	if compressedTrendFixtures[name] {
		th.TrendMinSpan = 0
	}
	in.Thresholds = &th
	return in
}

// shifted is in moved d later in time: the snapshots and the history, as if recorded then.
func shifted(in AnalyzeInput, d time.Duration) AnalyzeInput {
	out := in
	if in.Prev != nil {
		p := *in.Prev
		p.Time = p.Time.Add(d)
		out.Prev = &p
	}
	c := *in.Cur
	c.Time = c.Time.Add(d)
	out.Cur = &c
	out.History = slices.Clone(in.History)
	for i := range out.History {
		out.History[i].Time = out.History[i].Time.Add(d)
	}
	return out
}

// scaleFields multiplies the named threshold fields by k.
func scaleFields(th Thresholds, k float64, fields ...string) Thresholds {
	v := reflect.ValueOf(&th).Elem()
	for _, name := range fields {
		f := v.FieldByName(name)
		switch f.Kind() {
		case reflect.Float64:
			f.SetFloat(f.Float() * k)
		case reflect.Uint64:
			f.SetUint(uint64(math.Round(float64(f.Uint()) * k)))
		case reflect.Int64: // time.Duration
			f.SetInt(int64(math.Round(float64(f.Int()) * k)))
		default:
			panic("cannot scale threshold " + name)
		}
	}
	return th
}

func reported(r *Report, code string) bool {
	return slices.ContainsFunc(r.Findings, func(f Finding) bool { return f.Code == code })
}

// hoverRules name, per rule, the fixture it fires on and the thresholds that place its boundary.
// Rules whose condition is a fact rather than a figure (GOMEMLIMIT set or not, the limiter on, the
// GC off) cannot hover and are not listed.
var hoverRules = []struct {
	code, fixture string
	fields        []string
}{
	{"resident_near_cgroup_limit", "resident_near_cgroup_limit", []string{"CgroupNearWarning", "CgroupNearCritical"}},
	{"gc_cpu_high", "gc_limiter", []string{"GCCPUWarning", "GCCPUCritical"}},
	{"gc_too_frequent", "small_object_churn", []string{"GCCyclesPerSecond"}},
	{"gc_mark_assist_high", "mark_assist", []string{"AssistShare"}},
	{"heap_fragmentation", "fragmentation", []string{"FragmentationRatio"}},
	{"heap_free_not_returned", "heap_free", []string{"FreeRatio"}},
	{"non_go_memory_large", "cgo_heap", []string{"NonGoShare"}},
	{"threads_high", "threads_locked", []string{"ThreadsPerProc"}},
	{"goroutines_growing", "goroutine_leak", []string{"GoroutineGrowthMin"}},
	{"rss_growing_heap_flat", "c_heap_leak", []string{"RSSGrowthMinBytes"}},
	{"small_object_churn", "small_object_churn", []string{"SmallObjectsPerSecond"}},
	{"large_allocations_dominate", "large_allocations", []string{"LargeAllocShare"}},
	{"stw_pause_long", "stw_stopping", []string{"STWPauseMax"}},
	{"stw_stopping_long", "stw_stopping", []string{"STWStoppingMax"}},
	{"fds_near_limit", "fds_near_limit", []string{"FDsWarning", "FDsCritical"}},
	{"finalizer_backlog", "finalizer_backlog", []string{"FinalizerBacklog"}},
	{"lazy_free_resident", "lazy_free", []string{"LazyFreeShare"}},
	{"page_cache_in_cgroup", "page_cache", []string{"PageCacheShare"}},
	{"scan_heap_share_high", "scan_heap", []string{"ScanHeapShare"}},
	{"forced_gc_frequent", "forced_gc", []string{"ForcedGCPerSecond"}},
	{"heap_near_gomemlimit", "heap_near_gomemlimit", []string{"GOMEMLIMITHeadroomShare"}},
}

// TestFindingsDoNotFlap plays ten minutes of reports, one every 10 s of simulated time, in which
// each rule's figure hovers within ±10% of its threshold (the threshold moves around the recorded
// figure, which is the same to the rule), and counts the times the finding appears and clears:
// at most once each. The same sequence without the carried state shows what it prevents.
func TestFindingsDoNotFlap(t *testing.T) {
	const evaluations = 60 // 10 minutes at one report every 10 s
	for _, hr := range hoverRules {
		t.Run(hr.code, func(t *testing.T) {
			base := fixtureInput(t, hr.fixture)
			fires := func(k float64) bool {
				in := base
				th := scaleFields(*base.Thresholds, k, hr.fields...)
				in.Thresholds = &th
				return reported(Analyze(in), hr.code)
			}
			if !fires(1) {
				t.Fatalf("%s does not fire on %s", hr.code, hr.fixture)
			}
			// The boundary: a factor on the thresholds at which the rule stops firing, then bisected.
			quiet := 0.0
			for _, k := range []float64{2, 0.5, 4, 0.25, 16, 1.0 / 16, 256, 1.0 / 256, 1 << 16, 1.0 / (1 << 16)} {
				if !fires(k) {
					quiet = k
					break
				}
			}
			if quiet == 0 {
				t.Fatalf("%s fires whatever the thresholds %v", hr.code, hr.fields)
			}
			lo, hi := 1.0, quiet
			for range 40 {
				mid := math.Sqrt(lo * hi)
				if fires(mid) {
					lo = mid
				} else {
					hi = mid
				}
			}
			boundary := math.Sqrt(lo * hi)

			rng := rand.New(rand.NewPCG(1, uint64(len(hr.code))))
			var state *FindingState = &FindingState{}
			var appeared, cleared, statelessFlips int
			was, wasStateless := false, false
			for i := range evaluations {
				k := boundary * (1 + 0.1*(2*rng.Float64()-1))
				in := shifted(base, time.Duration(i)*10*time.Second)
				th := scaleFields(*base.Thresholds, k, hr.fields...)
				in.Thresholds = &th

				stateless := reported(Analyze(in), hr.code)
				if stateless != wasStateless {
					statelessFlips++
				}
				wasStateless = stateless

				in.State = state
				r := Analyze(in)
				state = r.State
				now := reported(r, hr.code)
				switch {
				case now && !was:
					appeared++
				case !now && was:
					cleared++
				}
				was = now
			}
			t.Logf("boundary at %.4g × the default thresholds: %d appeared, %d cleared; without the state it changed %d times",
				boundary, appeared, cleared, statelessFlips)
			if appeared > 1 || cleared > 1 {
				t.Errorf("%s appeared %d and cleared %d times in 10 minutes hovering at its threshold: want at most once each", hr.code, appeared, cleared)
			}
			if statelessFlips < 4 {
				t.Errorf("the figure did not hover: without the state the finding changed only %d times", statelessFlips)
			}
		})
	}
}

// TestFindingRaiseAndClear follows one rule (stw_pause_long: reported after 2 evaluations in a
// row, cleared after 3) through a sequence of windows with and without a long pause.
func TestFindingRaiseAndClear(t *testing.T) {
	base := fixtureInput(t, "stw_stopping")
	long := []bool{true, true, true, false, false, false, true, false, true, true}
	want := []bool{false, true, true, true, true, false, false, false, false, true}
	state := &FindingState{}
	var got []bool
	for i, l := range long {
		in := shifted(base, time.Duration(i)*time.Minute)
		th := *base.Thresholds
		if !l {
			th.STWPauseMax = time.Hour
		}
		in.Thresholds, in.State = &th, state
		r := Analyze(in)
		state = r.State
		got = append(got, reported(r, "stw_pause_long"))
		if got[i] && !l && !slices.ContainsFunc(r.Notes, func(n string) bool { return strings.Contains(n, "stw_pause_long is below its clear threshold") }) {
			t.Errorf("evaluation %d: a finding kept while below its clear threshold has no note saying so; notes %q", i, r.Notes)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("reported %v, want %v (long pause in %v)", got, want, long)
	}
}

// TestFindingNotEvaluatedOnShortWindow: the first report 50 ms after Start has no business
// saying large allocations dominate; it says why it did not evaluate the rule instead.
func TestFindingNotEvaluatedOnShortWindow(t *testing.T) {
	in := fixtureInput(t, "large_allocations")
	if !reported(Analyze(in), "large_allocations_dominate") {
		t.Fatal("large_allocations_dominate does not fire on its own fixture")
	}
	prev := *in.Prev
	prev.Time = in.Cur.Time.Add(-50 * time.Millisecond)
	in.Prev = &prev
	r := Analyze(in)
	if reported(r, "large_allocations_dominate") {
		t.Errorf("large_allocations_dominate reported over a 50 ms window")
	}
	const note = "large_allocations_dominate not evaluated: window 50 ms < 500 ms"
	if !slices.Contains(r.Notes, note) {
		t.Errorf("notes %q: want %q", r.Notes, note)
	}
}

// TestGoroutinesGrowingStops: a leak that stopped is no longer reported as growing.
func TestGoroutinesGrowingStops(t *testing.T) {
	in := fixtureInput(t, "goroutine_leak")
	if !reported(Analyze(in), "goroutines_growing") {
		t.Fatal("goroutines_growing does not fire on its own fixture")
	}
	// The same leak, then as long again with the count flat.
	h := trendSeries(in.History, in.Cur)
	last := h[len(h)-1]
	span := last.Time.Sub(h[0].Time)
	n := len(h)
	for i := 1; i <= n; i++ {
		p := last
		p.Time = last.Time.Add(span * time.Duration(i) / time.Duration(n))
		h = append(h, p)
	}
	cur := *in.Cur
	cur.Time = h[len(h)-1].Time
	in.Cur, in.History = &cur, h
	if r := Analyze(in); reported(r, "goroutines_growing") {
		i := slices.IndexFunc(r.Findings, func(f Finding) bool { return f.Code == "goroutines_growing" })
		t.Errorf("growth stopped half the history ago, still reported: %s", r.Findings[i].Headline)
	}
}

func TestBetween(t *testing.T) {
	tests := []struct {
		lo, hi float64
		want   string
	}{
		{0.016777216, 0.033554432, "between 16.8 and 33.6 ms"},
		{0.000917504, 0.001048576, "between 918 µs and 1.05 ms"},
		{0.5, math.Inf(1), "over 500 ms"},
		{0, 1e-6, "under 1 µs"},
		{math.NaN(), math.NaN(), "–"},
	}
	for _, tt := range tests {
		if got := between(tt.lo, tt.hi); got != tt.want {
			t.Errorf("between(%v, %v) = %q, want %q", tt.lo, tt.hi, got, tt.want)
		}
	}
}

// TestPauseHeadlinesAreRanges: a headline never prints a histogram bucket's bound as if it were
// a measured pause.
func TestPauseHeadlinesAreRanges(t *testing.T) {
	r := Analyze(fixtureInput(t, "stw_stopping"))
	for _, code := range []string{"stw_pause_long", "stw_stopping_long"} {
		i := slices.IndexFunc(r.Findings, func(f Finding) bool { return f.Code == code })
		if i < 0 {
			t.Fatalf("%s did not fire", code)
		}
		h := r.Findings[i].Headline
		if !strings.Contains(h, "between ") || regexp.MustCompile(`\d\.\d{4,}`).MatchString(h) {
			t.Errorf("%s headline %q: want bucket ranges (\"between … and … ms\"), never a raw bound", code, h)
		}
	}
}

// TestMonitorCarriesFindingState: the Monitor's reports are a series over its windows. A newer
// window is evaluated with the state the previous window left; the same window evaluated again
// (a second viewer, a page refresh) starts from the state before it, so it says the same thing
// and moves nothing on; a window a viewer asked for reads the state and leaves it alone.
func TestMonitorCarriesFindingState(t *testing.T) {
	m := newTestMonitor(t)
	first, err := m.Report(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if first.State == nil {
		t.Fatal("a Monitor report has no finding state: its findings are evaluated one-off")
	}
	rd, err := m.collectFull(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	at := func(sec int) chosenWindow {
		s := *rd.snap
		s.Time = time.Unix(int64(1_000_000+sec), 0)
		return chosenWindow{end: windowReading{snap: &s}}
	}
	carried := func() *FindingState {
		m.fullMu.Lock()
		defer m.fullMu.Unlock()
		return m.findings
	}
	w1 := m.analyze(rd, at(1), nil, true)
	if carried() != w1.State {
		t.Fatalf("a newer window: the Monitor carries %p, the report left %p", carried(), w1.State)
	}
	again := m.analyze(rd, at(1), nil, true)
	if carried() != w1.State {
		t.Errorf("the same window again moved the carried state: %p, want %p", carried(), w1.State)
	}
	if diff := cmp.Diff(w1.State, again.State); diff != "" {
		t.Errorf("the same window evaluated twice gave different states (-first +again):\n%s", diff)
	}
	asked := m.analyze(rd, at(2), nil, false)
	if carried() != w1.State || asked.State == nil {
		t.Errorf("a requested window changed the carried state")
	}
	w2 := m.analyze(rd, at(3), nil, true)
	if carried() != w2.State {
		t.Errorf("the next window did not advance the carried state")
	}
}

// TestClearRatioOutOfRange: a ClearRatio of 0 (a Thresholds built by hand) must not keep a
// finding forever; it clears at the raise threshold instead.
func TestClearRatioOutOfRange(t *testing.T) {
	base := fixtureInput(t, "finalizer_backlog")
	state := &FindingState{}
	for i, quiet := range []bool{false, true} {
		in := shifted(base, time.Duration(i)*time.Minute)
		th := *base.Thresholds
		th.ClearRatio = 0
		if quiet {
			th.FinalizerBacklog = 1 << 40
		}
		in.Thresholds, in.State = &th, state
		r := Analyze(in)
		state = r.State
		if got := reported(r, "finalizer_backlog"); got == quiet {
			t.Errorf("evaluation %d (backlog under the threshold: %v): reported %v", i, quiet, got)
		}
	}
}

// TestPauseSummaryRanges: a pause summary carries both bounds of each figure's histogram bucket,
// and prints the range, never the upper bound alone as if it were measured.
func TestPauseSummaryRanges(t *testing.T) {
	h := Histogram{
		Buckets: []float64{math.Inf(-1), 0.000001, 0.016777216, 0.029360128, 0.033554432, math.Inf(1)},
		Counts:  []uint64{0, 60, 39, 1, 0},
	}
	s := summarize(h)
	want := PauseSummary{Count: 100, P50: 0.016777216, P50Lower: 0.000001, P99: 0.029360128, P99Lower: 0.016777216,
		Max: 0.033554432, MaxLower: 0.029360128}
	if s != want {
		t.Errorf("summarize = %+v, want %+v", s, want)
	}
	if got := s.MaxRange(); got != "between 29.4 and 33.6 ms" {
		t.Errorf("MaxRange = %q", got)
	}
	if got := s.P50Range(); got != "between 1 µs and 16.8 ms" {
		t.Errorf("P50Range = %q", got)
	}
	if got := (PauseSummary{}).P99Range(); got != "–" {
		t.Errorf("empty P99Range = %q", got)
	}
	// The lowest bucket starts at -Inf: its lower bound is 0, and the range "under" its upper one.
	low := summarize(Histogram{Buckets: []float64{math.Inf(-1), 0.000001, 1}, Counts: []uint64{5, 0}})
	if low.P50Lower != 0 || low.P50 != 0.000001 || low.P50Range() != "under 1 µs" {
		t.Errorf("lowest bucket: %+v, %q", low, low.P50Range())
	}
}
