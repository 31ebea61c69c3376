package runtimediag

import (
	"runtime/trace"
	"testing"
	"time"
)

// BenchmarkMonitorTick is one steady-state tick: the cheap read into a reused snapshot, the
// point, the ring and the trigger checks. It must report 0 allocs/op.
func BenchmarkMonitorTick(b *testing.B) {
	m, err := NewMonitor(WithTriggers(OnResidentFraction(0.9), OnGCPause(time.Second)))
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	m.tick()
	m.tick()
	b.ReportAllocs()
	for b.Loop() {
		m.tick()
	}
}

// BenchmarkFlightRecorderOverhead measures what a running flight recorder (WithFlightRecorder)
// costs a workload that switches goroutines and allocates — the events a trace records — by
// running the same work with the recorder off and on.
func BenchmarkFlightRecorderOverhead(b *testing.B) {
	work := func() {
		ping, pong := make(chan *[8]int), make(chan *[8]int)
		go func() {
			for v := range ping {
				pong <- v
			}
			close(pong)
		}()
		for i := range 1000 {
			ping <- &[8]int{i}
			<-pong
		}
		close(ping)
		<-pong
	}
	b.Run("off", func(b *testing.B) {
		for b.Loop() {
			work()
		}
	})
	b.Run("on", func(b *testing.B) {
		if trace.IsEnabled() {
			b.Skip("a trace is already running")
		}
		fr := trace.NewFlightRecorder(trace.FlightRecorderConfig{MinAge: 10 * time.Second, MaxBytes: 8 << 20})
		if err := fr.Start(); err != nil {
			b.Fatal(err)
		}
		defer fr.Stop()
		for b.Loop() {
			work()
		}
	})
}
