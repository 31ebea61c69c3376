package runtimediag

import (
	"math"
	"runtime/metrics"
	"slices"
)

// Histogram is a cumulative distribution read from runtime/metrics: Counts[i] events fell in
// [Buckets[i], Buckets[i+1]). The first and last boundaries may be -Inf and +Inf. Buckets is shared
// with the runtime and never modified; Counts belongs to the snapshot that holds the histogram.
type Histogram struct {
	Counts  []uint64  // events per bucket, cumulative since the process started
	Buckets []float64 // len(Counts)+1 boundaries, in the metric's unit (seconds or bytes)
}

// fromRuntime points h at a runtime/metrics histogram without copying: the sample buffer it came
// from is owned by the same snapshot.
func (h *Histogram) fromRuntime(v *metrics.Float64Histogram) {
	if v == nil {
		*h = Histogram{}
		return
	}
	h.Counts, h.Buckets = v.Counts, v.Buckets
}

// Total is the number of events recorded.
func (h Histogram) Total() uint64 {
	var n uint64
	for _, c := range h.Counts {
		n += c
	}
	return n
}

// Quantile estimates the q-quantile (0 ≤ q ≤ 1) as the upper boundary of the bucket holding it,
// never understating the value; an infinite upper boundary gives the bucket's lower boundary
// instead. It returns NaN for an empty histogram. QuantileRange gives the whole bucket.
func (h Histogram) Quantile(q float64) float64 {
	lo, hi := h.QuantileRange(q)
	return bucketValue(lo, hi)
}

// QuantileRange is the bucket [lo, hi) that holds the q-quantile: all a histogram knows of it.
// Both are NaN for an empty histogram.
func (h Histogram) QuantileRange(q float64) (lo, hi float64) {
	total := h.Total()
	if total == 0 || len(h.Buckets) != len(h.Counts)+1 {
		return math.NaN(), math.NaN()
	}
	q = min(max(q, 0), 1)
	rank := uint64(math.Ceil(q * float64(total)))
	if rank == 0 {
		rank = 1
	}
	var seen uint64
	for i, c := range h.Counts {
		seen += c
		if seen >= rank {
			return h.Buckets[i], h.Buckets[i+1]
		}
	}
	return h.Buckets[len(h.Buckets)-2], h.Buckets[len(h.Buckets)-1]
}

// Max is the upper boundary of the highest non-empty bucket (see Quantile); NaN when empty.
func (h Histogram) Max() float64 {
	lo, hi := h.MaxRange()
	return bucketValue(lo, hi)
}

// MaxRange is the highest non-empty bucket [lo, hi); both NaN when the histogram is empty.
func (h Histogram) MaxRange() (lo, hi float64) {
	if len(h.Buckets) != len(h.Counts)+1 {
		return math.NaN(), math.NaN()
	}
	for i := len(h.Counts) - 1; i >= 0; i-- {
		if h.Counts[i] > 0 {
			return h.Buckets[i], h.Buckets[i+1]
		}
	}
	return math.NaN(), math.NaN()
}

func bucketValue(lo, hi float64) float64 {
	if math.IsNaN(lo) {
		return math.NaN()
	}
	if math.IsInf(hi, 1) {
		return lo
	}
	return hi
}

// Delta writes h − prev (the events recorded between two reads of the same metric) into dst,
// reusing dst.Counts. A prev with other buckets, or counts that went backwards, is treated as
// absent: the result is then all of h.
func (h Histogram) Delta(prev Histogram, dst *Histogram) {
	counts := dst.Counts[:0]
	same := len(prev.Counts) == len(h.Counts) && sameBuckets(prev.Buckets, h.Buckets)
	for i, c := range h.Counts {
		if same && prev.Counts[i] > c {
			same = false
			break
		}
	}
	for i, c := range h.Counts {
		if same {
			c -= prev.Counts[i]
		}
		counts = append(counts, c)
	}
	dst.Counts, dst.Buckets = counts, h.Buckets
}

// sameBuckets reports whether two histograms have the same boundaries. Two reads of one runtime
// metric share the runtime's bucket slice, so the element comparison runs only for histograms
// from elsewhere (recorded snapshots).
func sameBuckets(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	if len(a) == 0 || &a[0] == &b[0] {
		return true
	}
	return slices.Equal(a, b)
}
