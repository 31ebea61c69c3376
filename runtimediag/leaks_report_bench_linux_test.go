package runtimediag

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// BenchmarkScheduledReportLeaks is one scheduled full report — its window reading (the allocation
// profile, and with tracking the heap in use by site and the source's step), the full collection,
// the leak sources' full reading (the base heap profile, one in heapBaseRefresh) and the analysis — with leak
// tracking off and on. A GC runs before each, outside the timer, so that every reading gives the
// heap-by-site source a new point (it skips readings with no GC cycle since the last).
func BenchmarkScheduledReportLeaks(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("leaks=%v", on), func(b *testing.B) {
			m, err := NewMonitor(WithTickInterval(time.Hour), WithLeakTracking(on))
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			ctx := context.Background()
			step := func() {
				var r windowReading
				r.snap = m.fullCol.Cheap()
				r.prof = m.reader.read(false, true, m.leaks != nil)
				m.leaks.sampleWindow(&r)
				r.prof.inuse = nil
				m.windows.push(r)
				if err := m.scheduledReport(ctx); err != nil {
					b.Fatal(err)
				}
			}
			for range 10 {
				runtime.GC()
				step()
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				b.StartTimer()
				step()
			}
		})
	}
}

// BenchmarkWindowReading is one window reading as the worker takes it — the cheap snapshot, the
// allocation profile read (with tracking, the in-use sum too) and the leak sources' step — after a
// GC outside the timer, so that the heap-by-site source takes every reading.
func BenchmarkWindowReading(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("leaks=%v", on), func(b *testing.B) {
			m, err := NewMonitor(WithTickInterval(time.Hour), WithLeakTracking(on))
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			step := func() {
				var r windowReading
				r.snap = m.fullCol.Cheap()
				r.prof = m.reader.read(false, true, m.leaks != nil)
				m.leaks.sampleWindow(&r)
				r.prof.inuse = nil
				m.windows.push(r)
			}
			for range 70 {
				runtime.GC()
				step()
			}
			b.ReportAllocs()
			for b.Loop() {
				b.StopTimer()
				runtime.GC()
				b.StartTimer()
				step()
			}
		})
	}
}
