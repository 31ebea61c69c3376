package middleware

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// The latency histogram is log-linear, like HdrHistogram: every power of two of nanoseconds from
// 2^10 (1.024 µs) to 2^37 (137 s) is cut into latSub equal buckets, so a bucket is at most
// 1/latSub = 6.25% of its lower bound wide, whatever the scale. A quantile reported as its
// bucket's midpoint is within 1/(2·latSub) ≈ 3.1% of every latency the bucket holds. Requests
// under 1.024 µs share the first bucket, requests of 137 s or more the last. Finding a request's
// bucket is a bit length and a shift: no loop, no lock, no allocation.
const (
	latSubBits = 4
	latSub     = 1 << latSubBits // buckets per power of two
	latMinExp  = 10              // 2^10 ns: the first bucket holds everything below
	latMaxExp  = 37              // 2^37 ns: the last bucket holds everything from here on
	latBuckets = 1 + (latMaxExp-latMinExp)*latSub + 1
)

// latMaxRelError is the bound on a quantile's relative error within the histogram's range.
const latMaxRelError = 1.0 / (2 * latSub)

// minRequestsP99 is how many requests a 99th percentile needs before it says more than the
// slowest request did.
const minRequestsP99 = 100

// latencyBucket is the bucket of a latency of ns nanoseconds.
func latencyBucket(ns int64) int {
	if ns < 1<<latMinExp {
		return 0
	}
	if ns >= 1<<latMaxExp {
		return latBuckets - 1
	}
	e := bits.Len64(uint64(ns)) - 1
	sub := int(uint64(ns)>>(e-latSubBits)) & (latSub - 1)
	return 1 + (e-latMinExp)*latSub + sub
}

// latencyBounds are bucket i's bounds in nanoseconds, [lo, hi); hi is +Inf for the last bucket.
func latencyBounds(i int) (lo, hi float64) {
	switch {
	case i <= 0:
		return 0, 1 << latMinExp
	case i >= latBuckets-1:
		return 1 << latMaxExp, math.Inf(1)
	}
	e := latMinExp + (i-1)/latSub
	sub := (i - 1) % latSub
	unit := float64(int64(1) << (e - latSubBits))
	return float64(latSub+sub) * unit, float64(latSub+sub+1) * unit
}

// latencyHistogram is one route's latencies.
type latencyHistogram struct {
	counts   [latBuckets]atomic.Uint64
	sumNanos atomic.Int64
	maxNanos atomic.Int64
}

func (h *latencyHistogram) observe(d time.Duration) {
	ns := int64(d)
	h.counts[latencyBucket(ns)].Add(1)
	h.sumNanos.Add(ns)
	for {
		m := h.maxNanos.Load()
		if ns <= m || h.maxNanos.CompareAndSwap(m, ns) {
			return
		}
	}
}

func (h *latencyHistogram) requests() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// fill sets s's request count, latency figures and non-empty buckets from one read of the counts.
func (h *latencyHistogram) fill(s *runtimediag.RouteStats) {
	var counts [latBuckets]uint64
	var n uint64
	for i := range h.counts {
		counts[i] = h.counts[i].Load()
		n += counts[i]
	}
	maxNs := float64(h.maxNanos.Load())
	s.Requests = n
	s.LatencySumSeconds = time.Duration(h.sumNanos.Load()).Seconds()
	s.LatencyBuckets = []runtimediag.LatencyBucket{}
	for i, c := range counts {
		if c == 0 {
			continue
		}
		lo, hi := latencyBounds(i)
		s.LatencyBuckets = append(s.LatencyBuckets, runtimediag.LatencyBucket{FromSeconds: lo / 1e9, UpToSeconds: hi / 1e9, Count: c})
	}
	if n == 0 {
		return
	}
	s.LatencyMaxSeconds = latencyPtr(maxNs / 1e9)
	s.LatencyP50Seconds = latencyPtr(latencyQuantile(&counts, n, 0.5, maxNs) / 1e9)
	if n >= minRequestsP99 {
		s.LatencyP99Seconds = latencyPtr(latencyQuantile(&counts, n, 0.99, maxNs) / 1e9)
	}
}

// latencyQuantile is the q-quantile in nanoseconds: the midpoint of the bucket holding the
// ⌈q·n⌉-th request, never more than the slowest request (which is also the answer in the last,
// unbounded bucket).
func latencyQuantile(counts *[latBuckets]uint64, n uint64, q, maxNs float64) float64 {
	rank := max(uint64(math.Ceil(q*float64(n))), 1)
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			lo, hi := latencyBounds(i)
			if math.IsInf(hi, 1) {
				return maxNs
			}
			return min((lo+hi)/2, maxNs)
		}
	}
	return maxNs
}

func latencyPtr[T any](v T) *T { return &v }
