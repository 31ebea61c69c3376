// Package heapsample holds the one formula of the runtime's heap-profile sampling: an allocation
// of s bytes is recorded with probability 1-exp(-s/rate), rate being runtime.MemProfileRate at the
// time. runtimediag scales runtime.MemProfile records by it, as runtime/pprof does, and middleware
// undoes it to count the samples behind a route's estimate.
package heapsample

import "math"

// Probability is the chance that an allocation of size bytes is sampled at rate bytes per sample:
// 1-exp(-size/rate), computed as -expm1 so that it keeps its precision when size is far below rate.
// Every allocation is sampled when rate <= 1; none is counted with a size <= 0.
func Probability(size, rate float64) float64 {
	switch {
	case rate <= 1:
		return 1
	case size <= 0:
		return 0
	}
	return -math.Expm1(-size / rate)
}

// Scale undoes the sampling of one bucket of count objects totalling bytes: the estimated objects
// and bytes allocated, each times 1/Probability of the bucket's mean size, truncated as
// runtime/pprof truncates them. A bucket with no objects or no bytes stays empty.
func Scale(count, bytes, rate int64) (int64, int64) {
	if count <= 0 || bytes <= 0 {
		return 0, 0
	}
	p := Probability(float64(bytes)/float64(count), float64(rate))
	return int64(float64(count) / p), int64(float64(bytes) / p)
}
