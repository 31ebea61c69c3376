package runtimediag

import (
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// fakeClock is a clock that moves only when a test advances it; its tickers fire as it passes
// their times, a buffered tick at most, as time.Ticker drops ticks for a slow reader.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	tickers []*fakeTicker
}

type fakeTicker struct {
	c       chan time.Time
	every   time.Duration
	next    time.Time
	stopped bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (f *fakeClock) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

func (f *fakeClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &fakeTicker{c: make(chan time.Time, 1), every: d, next: f.now.Add(d)}
	f.tickers = append(f.tickers, t)
	return t.c, func() {
		f.mu.Lock()
		defer f.mu.Unlock()
		t.stopped = true
	}
}

// Advance moves the clock d forward and fires every ticker whose time has come.
func (f *fakeClock) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = f.now.Add(d)
	for _, t := range f.tickers {
		for !t.stopped && !t.next.After(f.now) {
			select {
			case t.c <- t.next:
			default:
			}
			t.next = t.next.Add(t.every)
		}
	}
}

// withClock makes a Collector or a Monitor read its time from c.
func withClock(c clock) Option {
	return optionFunc(func(cfg *config) error { cfg.clock = c; return nil })
}

// clockedMonitor is a started Monitor on a fake clock, and the clock.
func clockedMonitor(t *testing.T, opts ...Option) (*Monitor, *fakeClock) {
	t.Helper()
	clk := newFakeClock()
	m := newTestMonitor(t, append(opts, withClock(clk))...)
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// The worker's baseline reading too: taken after the clock moved on, it would stand within half
	// a step of the first scheduled reading, which the half-step rule then skips (1 of 20 runs
	// under load).
	waitFor(t, 20*time.Second, "the first tick and the baseline reading", func() bool {
		s := m.Stats()
		return s.Ticks >= 1 && s.WindowReadings >= 1
	})
	return m, clk
}

// tickOnce advances the clock by one tick and waits until the Monitor has taken it and, when the
// test's schedule says the tick asks for them, the window reading and the full report: the worker
// reads the clock when it takes them, and must have done so before the clock moves on.
func tickOnce(t *testing.T, m *Monitor, clk *fakeClock, reading, full bool) {
	t.Helper()
	before := m.Stats()
	clk.Advance(m.mc.tick)
	now := clk.Now()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s := m.Stats()
		done := s.Ticks > before.Ticks && (!reading || s.WindowReadings > before.WindowReadings)
		if done && full {
			_, rep := m.Latest()
			done = rep != nil && !rep.Time.Before(now)
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the tick at %s (reading %v, full report %v) not taken in 20 s", now, reading, full)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// TestScheduleOnFakeClock runs ten minutes of the default schedule — a tick a second, a window
// reading a minute, a full report and a summary line every five minutes and every minute — in
// as long as the readings take, and counts what it did.
func TestScheduleOnFakeClock(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	m, clk := clockedMonitor(t, WithTickInterval(time.Second), WithFullInterval(5*time.Minute), WithLogInterval(time.Minute),
		WithLeakTracking(false), WithLogger(zap.New(core)))
	start := clk.Now()
	for i := 1; i <= 600; i++ {
		tickOnce(t, m, clk, i%60 == 0, i%300 == 0)
	}
	// The baseline reading at Start, then one a minute; a full report takes the minute's reading.
	end := start.Add(10 * time.Minute)
	waitFor(t, 20*time.Second, "the report at ten minutes", func() bool {
		_, rep := m.Latest()
		return rep != nil && !rep.Time.Before(end)
	})
	s := m.Stats()
	if s.Ticks != 601 || s.FullReports != 2 || s.WindowReadings != 11 {
		t.Errorf("ticks %d, full reports %d, window readings %d; want 601, 2, 11", s.Ticks, s.FullReports, s.WindowReadings)
	}
	waitFor(t, 20*time.Second, "ten summary lines", func() bool { return len(linesWith(logs, LogMessageSummary)) >= 10 })
	if lines := linesWith(logs, LogMessageSummary); len(lines) != 10 {
		t.Errorf("%d summary lines in ten minutes, want 10", len(lines))
	} else if w := lines[9].ContextMap()["interval_seconds"]; w != 60.0 {
		t.Errorf("the last summary line covers %v s, want 60", w)
	}
	_, rep := m.Latest()
	if !rep.Time.Equal(end) {
		t.Fatalf("latest report at %s, want %s", rep.Time, end)
	}
	if w := rep.Window; w == nil || w.Source != WindowFullInterval || w.Seconds != 300 || !w.End.Equal(rep.Time) {
		t.Errorf("the scheduled report's window %+v, want the five minutes before it", w)
	}
	if h := m.History(); len(h) != 601 || !h[len(h)-1].Time.Equal(start.Add(10*time.Minute)) || h[1].Time.Sub(h[0].Time) != time.Second {
		t.Errorf("history of %d points from %s to %s, want 601 a second apart", len(h), h[0].Time, h[len(h)-1].Time)
	}
}
