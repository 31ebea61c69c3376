package runtimediag

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"runtime/pprof"
	"slices"
	"time"

	"github.com/google/pprof/profile"
)

// AllocProfile is one reading of the runtime's sampled allocation profile, summed by the line that
// allocated: what [AllocSitesDelta] subtracts. It keeps no stacks, only one total per line, so a
// Monitor can hold one between ticks cheaply.
//
// The runtime publishes allocation samples when a GC cycle ends, so a reading counts allocations up
// to the last completed cycle, not up to Time: a delta covers the cycles completed between two reads.
type AllocProfile struct {
	Time time.Time // when the profile was read
	// SampleRateBytes is runtime.MemProfileRate when the profile was written: on average one
	// allocation is sampled per this many bytes, and the figures are scaled up from the samples.
	SampleRateBytes int64

	sites map[siteKey]siteCount
}

type siteKey struct {
	function, file string
	line           int64
}

type siteCount struct{ bytes, objects int64 }

// ReadAllocProfile reads the allocs profile of this process (pprof.Lookup("allocs"), in its proto
// form) and sums it by allocating line.
//
// It does not stop the world: writing the allocs (or heap) profile with debug=0 copies the
// profile's buckets under the runtime's profile lock (profMemActiveLock) while other goroutines
// keep running; only the text form (debug=1) calls runtime.ReadMemStats, which stops the world,
// and memdiag never asks for it. Its cost grows with the number of distinct allocating stacks:
// read it on the Monitor's full cadence, not every tick.
func ReadAllocProfile() (*AllocProfile, error) {
	p := pprof.Lookup("allocs")
	if p == nil {
		return nil, errors.New("runtimediag: no allocs profile in runtime/pprof")
	}
	t := time.Now()
	var buf bytes.Buffer
	if err := p.WriteTo(&buf, 0); err != nil {
		return nil, fmt.Errorf("runtimediag: writing the allocs profile: %w", err)
	}
	return parseAllocProfile(&buf, t)
}

// parseAllocProfile sums a pprof heap or allocs profile (gzipped or not) by the line that
// allocated: the innermost frame of each sample's leaf location.
func parseAllocProfile(r io.Reader, t time.Time) (*AllocProfile, error) {
	p, err := profile.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("runtimediag: parsing the allocs profile: %w", err)
	}
	iBytes, iObjects := -1, -1
	for i, st := range p.SampleType {
		switch st.Type {
		case "alloc_space":
			iBytes = i
		case "alloc_objects":
			iObjects = i
		}
	}
	if iBytes < 0 || iObjects < 0 {
		return nil, errors.New("runtimediag: allocs profile has no alloc_space and alloc_objects sample types")
	}
	ap := &AllocProfile{Time: t, SampleRateBytes: p.Period, sites: make(map[siteKey]siteCount)}
	for _, s := range p.Sample {
		if len(s.Value) <= max(iBytes, iObjects) {
			continue
		}
		k := siteKey{function: "(unknown)"}
		if len(s.Location) > 0 {
			if loc := s.Location[0]; len(loc.Line) > 0 && loc.Line[0].Function != nil {
				// Line[0] is the innermost inlined frame: the line that called the allocator.
				k = siteKey{function: loc.Line[0].Function.Name, file: loc.Line[0].Function.Filename, line: loc.Line[0].Line}
			}
		}
		c := ap.sites[k]
		c.bytes += s.Value[iBytes]
		c.objects += s.Value[iObjects]
		ap.sites[k] = c
	}
	return ap, nil
}

// defaultTopSites is how many sites AllocSitesDelta keeps when asked for none in particular.
const defaultTopSites = 10

// AllocSitesDelta is what each line allocated between two readings, the top lines by bytes
// (top ≤ 0 means 10). It is nil when either reading is missing or they are not in time order: a
// profile alone is cumulative since the process started and has no window. Lines whose totals went
// down (a profile from another process) count as zero.
func AllocSitesDelta(prev, cur *AllocProfile, top int) *AllocationSites {
	if prev == nil || cur == nil {
		return nil
	}
	secs := cur.Time.Sub(prev.Time).Seconds()
	if !(secs > 0) {
		return nil
	}
	if top <= 0 {
		top = defaultTopSites
	}
	type delta struct {
		k              siteKey
		bytes, objects int64
	}
	var all []delta
	var total int64
	for k, c := range cur.sites {
		p := prev.sites[k]
		d := delta{k: k, bytes: max(c.bytes-p.bytes, 0), objects: max(c.objects-p.objects, 0)}
		if d.bytes == 0 && d.objects == 0 {
			continue
		}
		total += d.bytes
		all = append(all, d)
	}
	// Sorted by bytes, then by name: map order must not reach the report.
	slices.SortFunc(all, func(a, b delta) int {
		if c := cmp.Compare(b.bytes, a.bytes); c != 0 {
			return c
		}
		if c := cmp.Compare(a.k.function, b.k.function); c != 0 {
			return c
		}
		if c := cmp.Compare(a.k.file, b.k.file); c != 0 {
			return c
		}
		return cmp.Compare(a.k.line, b.k.line)
	})
	out := &AllocationSites{
		WindowSeconds:       secs,
		SampleRateBytes:     int(cur.SampleRateBytes),
		TotalBytesPerSecond: finite(float64(total) / secs),
		Sites:               []AllocationSite{},
	}
	for _, d := range all[:min(top, len(all))] {
		out.Sites = append(out.Sites, AllocationSite{
			Function:         d.k.function,
			File:             d.k.file,
			Line:             int(d.k.line),
			BytesPerSecond:   finite(float64(d.bytes) / secs),
			ObjectsPerSecond: finite(float64(d.objects) / secs),
			Share:            ratio(float64(d.bytes), float64(total)),
		})
	}
	return out
}
