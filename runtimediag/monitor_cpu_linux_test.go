package runtimediag

import (
	"os"
	"syscall"
	"testing"
	"time"
)

// TestMonitorTickCPU measures what a Monitor at its default 1 s tick costs, over a run as long as
// MEMDIAG_TICK_CPU says (e.g. MEMDIAG_TICK_CPU=60s); it is skipped otherwise so that CI stays fast.
// It reports two figures as a percentage of one core:
//
//   - the tick's own time, summed by the Monitor (Stats().TickTime): the tick does no blocking I/O
//     and runs on one goroutine, so its wall time is its CPU time — the figure to quote;
//   - the whole process's CPU time (getrusage RUSAGE_SELF) with the Monitor running, minus an idle
//     run of the same length: an upper bound that also counts the timer wake-ups, the scheduler,
//     the GC of the test binary and noise.
//
// The Monitor runs with its defaults otherwise: no full report falls in a 60 s run (5 min), and one
// summary line a minute goes to a logger that discards it.
func TestMonitorTickCPU(t *testing.T) {
	d, err := time.ParseDuration(os.Getenv("MEMDIAG_TICK_CPU"))
	if err != nil || d <= 0 {
		t.Skip("set MEMDIAG_TICK_CPU=60s to measure the tick's CPU cost")
	}
	cpu := func() time.Duration {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			t.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	c0 := cpu()
	time.Sleep(d)
	idle := cpu() - c0

	m := newTestMonitor(t)
	if err := m.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	// Steady state: the first ticks open the files and size the buffers, and the worker reads its
	// baseline allocation profile once.
	waitFor(t, 10*time.Second, "no second tick", func() bool { return m.Stats().Ticks >= 2 })
	time.Sleep(100 * time.Millisecond)
	s0, c1 := m.Stats(), cpu()
	time.Sleep(d)
	busy := cpu() - c1
	s1 := m.Stats()
	m.Close()
	ticks, tickTime := s1.Ticks-s0.Ticks, s1.TickTime-s0.TickTime
	pct := func(x time.Duration) float64 { return 100 * x.Seconds() / d.Seconds() }
	t.Logf("%d ticks in %s: tick time %s (%.1f µs/tick) = %.4f%% of one core", ticks, d, tickTime,
		float64(tickTime.Nanoseconds())/1e3/float64(ticks), pct(tickTime))
	t.Logf("process CPU: %s with the Monitor, %s idle: difference %.4f%% of one core", busy, idle, pct(busy-idle))
	if pct(tickTime) > 0.05 {
		t.Errorf("the tick costs %.4f%% of one core, over the 0.05%% budget", pct(tickTime))
	}
}
