// Package pprofstack reads a pprof sample's locations as appframe frames. It is apart from
// appframe so that the runtime side (runtimediag, linked into services) can pick application
// frames without linking github.com/google/pprof/profile.
package pprofstack

import (
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
