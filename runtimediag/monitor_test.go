package runtimediag

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

func newTestMonitor(t *testing.T, opts ...Option) *Monitor {
	t.Helper()
	m, err := NewMonitor(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestMonitorLifecycle: nothing runs before Start; Start and Close are idempotent; Start after
// Close fails; Close stops every goroutine the Monitor started.
func TestMonitorLifecycle(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	before := runtime.NumGoroutine()
	m, err := NewMonitor(WithTickInterval(10*time.Millisecond), WithFullInterval(50*time.Millisecond), WithLogInterval(20*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	if n := runtime.NumGoroutine(); n != before {
		t.Errorf("NewMonitor started %d goroutines", n-before)
	}
	if p, rep := m.Latest(); !p.Time.IsZero() || rep != nil {
		t.Errorf("Latest before Start = %v, %v; want nothing", p.Time, rep)
	}
	ctx := context.Background()
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.Start(ctx); err != nil {
		t.Errorf("second Start: %v", err)
	}
	waitFor(t, 5*time.Second, "no full report in the background", func() bool { _, rep := m.Latest(); return rep != nil })
	waitFor(t, 5*time.Second, "fewer than 3 points", func() bool { return len(m.History()) >= 3 })
	if err := m.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := m.Start(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
	if _, err := m.Report(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Report after Close = %v, want ErrClosed", err)
	}
	n := len(m.History())
	time.Sleep(30 * time.Millisecond)
	if len(m.History()) != n {
		t.Error("the tick kept running after Close")
	}
}

// TestMonitorStopsWithStartContext: the Monitor's goroutines end with the context given to Start;
// Close then returns at once.
func TestMonitorStopsWithStartContext(t *testing.T) {
	m := newTestMonitor(t, WithTickInterval(10*time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "no tick", func() bool { return len(m.History()) > 0 })
	cancel()
	start := time.Now()
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Close took %s", d)
	}
}

// TestMonitorStoppedByStartContext: when Start's context ends the Monitor stops for good — its
// goroutines and flight recorder end, and a second Start says why instead of pretending to run —
// while Report goes on working and the log lines it makes are dropped and counted, not queued
// for a writer that is gone.
func TestMonitorStoppedByStartContext(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	core, logs := observer.New(zapcore.DebugLevel)
	m, err := NewMonitor(WithLogger(zap.New(core)), WithTickInterval(10*time.Millisecond),
		WithFullInterval(0), WithLogInterval(0), WithFlightRecorder(time.Second, 1<<20))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx, cancel := context.WithCancel(context.Background())
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "no tick", func() bool { return len(m.History()) > 0 })
	cancel()

	err = m.Start(context.Background())
	if !errors.Is(err, ErrMonitorStopped) || !errors.Is(err, context.Canceled) {
		t.Errorf("Start after its context ended = %v, want ErrMonitorStopped and context.Canceled", err)
	}
	waitFor(t, 5*time.Second, "the flight recorder still runs", func() bool { return !m.Stats().FlightRecorderOn })
	// The tick, the worker and the log writer are gone before Close.
	goleak.VerifyNone(t, goleak.IgnoreCurrent(), goleak.IgnoreTopFunction("github.com/memdiag/memdiag/runtimediag.(*Monitor).startFull.func1"))
	n := len(m.History())
	time.Sleep(30 * time.Millisecond)
	if len(m.History()) != n {
		t.Error("the tick kept running after its context ended")
	}

	if _, err := m.Report(context.Background()); err != nil {
		t.Errorf("Report after the context ended: %v", err)
	}
	dropped := m.Stats().LogLinesDropped
	// A finding no real report has: at least its appearance is a transition to log.
	m.afterFull(&Report{Time: time.Now(), Findings: []Finding{{Code: "test_only", Severity: SeverityWarning}}})
	if got := m.Stats().LogLinesDropped; got <= dropped {
		t.Errorf("log lines dropped = %d after a finding appeared, want more than %d", got, dropped)
	}
	if n := len(m.q.ch); n != 0 {
		t.Errorf("%d lines queued for a log writer that has stopped", n)
	}
	if n := len(linesWith(logs, LogMessageFinding)); n != 0 {
		t.Errorf("%d finding lines written after the Monitor stopped", n)
	}
}

func TestNewMonitorRejectsBadOptions(t *testing.T) {
	for name, opts := range map[string][]Option{
		"tick too short":          {WithTickInterval(time.Millisecond)},
		"negative full":           {WithFullInterval(-time.Second)},
		"full below tick":         {WithTickInterval(time.Second), WithFullInterval(500 * time.Millisecond)},
		"log below tick":          {WithTickInterval(time.Second), WithLogInterval(500 * time.Millisecond)},
		"negative log":            {WithLogInterval(-1)},
		"zero history":            {WithHistory(0)},
		"history over 4 MiB":      {WithTickInterval(10 * time.Millisecond), WithHistory(time.Hour)},
		"no trigger":              {WithTriggers()},
		"zero trigger":            {WithTriggers(Trigger{})},
		"fraction over one":       {WithTriggers(OnResidentFraction(1.5))},
		"fraction zero":           {WithTriggers(OnResidentFraction(0))},
		"pause zero":              {WithTriggers(OnGCPause(0))},
		"empty finding code":      {WithTriggers(OnFinding(""))},
		"no capture slots":        {WithCaptureStorage(0, 1<<20)},
		"tiny capture storage":    {WithCaptureStorage(1, 1000)},
		"negative cooldown":       {WithCaptureCooldown(-time.Second)},
		"recorder window short":   {WithFlightRecorder(time.Millisecond, 0)},
		"recorder bigger than st": {WithCaptureStorage(2, 2<<20), WithFlightRecorder(5*time.Second, 4<<20)},
		"top sites zero":          {WithTopAllocationSites(0)},
		"nil option":              {nil},
	} {
		if m, err := NewMonitor(opts...); err == nil {
			m.Close()
			t.Errorf("%s: no error", name)
		}
	}
}

// TestDefaultIntervalsFollowTheTick: a tick longer than the default full or log interval raises
// the default to the tick rather than failing; intervals set explicitly keep their value and are
// still checked against the tick.
func TestDefaultIntervalsFollowTheTick(t *testing.T) {
	tests := []struct {
		name          string
		opts          []Option
		wantFull      time.Duration
		wantLog       time.Duration
		wantErrSubstr string
	}{
		{"tick between the defaults", []Option{WithTickInterval(2 * time.Minute)}, 5 * time.Minute, 2 * time.Minute, ""},
		{"tick above both defaults", []Option{WithTickInterval(10 * time.Minute)}, 10 * time.Minute, 10 * time.Minute, ""},
		{"explicit log kept", []Option{WithTickInterval(2 * time.Minute), WithLogInterval(3 * time.Minute)}, 5 * time.Minute, 3 * time.Minute, ""},
		{"explicit full kept", []Option{WithTickInterval(10 * time.Minute), WithFullInterval(time.Hour)}, time.Hour, 10 * time.Minute, ""},
		{"explicit zero kept", []Option{WithTickInterval(10 * time.Minute), WithFullInterval(0), WithLogInterval(0)}, 0, 0, ""},
		{"explicit log below tick", []Option{WithTickInterval(2 * time.Minute), WithLogInterval(time.Minute)}, 0, 0, "log interval 1m0s is shorter"},
		{"explicit full below tick", []Option{WithTickInterval(10 * time.Minute), WithFullInterval(5 * time.Minute)}, 0, 0, "full interval 5m0s is shorter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMonitor(tt.opts...)
			if tt.wantErrSubstr != "" {
				if err == nil {
					m.Close()
					t.Fatalf("no error, want one containing %q", tt.wantErrSubstr)
				}
				if !strings.Contains(err.Error(), tt.wantErrSubstr) {
					t.Fatalf("error %q, want one containing %q", err, tt.wantErrSubstr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if m.mc.full != tt.wantFull || m.mc.logInterval != tt.wantLog {
				t.Errorf("full, log = %s, %s; want %s, %s", m.mc.full, m.mc.logInterval, tt.wantFull, tt.wantLog)
			}
		})
	}
}

// TestMonitorReportSharesOneCollection: concurrent callers share the full collection under way
// rather than each reading smaps; a caller whose context ends stops waiting without stopping it.
func TestMonitorReportSharesOneCollection(t *testing.T) {
	m := newTestMonitor(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	reps := make([]*Report, 8)
	for i := range reps {
		wg.Go(func() {
			r, err := m.Report(ctx)
			if err != nil {
				t.Error(err)
			}
			reps[i] = r
		})
	}
	wg.Wait()
	distinct := map[*Report]bool{}
	for _, r := range reps {
		distinct[r] = true
	}
	if n := m.Stats().FullReports; n != uint64(len(distinct)) || n > uint64(len(reps)) {
		t.Errorf("%d full collections for %d distinct reports", n, len(distinct))
	}
	if len(distinct) == len(reps) && len(reps) > 1 {
		t.Logf("no caller shared a collection (%d collections): the machine serialised them", len(distinct))
	}

	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := m.Report(canceled); !errors.Is(err, context.Canceled) {
		t.Errorf("Report with a canceled context = %v", err)
	}
	short, cancel2 := context.WithTimeout(ctx, time.Microsecond)
	defer cancel2()
	if _, err := m.Report(short); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Report with an expiring context = %v", err)
	}
	if _, rep := m.Latest(); rep == nil {
		t.Error("Latest has no report after Report")
	}
}

// TestMonitorTickAllocatesNothing: the steady-state tick (cheap read, point, ring, triggers)
// allocates nothing.
func TestMonitorTickAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	m := newTestMonitor(t, WithTickInterval(10*time.Millisecond), WithHistory(time.Second),
		WithTriggers(OnResidentFraction(0.9), OnGCPause(time.Hour)))
	m.tick()
	m.tick()
	if n := testing.AllocsPerRun(200, m.tick); n != 0 {
		t.Errorf("tick allocates %v times", n)
	}
	if got, want := len(m.History()), 100; got != want {
		t.Errorf("history holds %d points, want the capacity %d", got, want)
	}
}

func TestHistoryRingOldestFirst(t *testing.T) {
	h := newHistoryRing(3)
	if len(h.points()) != 0 {
		t.Fatal("empty ring has points")
	}
	for i := range 5 {
		h.push(&Point{Goroutines: uint32(i)})
		pts := h.points()
		if len(pts) != min(i+1, 3) || pts[len(pts)-1].Goroutines != uint32(i) {
			t.Fatalf("after %d pushes: %v", i+1, pts)
		}
		for j := 1; j < len(pts); j++ {
			if pts[j].Goroutines != pts[j-1].Goroutines+1 {
				t.Fatalf("not oldest first: %v", pts)
			}
		}
		if p, ok := h.latest(); !ok || p.Goroutines != uint32(i) {
			t.Fatalf("latest = %v", p)
		}
	}
}

// TestHistoryDefaultFitsBound: the default hour of 1 s ticks fits the 4 MiB bound with room.
func TestHistoryDefaultFitsBound(t *testing.T) {
	m := newTestMonitor(t)
	st := m.Stats()
	if st.HistoryCapacity != 3600 {
		t.Errorf("default capacity %d, want 3600", st.HistoryCapacity)
	}
	if b := st.HistoryCapacity * pointSize; b > maxHistoryBytes {
		t.Errorf("default history is %d bytes", b)
	} else {
		t.Logf("an hour of 1 s ticks: %d points × %d bytes = %d KiB", st.HistoryCapacity, pointSize, b>>10)
	}
}

func TestPointFromSnapshots(t *testing.T) {
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var prev, cur Snapshot
	c.ReadCheap(&prev)
	runtime.GC()
	c.ReadCheap(&cur)
	var p Point
	pointFrom(&p, &prev, &cur)
	if p.Time != cur.Time || p.GoTotalBytes == 0 || p.Goroutines == 0 || p.GCCyclesTotal == 0 || p.CPUSecondsTotal <= 0 {
		t.Errorf("point not filled: %+v", p)
	}
	if cur.Has(SourceGCPauses) && p.PauseGCMaxSeconds <= 0 {
		t.Errorf("a GC ran between the snapshots but the point has no pause: %+v", p)
	}
	if runtime.GOOS == "linux" && p.ResidentBytes == 0 {
		t.Error("no resident bytes on Linux")
	}
	// A second point from the same snapshot has no new GC: its pause is 0.
	pointFrom(&p, &cur, &cur)
	if p.PauseGCMaxSeconds != 0 {
		t.Errorf("pause %v with no GC between the snapshots", p.PauseGCMaxSeconds)
	}
}
