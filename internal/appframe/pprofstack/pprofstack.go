// Package pprofstack reads a pprof sample's locations as appframe frames, and sums an allocation
// profile's samples by site. It is apart from appframe so that appframe needs nothing beyond the
// standard library: runtimediag picks frames of runtime.MemProfile records, which are no pprof
// protos (it links github.com/google/pprof/profile only to parse the goroutineleak profile).
//
// It is the one reader of -memprofile files and `allocs` protos by site: the gate's explain step
// (bench/gate) and `memdiag why` (bench/escape) both sum through [AllocSites]. runtimediag reads
// runtime.MemProfile records instead (no proto), and middleware's per-route figures read those
// through runtimediag.
package pprofstack

import (
	"errors"

	"github.com/google/pprof/profile"

	"github.com/memdiag/memdiag/internal/appframe"
)

// PickStack reduces a profile sample's locations (innermost first; each location's lines
// innermost first) to an [appframe.Stack] with m. ok is false for a stack without a named
// function.
func PickStack(m appframe.Matcher, locs []*profile.Location) (appframe.Stack, bool) {
	var frames []appframe.Located
	for li, loc := range locs {
		for _, ln := range loc.Line {
			if ln.Function == nil {
				continue
			}
			frames = append(frames, appframe.Located{
				Frame: appframe.Frame{Function: ln.Function.Name, File: ln.Function.Filename, Line: int(ln.Line)},
				Loc:   li,
			})
		}
	}
	return m.PickFrames(frames)
}

// ErrNotAllocProfile is returned for a profile without the alloc_objects and alloc_space sample
// types of a heap or allocs profile.
var ErrNotAllocProfile = errors.New("not a heap profile: no alloc_objects and alloc_space sample types")

// SampleIndex returns the position of the sample type typ (and unit, unless unit is "") in a
// profile's sample values, or -1 when the profile has none.
func SampleIndex(p *profile.Profile, typ, unit string) int {
	for i, st := range p.SampleType {
		if st.Type == typ && (unit == "" || st.Unit == unit) {
			return i
		}
	}
	return -1
}

// AllocIndex returns the positions of alloc_objects and alloc_space in a heap or allocs
// profile's sample values.
func AllocIndex(p *profile.Profile) (objects, bytes int, err error) {
	objects, bytes = SampleIndex(p, "alloc_objects", ""), SampleIndex(p, "alloc_space", "")
	if objects < 0 || bytes < 0 {
		return 0, 0, ErrNotAllocProfile
	}
	return objects, bytes, nil
}

// Site is what a profile allocated at one site: the stack's own frame (App), the frame that
// allocated (Leaf) and, from the site's first sample, the frames App was inlined into.
type Site struct {
	appframe.Stack
	// Objects and Bytes are the site's alloc_objects and alloc_space, each sample's value
	// divided by the ops given to [AllocSites].
	Objects, Bytes float64
}

// AllocSites sums p's alloc_objects and alloc_space by site — a sample's App and Leaf frames as
// [PickStack] picks them with own — dividing each sample's values by ops (1 keeps the totals).
// The sites come in the order of their first sample. Samples without a named function, or with
// fewer values than the sample types say, are left out.
func AllocSites(p *profile.Profile, own appframe.Matcher, ops float64) ([]Site, error) {
	oi, bi, err := AllocIndex(p)
	if err != nil {
		return nil, err
	}
	type key struct{ app, leaf appframe.Frame }
	index := map[key]int{}
	var out []Site
	for _, s := range p.Sample {
		if len(s.Value) <= max(oi, bi) {
			continue
		}
		st, ok := PickStack(own, s.Location)
		if !ok {
			continue
		}
		k := key{st.App, st.Leaf}
		i, ok := index[k]
		if !ok {
			i = len(out)
			index[k] = i
			out = append(out, Site{Stack: st})
		}
		out[i].Objects += float64(s.Value[oi]) / ops
		out[i].Bytes += float64(s.Value[bi]) / ops
	}
	return out, nil
}
