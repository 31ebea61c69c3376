package runtimediag

import (
	"bytes"
	"fmt"
	"runtime/pprof"
	"slices"
	"sync"
	"testing"
	"time"
)

// parkN parks n goroutines on a channel, spread over four stacks (four groups), and returns the
// function that ends them.
func parkN(n int) (release func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(n)
	park := []func(){
		func() { defer wg.Done(); <-done },
		func() { defer wg.Done(); <-done },
		func() {
			defer wg.Done()
			select {
			case <-done:
			}
		},
		func() { defer wg.Done(); <-done },
	}
	for i := range n {
		go park[i%len(park)]()
	}
	return func() { close(done); wg.Wait() }
}

// BenchmarkGoroutineProfile reads and groups the goroutine profile at 1k, 10k and 100k parked
// goroutines: ns/op is one reading (the profile written in pprof format, then grouped);
// stw-max-ns is the longest stop-the-world pause the readings caused (upper bound of its
// runtime/metrics bucket; other pauses in the process count too), stw-p50-ns the median reading's,
// write-ns the profile alone,
// group-ns the grouping alone.
//
//	go test ./runtimediag -run '^$' -bench BenchmarkGoroutineProfile -benchtime=10x
func BenchmarkGoroutineProfile(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("goroutines=%d", n), func(b *testing.B) {
			release := parkN(n)
			defer release()
			time.Sleep(100 * time.Millisecond) // let them park
			var probe pauseProbe
			probe.init()
			var buf bytes.Buffer
			var stw, write, group time.Duration
			var pauses []time.Duration
			groups := 0
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				probe.start()
				t0 := time.Now()
				buf.Reset()
				if err := pprof.Lookup("goroutine").WriteTo(&buf, 0); err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				if p, ok := probe.longest(); ok {
					stw = max(stw, p)
					pauses = append(pauses, p)
				}
				gs, err := parseGoroutineProfile(&buf)
				if err != nil {
					b.Fatal(err)
				}
				write += t1.Sub(t0)
				group += time.Since(t1)
				groups = len(gs)
			}
			b.ReportMetric(float64(stw.Nanoseconds()), "stw-max-ns")
			if len(pauses) > 0 {
				slices.Sort(pauses)
				b.ReportMetric(float64(pauses[len(pauses)/2].Nanoseconds()), "stw-p50-ns")
			}
			b.ReportMetric(float64(write.Nanoseconds())/float64(b.N), "write-ns")
			b.ReportMetric(float64(group.Nanoseconds())/float64(b.N), "group-ns")
			b.ReportMetric(float64(groups), "groups")
		})
	}
}
