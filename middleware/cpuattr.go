package middleware

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/google/pprof/profile"

	"github.com/memdiag/memdiag/internal/appframe/pprofstack"
	"github.com/memdiag/memdiag/runtimediag"
)

// CPUByRoute sums a CPU profile (the pprof proto /debug/pprof/profile serves, gzipped or not)
// by the profiler label route that Instrument sets with WithPprofLabels: each route's CPU, and
// of it the time in the allocator (runtime.mallocgc and its size-specialised variants, GC assist
// included) and in GC assist alone (runtime.gcAssistAlloc). Samples without the label are left
// out; a profile taken without WithPprofLabels gives an empty map.
func CPUByRoute(r io.Reader) (map[string]runtimediag.RouteCPU, error) {
	p, err := profile.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("middleware: parsing the CPU profile: %w", err)
	}
	iCPU := pprofstack.SampleIndex(p, "cpu", "nanoseconds")
	if iCPU < 0 {
		return nil, errors.New("middleware: not a CPU profile: no cpu/nanoseconds sample type")
	}
	secs := time.Duration(p.DurationNanos).Seconds()
	out := map[string]runtimediag.RouteCPU{}
	for _, s := range p.Sample {
		names := s.Label["route"]
		if len(names) == 0 || len(s.Value) <= iCPU {
			continue
		}
		c := out[names[0]]
		c.ProfileSeconds = secs
		v := time.Duration(s.Value[iCPU]).Seconds()
		c.CPUSeconds += v
		alloc, assist := allocFrames(s)
		if alloc || assist {
			c.AllocCPUSeconds += v
		}
		if assist {
			c.AssistCPUSeconds += v
		}
		out[names[0]] = c
	}
	return out, nil
}

// allocFrames reports whether a sample's stack is in the allocator and in GC assist.
func allocFrames(s *profile.Sample) (alloc, assist bool) {
	for _, loc := range s.Location {
		for _, l := range loc.Line {
			if l.Function == nil {
				continue
			}
			switch name := l.Function.Name; {
			case strings.HasPrefix(name, "runtime.gcAssistAlloc"):
				assist = true
			case strings.HasPrefix(name, "runtime.mallocgc"):
				alloc = true
			}
		}
	}
	return alloc, assist
}

// cpuAttribution is the last CPU profile's split by route. Guarded by routeTable.mu.
type cpuAttribution struct {
	byRoute map[string]runtimediag.RouteCPU
}

var _ runtimediag.CPURouteSource = (*routeTable)(nil)

// SetRouteCPU keeps a CPU profile's split by route for the routes' next statistics
// (RouteStats.CPU), replacing the last profile's.
func (t *routeTable) SetRouteCPU(byRoute map[string]runtimediag.RouteCPU) {
	t.mu.Lock()
	t.cpu.byRoute = byRoute
	t.mu.Unlock()
}

// Notes noteCPUProfile returns when a profile gives no route its CPU. The handler puts them in
// the X-Memdiag-Note header of /cpu: RouteStats has no field for them.
const (
	noteCPUNoInstrument = "no Instrument shares this Monitor: the CPU profile is not split by route"
	noteCPUNoLabels     = "no sample carried a route label: the split by route needs Instrument's WithPprofLabels (off by default) " +
		"and instrumented requests using CPU during the profile; the routes' cpu stays empty"
)

// noteCPUProfile keeps a CPU profile's split by route for the Monitor's reports (RouteStats.CPU),
// replacing the last profile's: the handler's /cpu calls it with what it served. It returns a
// note saying why no route got any CPU (no Instrument on the Monitor, or no labelled sample), ""
// when some did.
func noteCPUProfile(mon *runtimediag.Monitor, prof []byte) (note string, err error) {
	src, ok := mon.RouteSource().(runtimediag.CPURouteSource)
	if !ok {
		return noteCPUNoInstrument, nil
	}
	byRoute, err := CPUByRoute(bytes.NewReader(prof))
	if err != nil {
		return "", err
	}
	src.SetRouteCPU(byRoute)
	if len(byRoute) == 0 {
		return noteCPUNoLabels, nil
	}
	return "", nil
}
