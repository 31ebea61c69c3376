package benchmarks

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/metrics"
	"slices"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/memdiag/memdiag/procself"
	"github.com/memdiag/memdiag/runtimediag"
)

// BenchmarkCheapSnapshot is memdiag's periodic read: runtime/metrics, GC pause history, statm and
// the cgroup's memory counters, into a reused snapshot.
func BenchmarkCheapSnapshot(b *testing.B) {
	c, err := runtimediag.NewCollector()
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var s runtimediag.Snapshot
	c.ReadCheap(&s)
	b.ReportAllocs()
	for b.Loop() {
		c.ReadCheap(&s)
	}
}

// BenchmarkFloorMetricsAllPlusStatm is the floor the issue measures against: metrics.Read of every
// runtime/metrics key plus a statm read through a kept-open file.
func BenchmarkFloorMetricsAllPlusStatm(b *testing.B) {
	all := slices.Clone(metrics.All())
	samples := make([]metrics.Sample, len(all))
	for i, d := range all {
		samples[i].Name = d.Name
	}
	r, err := procself.New("/").NewStatmReader()
	if err != nil {
		b.Skip("statm:", err)
	}
	defer r.Close()
	b.ReportAllocs()
	for b.Loop() {
		metrics.Read(samples)
		if _, err := r.Read(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkClientGolangGather is what a Prometheus scrape of a Go service costs with client_golang's
// Go collector exporting every runtime/metrics metric plus its process collector.
func BenchmarkClientGolangGather(b *testing.B) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(collectors.WithGoCollectorRuntimeMetrics(collectors.MetricsAll)),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	if _, err := reg.Gather(); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadMemStats is the classic way, at two GOMAXPROCS settings, with the stop-the-world time
// each call causes (estimated from the /sched/pauses/total/other histogram, whose buckets are a few
// percent wide) reported as stw-ns/op and the mean pause as stw-ns/pause.
func BenchmarkReadMemStats(b *testing.B) {
	for _, procs := range []int{2, 8} {
		b.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			var ms runtime.MemStats
			before := otherPauses()
			b.ReportAllocs()
			for b.Loop() {
				runtime.ReadMemStats(&ms)
			}
			n, secs := otherPauses().since(before)
			b.ReportMetric(secs*1e9/float64(b.N), "stw-ns/op")
			if n > 0 {
				b.ReportMetric(secs*1e9/float64(n), "stw-ns/pause")
			}
		})
	}
}

// BenchmarkCheapSnapshotSTW is BenchmarkCheapSnapshot with the same stop-the-world accounting as
// BenchmarkReadMemStats, so the two columns can be read side by side.
func BenchmarkCheapSnapshotSTW(b *testing.B) {
	for _, procs := range []int{2, 8} {
		b.Run(fmt.Sprintf("GOMAXPROCS=%d", procs), func(b *testing.B) {
			defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
			c, err := runtimediag.NewCollector()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			var s runtimediag.Snapshot
			c.ReadCheap(&s)
			before := otherPauses()
			b.ReportAllocs()
			for b.Loop() {
				c.ReadCheap(&s)
			}
			_, secs := otherPauses().since(before)
			b.ReportMetric(secs*1e9/float64(b.N), "stw-ns/op")
		})
	}
}

type pauseHist struct {
	counts  []uint64
	buckets []float64
}

func otherPauses() pauseHist {
	s := []metrics.Sample{{Name: "/sched/pauses/total/other:seconds"}}
	metrics.Read(s)
	h := s[0].Value.Float64Histogram()
	return pauseHist{counts: slices.Clone(h.Counts), buckets: h.Buckets}
}

// since is the number of pauses and their estimated total seconds (bucket midpoints) since prev.
func (h pauseHist) since(prev pauseHist) (n uint64, secs float64) {
	for i, c := range h.counts {
		d := c - prev.counts[i]
		if d == 0 {
			continue
		}
		lo, hi := h.buckets[i], h.buckets[i+1]
		mid := (lo + hi) / 2
		if math.IsInf(hi, 1) {
			mid = lo
		}
		if math.IsInf(lo, -1) {
			mid = hi
		}
		n += d
		secs += float64(d) * mid
	}
	return n, secs
}

func TestMain(m *testing.M) {
	fmt.Printf("goversion: %s\ngomaxprocs: %d\n", runtime.Version(), runtime.GOMAXPROCS(0))
	os.Exit(m.Run())
}
