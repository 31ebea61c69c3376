package escape

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"

	"github.com/google/pprof/profile"

	"github.com/memdiag/memdiag/internal/appframe"
	"github.com/memdiag/memdiag/internal/appframe/pprofstack"
)

// Frame is one function at one line of a sampled stack.
type Frame = appframe.Frame

// where is a frame's file base name and line.
func where(f Frame) string {
	if f.File == "" {
		return f.Function
	}
	return filepath.Base(f.File) + ":" + strconv.Itoa(f.Line)
}

// Site is an allocation site: the line of the program's own code an allocation is charged to,
// and the frame that allocated when that was library code.
type Site struct {
	// App is the first frame of the program's own code, counting from the allocation: the line
	// whose reason is looked up. It is the leaf itself when the program allocated there.
	App Frame `json:"app"`
	// Leaf is the innermost frame outside the runtime's allocator: strings.genSplit for a
	// strings.Split call, runtime.growslice for an append where the runtime's frames are
	// kept. Equal to App when the program's own line allocated.
	Leaf Frame `json:"leaf"`
	// InlinedInto are the frames App was inlined into, innermost first: the compiler reports
	// an inlined body's escapes at the call site, so the reason may be found there.
	InlinedInto []Frame `json:"inlined_into,omitempty"`
	// Objects and Bytes are what the site allocated, per benchmark iteration when the caller
	// divided by the iterations, else in the profile's own terms.
	Objects float64 `json:"objects"`
	Bytes   float64 `json:"bytes"`
}

// Library reports whether the allocation happened in library code called from App.
func (s *Site) Library() bool { return s.Leaf.Function != s.App.Function || s.Leaf.Line != s.App.Line }

// ProfileSites sums a heap or allocs profile (alloc_objects and alloc_space) by site, divides
// by ops (1 to keep the totals) and returns the sites by bytes, largest first. own says which
// functions are the program's own; a stack with none of them is charged to its leaf.
func ProfileSites(p *profile.Profile, own appframe.Matcher, ops float64) ([]Site, error) {
	if !(ops > 0) {
		return nil, fmt.Errorf("iterations %v: want more than 0", ops)
	}
	all, err := pprofstack.AllocSites(p, own, ops)
	if err != nil {
		return nil, err
	}
	out := make([]Site, 0, len(all))
	for _, s := range all {
		out = append(out, Site{App: s.App, Leaf: s.Leaf, InlinedInto: s.InlinedInto, Objects: s.Objects, Bytes: s.Bytes})
	}
	slices.SortStableFunc(out, func(a, b Site) int {
		if c := cmp.Compare(b.Bytes, a.Bytes); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Objects, a.Objects); c != 0 {
			return c
		}
		if c := cmp.Compare(a.App.File, b.App.File); c != 0 {
			return c
		}
		if c := cmp.Compare(a.App.Line, b.App.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Leaf.Function, b.Leaf.Function)
	})
	return out, nil
}
