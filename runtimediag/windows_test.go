package runtimediag

import (
	"context"
	"errors"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWindowStep(t *testing.T) {
	for _, tc := range []struct {
		tick, full, want time.Duration
	}{
		{time.Second, 5 * time.Minute, time.Minute}, // the default
		{time.Second, 30 * time.Second, 6 * time.Second},
		{50 * time.Millisecond, 0, time.Minute}, // no full reports
		{2 * time.Minute, 5 * time.Minute, 2 * time.Minute},
		{10 * time.Millisecond, 100 * time.Millisecond, 20 * time.Millisecond},
		{50 * time.Millisecond, 100 * time.Millisecond, 50 * time.Millisecond}, // never below a tick
	} {
		if got := windowStep(tc.tick, tc.full); got != tc.want {
			t.Errorf("windowStep(%s, %s) = %s, want %s", tc.tick, tc.full, got, tc.want)
		}
	}
}

// ringOf is a window ring with a reading every step from t0, GC cycle i at reading i.
func ringOf(n int, step time.Duration) (*windowRing, time.Time) {
	r := newWindowRing(step)
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for i := range n {
		s := &Snapshot{Time: t0.Add(time.Duration(i) * step)}
		s.Runtime.GCCyclesTotal = uint64(i)
		r.push(windowReading{snap: s, selfCPU: time.Duration(i) * time.Millisecond})
	}
	return r, t0
}

func TestWindowChoose(t *testing.T) {
	const step = time.Minute
	r, t0 := ringOf(10, step) // readings at 0..9 min
	end := t0.Add(9 * step)
	for _, tc := range []struct {
		name            string
		requested, full time.Duration
		start           time.Time
		source          string
	}{
		{"the last full interval", 0, 5 * step, t0.Add(4 * step), WindowFullInterval},
		{"a full interval longer than the readings: since the first", 0, time.Hour, t0, WindowSinceStart},
		{"asked for 3m", 3 * step, 5 * step, t0.Add(6 * step), WindowRequested},
		{"asked for 2m20s: the nearest reading at least 2m before", 140 * time.Second, 5 * step, t0.Add(7 * step), WindowRequested},
		{"asked for all 9m", 9 * step, 5 * step, t0, WindowRequested},
		{"asked for a step", step, 5 * step, t0.Add(8 * step), WindowRequested},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cw, err := r.choose(tc.requested, tc.full, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if !cw.info.Start.Equal(tc.start) || !cw.info.End.Equal(end) || cw.info.Source != tc.source {
				t.Errorf("window %s – %s (%s), want %s – %s (%s)", cw.info.Start, cw.info.End, cw.info.Source, tc.start, end, tc.source)
			}
			if cw.info.Seconds != end.Sub(tc.start).Seconds() || cw.info.GCCycles != uint64(end.Sub(tc.start)/step) {
				t.Errorf("seconds %v, GC cycles %d", cw.info.Seconds, cw.info.GCCycles)
			}
			if cw.info.MaxSeconds != 9*60 || cw.info.StepSeconds != 60 {
				t.Errorf("max %v step %v", cw.info.MaxSeconds, cw.info.StepSeconds)
			}
		})
	}
	for _, d := range []time.Duration{time.Second, 59 * time.Second, 10 * step, 24 * time.Hour} {
		if _, err := r.choose(d, 5*step, time.Time{}); !errors.Is(err, ErrWindowOutOfRange) {
			t.Errorf("choose(%s) = %v, want ErrWindowOutOfRange", d, err)
		}
	}
	one, _ := ringOf(1, step)
	if cw, err := one.choose(0, 5*step, time.Time{}); err != nil || cw.info.Source != WindowNone || cw.start.snap != nil {
		t.Errorf("one reading: %+v, %v; want no window", cw.info, err)
	}
	if _, err := one.choose(step, 5*step, time.Time{}); !errors.Is(err, ErrWindowOutOfRange) {
		t.Errorf("one reading, asked for a step: %v, want ErrWindowOutOfRange", err)
	}
}

