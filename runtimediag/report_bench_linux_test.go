package runtimediag

import (
	"context"
	"os"
	"runtime"
	"testing"
	"time"

	"github.com/memdiag/memdiag/internal/alonetest"
)

// BenchmarkMonitorReport is one whole Monitor.Report in steady state (the Monitor has taken
// reports before), at two resident sizes. bare-smaps-ns/op is a plain read of /proc/self/smaps
// into a reused buffer, timed in the same run right after each report: report-over-smaps is the
// report's cost in units of that floor.
func BenchmarkMonitorReport(b *testing.B) {
	for _, tc := range []struct {
		name     string
		resident int
	}{
		{"resident=20MiB", 20 << 20},
		{"resident=400MiB", 400 << 20},
	} {
		b.Run(tc.name, func(b *testing.B) {
			mapResident(b, tc.resident)
			m, err := NewMonitor(WithTickInterval(time.Hour))
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			for range 3 {
				if _, err := m.Report(context.Background()); err != nil {
					b.Fatal(err)
				}
			}
			buf := make([]byte, 0, 1<<20)
			var smapsNs, reportNs float64
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				// Alternate which goes first, so that neither always reads a warmer kernel.
				if i%2 == 0 {
					reportNs += timeReport(b, m)
					smapsNs += timeSmaps(b, &buf)
				} else {
					smapsNs += timeSmaps(b, &buf)
					reportNs += timeReport(b, m)
				}
			}
			b.ReportMetric(smapsNs/float64(b.N), "bare-smaps-ns/op")
			b.ReportMetric(reportNs/smapsNs, "report-over-smaps")
		})
	}
}

// readAll reads a whole file into buf, growing it as needed.
func readAll(b *testing.B, buf []byte, path string) []byte {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil || n == 0 {
			return buf
		}
	}
}

func timeReport(b *testing.B, m *Monitor) float64 {
	t0 := time.Now()
	if _, err := m.Report(context.Background()); err != nil {
		b.Fatal(err)
	}
	return float64(time.Since(t0).Nanoseconds())
}

func timeSmaps(b *testing.B, buf *[]byte) float64 {
	t0 := time.Now()
	*buf = readAll(b, (*buf)[:0], "/proc/self/smaps")
	return float64(time.Since(t0).Nanoseconds())
}

// reportBudgetBytes is what one Monitor.Report may allocate in steady state here. The target is
// 256 KiB; with an hour of history and a full-interval window a report measures 245-270 KB in a
// fresh test process, of which the full snapshot's sources take about 217 KB (resolving the
// memory cgroup from mountinfo, twice, is 80 KB of it) and grow with the process's threads and
// mappings: after this package's other tests it measures about 345 KB. The budget catches a
// return to the megabytes a report took when the allocs profile was written and parsed twice
// (about 1.8 MB).
const reportBudgetBytes = 512 << 10

// TestReportAllocationBudget holds one steady-state Monitor.Report to reportBudgetBytes: a
// Monitor with a full hour of history and window readings, as after an hour of running. It runs
// in a child process of its own: in the test binary's process the mappings and threads other
// tests left, and the goroutines they left allocating, are counted with the report (up to
// 830 KB a report under -count=20, against 245-270 KB in a fresh process).
func TestReportAllocationBudget(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	if alonetest.Run(t) {
		return
	}
	m := newTestMonitor(t, WithTickInterval(time.Second), WithHistory(time.Hour))
	steadyState(m)
	ctx := context.Background()
	for range 3 {
		if _, err := m.Report(ctx); err != nil {
			t.Fatal(err)
		}
	}
	const n = 5
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	for range n {
		if _, err := m.Report(ctx); err != nil {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&ms)
	per := (ms.TotalAlloc - before) / n
	rep, _ := m.Report(ctx)
	t.Logf("one report allocates %d bytes (window %s, %d history points)", per, rep.Window.Source, m.Stats().HistoryPoints)
	if rep.Window.Source != WindowFullInterval {
		t.Fatalf("window %+v, want the last full interval", *rep.Window)
	}
	if per > reportBudgetBytes {
		t.Errorf("one report allocates %d bytes, budget %d", per, reportBudgetBytes)
	}
}

// steadyState gives an unstarted Monitor what an hour of running would: a full history ring at
// 1 s ticks and window readings a minute apart, so that a report has a window and trend points
// to look at.
func steadyState(m *Monitor) {
	now := time.Now()
	n := len(m.hist.buf)
	for i := range n {
		m.hist.push(&Point{Time: now.Add(time.Duration(i-n) * time.Second), Goroutines: 10, ResidentBytes: 1 << 20})
	}
	for i := 10; i >= 1; i-- {
		snap := m.fullCol.Cheap()
		snap.Time = now.Add(-time.Duration(i) * time.Minute)
		prof := m.reader.read(false, true, false)
		prof.Time = snap.Time
		m.windows.push(windowReading{snap: snap, prof: prof})
	}
}
