package middleware

import (
	"errors"
	"fmt"
	"math"

	"github.com/memdiag/memdiag/internal/heapsample"
	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
)

// allocAttribution turns the runtime's sampled allocation profile into bytes per request by
// route. Guarded by routeTable.mu.
type allocAttribution struct {
	// base is what the profile held under each function when the table was made: the profile
	// counts since the process started, the routes' requests since then.
	base map[string]routeAlloc
}

// baseline reads the profile once, summing it by every function on each stack, so that
// allocations made before Instrument (by an earlier table, or by a handler called another way)
// are not charged to its requests. An error leaves no baseline: the estimate then counts from
// the process's start.
func (a *allocAttribution) baseline() {
	p, err := runtimediag.ReadAllocProfile()
	if err != nil {
		return
	}
	rate := float64(p.SampleRateBytes)
	a.base = map[string]routeAlloc{}
	seen := map[string]bool{}
	for s := range p.Stacks() {
		v, ok := sampleAlloc(s, rate)
		if !ok {
			continue
		}
		clear(seen)
		for _, fn := range s.Functions {
			if seen[fn] {
				continue
			}
			seen[fn] = true
			b := a.base[fn]
			b.add(v)
			a.base[fn] = b
		}
	}
}

// routeAlloc is what the profile holds under one route's handler frames.
type routeAlloc struct {
	bytes    float64 // scaled, as the runtime scales them
	variance float64 // of bytes, from the sampling
	samples  float64
}

// fill sets the Alloc (or AllocNote) of every route in out, which parallels routes, from the
// profile reading p (the Monitor's for the report), or from a reading of its own when p is nil.
func (a *allocAttribution) fill(routes []*route, out []runtimediag.RouteStats, p *runtimediag.AllocProfile) {
	owner := map[string]int{} // frame → index of its route, -1 when several routes share it
	for i, rt := range routes {
		for _, f := range rt.frames {
			if j, ok := owner[f]; ok && j != i {
				owner[f] = -1
			} else {
				owner[f] = i
			}
		}
	}
	for i, rt := range routes {
		switch {
		case rt.name == RouteOther || rt.name == RouteUnmatched:
			out[i].AllocNote = "not attributed: requests of several handlers"
		case len(rt.frames) == 0:
			out[i].AllocNote = "not attributed: the route's handler is unknown (not a ServeMux pattern Instrument could look up)"
		case frameShared(rt.frames[0]):
			out[i].AllocNote = "not attributed: the handler is net/http's own (" + rt.frames[0] + ")"
		case owner[rt.frames[0]] < 0:
			out[i].AllocNote = "not attributed: the handler function " + rt.frames[0] + " serves other routes too"
		}
	}
	any := false
	for i := range out {
		if out[i].AllocNote == "" {
			any = true
		}
	}
	if !any {
		return
	}
	sums, rate, err := a.read(owner, len(routes), p)
	for i := range out {
		if out[i].AllocNote != "" {
			continue
		}
		if err != nil {
			out[i].AllocNote = "not attributed: " + err.Error()
			continue
		}
		if out[i].Requests == 0 {
			out[i].AllocNote = "not attributed: no requests yet"
			continue
		}
		s := sums[i]
		for _, f := range routes[i].frames {
			s.sub(a.base[f])
		}
		if note := tooFewSamples(s, out[i].Requests, rate); note != "" {
			out[i].AllocNote = note
			continue
		}
		ra := &runtimediag.RouteAlloc{
			BytesPerRequest: s.bytes / float64(out[i].Requests),
			Samples:         int64(math.Round(s.samples)),
			SampleRateBytes: int(rate),
			HandlerFrames:   routes[i].frames,
		}
		if s.bytes > 0 {
			ra.RelativeError = math.Sqrt(s.variance) / s.bytes
		}
		out[i].Alloc = ra
	}
}

// read sums the allocs profile by the route whose handler frame is innermost in each stack.
func (a *allocAttribution) read(owner map[string]int, n int, p *runtimediag.AllocProfile) ([]routeAlloc, int64, error) {
	if p == nil {
		var err error
		if p, err = runtimediag.ReadAllocProfile(); err != nil {
			return nil, 0, err
		}
	}
	sums := make([]routeAlloc, n)
	found := false
	for s := range p.Stacks() {
		found = true
		i := sampleRoute(s.Functions, owner)
		if i < 0 {
			continue
		}
		if v, ok := sampleAlloc(s, float64(p.SampleRateBytes)); ok {
			sums[i].add(v)
		}
	}
	if !found {
		return nil, 0, errNoStacks
	}
	return sums, p.SampleRateBytes, nil
}

// sampleAlloc is one stack's estimated bytes, with its sample count and variance.
func sampleAlloc(s runtimediag.AllocStack, rate float64) (routeAlloc, bool) {
	obj, b := float64(s.Objects), float64(s.Bytes)
	if obj <= 0 || b <= 0 {
		return routeAlloc{}, false
	}
	// The runtime scales a bucket of objects of one size by 1/p, p = heapsample.Probability, the
	// chance that an allocation of that size is sampled. Undo that for the sample count; the
	// estimate's variance is that of a binomial count scaled by size/p.
	size := b / obj
	prob := heapsample.Probability(size, rate)
	samples := obj * prob
	return routeAlloc{bytes: b, samples: samples, variance: samples * (1 - prob) * (size / prob) * (size / prob)}, true
}

func (r *routeAlloc) add(v routeAlloc) {
	r.bytes += v.bytes
	r.samples += v.samples
	r.variance += v.variance
}

// sub takes a baseline away; the profile's counts only grow, but never go below zero anyway.
func (r *routeAlloc) sub(v routeAlloc) {
	r.bytes = max(r.bytes-v.bytes, 0)
	r.samples = max(r.samples-v.samples, 0)
	r.variance = max(r.variance-v.variance, 0)
}

// sampleRoute is the route owning the innermost handler frame of a stack, -1 for none.
func sampleRoute(funcs []string, owner map[string]int) int {
	for _, fn := range funcs {
		if i, ok := owner[fn]; ok {
			return i
		}
	}
	return -1
}

// minAllocSamples is how many allocation samples an estimate needs: with fewer, one standard
// error is over a third of the estimate (about 1/√samples), and a route that allocates nothing
// would show the one sample that happened to fall in its window as hundreds of bytes a request.
const minAllocSamples = 10

// tooFewSamples says why s cannot be an estimate, "" when it can. With no sample at all it gives
// the bound the requests do support: a Poisson count of 0 has a 95% upper bound of 3 samples,
// so the route allocated under 3 × rate bytes in all.
func tooFewSamples(s routeAlloc, requests uint64, rate int64) string {
	n := int64(math.Round(s.samples))
	switch {
	case n >= minAllocSamples:
		return ""
	case n == 0:
		return fmt.Sprintf("too few samples: no allocation sampled in %d requests (one sample per %d bytes allocated on average); under %s per request with 95%% confidence",
			requests, rate, humanize.Bytes(uint64(math.Ceil(3*float64(rate)/float64(max(requests, 1))))))
	}
	return fmt.Sprintf("too few samples: %d allocation samples in %d requests (an estimate needs %d; one sample per %d bytes allocated on average)",
		n, requests, minAllocSamples, rate)
}

var errNoStacks = errors.New("the allocation profile reading holds no stacks")