// TestWindowRingKeepsTheNewest fills the ring past its capacity: the oldest readings go, and a
// chosen window keeps its readings even after the ring moves.
func TestWindowRingKeepsTheNewest(t *testing.T) {
	r, t0 := ringOf(maxWindowReadings+5, time.Second)
	cw, err := r.choose(0, 10*time.Second, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.buf[0].snap.Time; !got.Equal(t0.Add(5 * time.Second)) {
		t.Errorf("oldest reading at %s, want %s", got, t0.Add(5*time.Second))
	}
	start := cw.start.snap.Time
	r.push(windowReading{snap: &Snapshot{Time: t0.Add(time.Hour)}})
	if !cw.start.snap.Time.Equal(start) {
		t.Error("a chosen window changed when the ring moved")
	}
}

func TestIsMemdiagStack(t *testing.T) {
	const rd, mw = memdiagModule + "runtimediag.", memdiagModule + "middleware."
	for _, tc := range []struct {
		name  string
		funcs []string
		files []string
		want  bool
	}{
		{"profile writing under the Monitor", []string{"compress/flate.NewWriter", "runtime/pprof.(*profileBuilder).build", rd + "ReadAllocProfile", rd + "(*Monitor).collectFull"}, nil, true},
		{"JSON under the handler tree", []string{"encoding/json.Marshal", mw + "writeJSON", mw + "(*tree).serveReportJSON", "net/http.(*conn).serve"}, nil, true},
		{"the application's handler under Instrument", []string{"encoding/json.Marshal", "main.handleUsers", "net/http.HandlerFunc.ServeHTTP", mw + "(*instrumented).ServeHTTP", "net/http.(*conn).serve"}, nil, false},
		{"a library handler under Instrument", []string{"os.ReadFile", "net/http.serveFile", mw + "(*instrumented).ServeHTTP"}, nil, false},
		{"Instrument's own bookkeeping", []string{mw + "(*routeTable).add", mw + "(*routeTable).lookup", mw + "(*instrumented).ServeHTTP.func1", mw + "(*instrumented).ServeHTTP"}, nil, true},
		{"memdiag's tree mounted under Instrument", []string{"encoding/json.Marshal", mw + "writeJSON", mw + "(*tree).ServeHTTP", "net/http.(*ServeMux).ServeHTTP", mw + "(*instrumented).ServeHTTP"}, nil, true},
		{"the application alone", []string{"bytes.growSlice", "main.work", "main.main"}, nil, false},
		{"net/http reading a request", []string{"bufio.NewReaderSize", "net/http.(*conn).serve"}, nil, false},
		{"a memdiag test", []string{rd + "churnSmallObjects", rd + "TestX"}, []string{"/src/runtimediag/e2e_test.go", "/src/runtimediag/e2e_test.go"}, false},
		{"memdiag code called from a memdiag test", []string{rd + "newHistoryRing", rd + "TestX"}, []string{"/src/runtimediag/history.go", "/src/runtimediag/x_test.go"}, true},
		{"an example is the application", []string{memdiagModule + "examples/service.handle"}, nil, false},
		{"no frames", nil, nil, false},
	} {
		if got := IsMemdiagStack(tc.funcs, tc.files); got != tc.want {
			t.Errorf("%s: IsMemdiagStack = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestExcludeSelf takes memdiag's share of the sampled profile out of the application's figures
// and keeps the process's.
func TestExcludeSelf(t *testing.T) {
	e := Efficiency{AllocBytesPerSecond: 1000, AllocObjectsPerSecond: 100, GCCPUFraction: 0.2, GCBusyCPUShare: 0.4, Churn: 2}
	excludeSelf(&e, &AllocationSites{GCCycles: 3, TotalBytesPerSecond: 250, MemdiagItself: &MemdiagSites{BytesPerSecond: 750, Share: 0.75, ObjectsShare: 0.5}})
	if e.ProcessAllocBytesPerSecond != 1000 || e.ProcessAllocObjectsPerSecond != 100 || e.ProcessGCCPUFraction != 0.2 {
		t.Errorf("process figures %v %v %v, want the unadjusted ones", e.ProcessAllocBytesPerSecond, e.ProcessAllocObjectsPerSecond, e.ProcessGCCPUFraction)
	}
	if e.AllocBytesPerSecond != 250 || e.AllocObjectsPerSecond != 50 || e.MeanObjectBytes != 5 || e.GCCPUFraction != 0.05 || e.GCBusyCPUShare != 0.1 || e.Churn != 0.5 {
		t.Errorf("application figures %+v", e)
	}
	if e.MemdiagExcluded == nil || e.MemdiagExcluded.AllocBytesShare != 0.75 || e.MemdiagExcluded.Method == "" {
		t.Errorf("MemdiagExcluded = %+v", e.MemdiagExcluded)
	}
	// No GC in the window: the profile says nothing, and nothing is taken out.
	e = Efficiency{AllocBytesPerSecond: 1000}
	excludeSelf(&e, &AllocationSites{GCCycles: 0, MemdiagItself: &MemdiagSites{BytesPerSecond: 1000, Share: 1}})
	if e.AllocBytesPerSecond != 1000 || e.MemdiagExcluded != nil {
		t.Errorf("without GC cycles: %v, %+v", e.AllocBytesPerSecond, e.MemdiagExcluded)
	}
	// GC cycles but nothing published yet: nothing is taken out either.
	excludeSelf(&e, &AllocationSites{GCCycles: 1, MemdiagItself: &MemdiagSites{}})
	if e.AllocBytesPerSecond != 1000 || e.MemdiagExcluded != nil {
		t.Errorf("nothing published: %v, %+v", e.AllocBytesPerSecond, e.MemdiagExcluded)
	}
}

// pollReports calls Report every interval until stop closes, keeping each report.
func pollReports(m *Monitor, interval time.Duration, stop <-chan struct{}, wg *sync.WaitGroup, out *[]*Report) {
	defer wg.Done()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if rep, err := m.Report(context.Background()); err == nil {
			*out = append(*out, rep)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// TestIdleApplication runs a Monitor over an application that does nothing while a viewer polls
// reports: everything allocated is memdiag's, so the application's rate is about zero, memdiag's
// line carries the allocation, and no memdiag frame, runtime/pprof or profile parsing shows among
// the application's sites.
func TestIdleApplication(t *testing.T) {
	// The runtime publishes a cycle's sampled allocations up to two cycles later: three cycles
	// publish what earlier tests allocated, and only windows starting after them are looked at.
	for range 3 {
		runtime.GC()
	}
	quiet := time.Now()
	m := newTestMonitor(t, WithTickInterval(10*time.Millisecond), WithFullInterval(200*time.Millisecond), WithLogInterval(0))
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var polled []*Report
	wg.Add(1)
	go pollReports(m, 5*time.Millisecond, stop, &wg, &polled)
	defer func() { close(stop); wg.Wait() }()
	var rep *Report
	waitFor(t, 20*time.Second, "a full-interval window with GC cycles", func() bool {
		_, rep = m.Latest()
		return rep != nil && rep.Window != nil && rep.Window.Source == WindowFullInterval && rep.Window.Start.After(quiet) &&
			rep.TopAllocationSites.published() && rep.MemdiagSelf.HeapInuseBytes > 0
	})
	s, e := rep.TopAllocationSites, rep.Efficiency
	t.Logf("window %s; process %.0f B/s, application %.0f B/s; memdiag itself %+v; self %+v", rep.Window.Source,
		e.ProcessAllocBytesPerSecond, e.AllocBytesPerSecond, *s.MemdiagItself, *rep.MemdiagSelf)
	for _, site := range s.Sites {
		t.Logf("application site %.0f B/s %s", site.BytesPerSecond, site.Function)
		for _, own := range []string{memdiagModule, "runtime/pprof.", "compress/flate.", "github.com/google/pprof/", "encoding/json."} {
			if strings.HasPrefix(site.Function, own) && !strings.HasSuffix(site.File, "_test.go") {
				t.Errorf("memdiag's own allocation among the application's sites: %s (%s:%d)", site.Function, site.File, site.Line)
			}
		}
	}
	if s.MemdiagItself == nil || s.MemdiagItself.Share < 0.8 {
		t.Errorf("memdiag itself = %+v, want most of the sampled bytes", s.MemdiagItself)
	}
	if e.MemdiagExcluded == nil || e.AllocBytesPerSecond > 0.2*e.ProcessAllocBytesPerSecond {
		t.Errorf("application rate %.0f B/s of the process's %.0f B/s (excluded %+v), want about zero", e.AllocBytesPerSecond, e.ProcessAllocBytesPerSecond, e.MemdiagExcluded)
	}
	if sc := rep.MemdiagSelf; sc == nil || sc.CPUSeconds <= 0 || sc.AllocBytesPerSecond <= 0 || sc.HeapInuseBytes == 0 {
		t.Errorf("memdiag_self = %+v, want its CPU, allocation and live heap", sc)
	}
}

// TestViewersSeeTheSameWindows has two viewers poll at different rates: every report either
// saw has a window the Monitor chose, and two reports with the same end have the same start,
// whoever asked and however often.
func TestViewersSeeTheSameWindows(t *testing.T) {
	const full = 100 * time.Millisecond
	m := newTestMonitor(t, WithTickInterval(10*time.Millisecond), WithFullInterval(full), WithLogInterval(0))
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var fast, slow []*Report
	wg.Add(2)
	go pollReports(m, 3*time.Millisecond, stop, &wg, &fast)
	go pollReports(m, 37*time.Millisecond, stop, &wg, &slow)
	waitFor(t, 20*time.Second, "ten window readings", func() bool { return m.Stats().WindowReadings >= 10 })
	close(stop)
	wg.Wait()

	startOf := map[time.Time]time.Time{} // window end → start
	seen := map[time.Time]int{}          // window end → viewers that saw it (bit per viewer)
	for v, reps := range [][]*Report{fast, slow} {
		for _, rep := range reps {
			w := rep.Window
			if w == nil {
				t.Fatal("a Monitor's report without a window")
			}
			if w.Source == WindowNone {
				continue
			}
			if w.Source == WindowFullInterval && w.Seconds < (full/2).Seconds() {
				t.Errorf("a %v s window: shorter than the full interval less half a step", w.Seconds)
			}
			if rep.WindowSeconds != w.Seconds || !w.End.Before(rep.Time.Add(time.Nanosecond)) {
				t.Errorf("window %+v against report time %s and window_seconds %v", *w, rep.Time, rep.WindowSeconds)
			}
			if s, ok := startOf[w.End]; ok && !s.Equal(w.Start) {
				t.Errorf("two windows ending at %s start at %s and %s", w.End, s, w.Start)
			}
			startOf[w.End] = w.Start
			seen[w.End] |= 1 << v
		}
	}
	both := 0
	for _, bits := range seen {
		if bits == 3 {
			both++
		}
	}
	t.Logf("fast viewer %d reports, slow %d; %d windows, %d seen by both", len(fast), len(slow), len(seen), both)
	if both < 2 {
		t.Errorf("the viewers shared %d windows, want several", both)
	}
}

// TestWindowWithoutGC turns the GC off: the allocation profile then has nothing new for the
// window, and the report says so instead of showing no sites next to a non-zero rate.
func TestWindowWithoutGC(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	m := newTestMonitor(t, WithTickInterval(10*time.Millisecond), WithFullInterval(50*time.Millisecond), WithLogInterval(0))
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "three window readings", func() bool { return m.Stats().WindowReadings >= 3 })
	rep, err := m.Report(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s := rep.TopAllocationSites
	if rep.Window.GCCycles != 0 || s == nil || s.GCCycles != 0 {
		t.Skipf("a GC cycle ran in the window anyway (window %+v)", *rep.Window)
	}
	if !strings.Contains(s.Note, "no GC cycle ended in the window") {
		t.Errorf("sites note %q, want it to say no GC cycle ended", s.Note)
	}
	if rep.Efficiency.ProcessAllocBytesPerSecond <= 0 || rep.Efficiency.MemdiagExcluded != nil {
		t.Errorf("efficiency %v B/s, excluded %+v: want the process's rate and nothing taken out", rep.Efficiency.ProcessAllocBytesPerSecond, rep.Efficiency.MemdiagExcluded)
	}
}

// TestReportWindow asks for windows the readings can and cannot bound.
func TestReportWindow(t *testing.T) {
	opts := []Option{WithTickInterval(10 * time.Millisecond), WithFullInterval(50 * time.Millisecond), WithLogInterval(0)}
	if _, err := newTestMonitor(t, opts...).ReportWindow(t.Context(), time.Second); !errors.Is(err, ErrWindowOutOfRange) {
		t.Errorf("before Start: %v, want ErrWindowOutOfRange", err)
	}
	m, clk := clockedMonitor(t, opts...)
	// Readings every 10 ms (a fifth of the full interval), on the fake clock: fifteen more after
	// the first reach back 150 ms, exactly.
	for i := 1; i <= 15; i++ {
		tickOnce(t, m, clk, true, i%5 == 0)
	}
	rep, err := m.ReportWindow(t.Context(), 100*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if w := rep.Window; w.Source != WindowRequested || w.RequestedSeconds != 0.1 || w.Seconds != 0.1 || !w.End.Equal(clk.Now()) {
		t.Errorf("window %+v, want the last 100 ms to %s, requested", *w, clk.Now())
	}
	if _, latest := m.Latest(); latest == rep {
		t.Error("a requested window was published as the Monitor's latest report")
	}
	for _, d := range []time.Duration{time.Millisecond, time.Hour, -time.Second} {
		if _, err := m.ReportWindow(t.Context(), d); !errors.Is(err, ErrWindowOutOfRange) {
			t.Errorf("ReportWindow(%s) = %v, want ErrWindowOutOfRange", d, err)
		}
	}
}

// TestFindingLinesNameTheWindow: a finding transition's log line says which window the finding
// holds over.
func TestFindingLinesNameTheWindow(t *testing.T) {
	m, logs := observedMonitor(t, WithTickInterval(time.Second), WithLogInterval(0), WithFullInterval(0))
	start := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	win := &ReportWindow{Start: start, End: start.Add(5 * time.Minute), Seconds: 300, Source: WindowFullInterval}
	m.afterFull(&Report{Time: win.End, Window: win, Findings: []Finding{{Code: "gc_cpu_high", Severity: SeverityWarning, Headline: "h"}}})
	waitFor(t, 5*time.Second, "a transition line", func() bool { return len(linesWith(logs, LogMessageFinding)) == 1 })
	c := linesWith(logs, LogMessageFinding)[0].ContextMap()
	if got, _ := c[fieldWindowStart].(time.Time); !got.Equal(win.Start) {
		t.Errorf("window_start = %v, want %s", c[fieldWindowStart], win.Start)
	}
	if got, _ := c[fieldWindowEnd].(time.Time); !got.Equal(win.End) {
		t.Errorf("window_end = %v, want %s", c[fieldWindowEnd], win.End)
	}
	if c[fieldWindowSource] != WindowFullInterval {
		t.Errorf("window_source = %v", c[fieldWindowSource])
	}
}
