package gcmodel

import (
	"fmt"
	"math"

	"github.com/memdiag/memdiag/internal/humanize"
)

// CandidateGOGC are the GOGC values every what-if table shows.
var CandidateGOGC = [...]int{Off, 50, 100, 200, 400}

// AutomemlimitShare is the share of the container limit that KimMachineGun/automemlimit sets as
// GOMEMLIMIT by default, whatever else lives in the container.
const AutomemlimitShare = 0.9

// DefaultHeadroomShare is the share of the container limit AdaptiveLimit keeps free beyond the
// measured non-Go memory: room for that memory to grow between two measurements.
const DefaultHeadroomShare = 0.05

// AdaptiveLimit is a memory limit that counts the memory the runtime cannot see: the container
// limit minus the measured non-Go resident memory minus headroom (a share of the container limit).
// It returns false when the result would not be positive.
func AdaptiveLimit(containerLimit, nonGoResident uint64, headroomShare float64) (int64, bool) {
	if containerLimit == 0 || containerLimit > math.MaxInt64 {
		return 0, false
	}
	headroom := uint64(float64(containerLimit) * headroomShare)
	if nonGoResident+headroom >= containerLimit {
		return 0, false
	}
	return int64(containerLimit - nonGoResident - headroom), true
}

// Candidates are the settings a report shows for w: every CandidateGOGC with the current limit;
// and where a container limit is known, the current GOGC and GOGC=off under automemlimit's fixed
// 90% limit and under the adaptive limit (only when the non-Go memory was measured).
func Candidates(w *Window) []Setting {
	out := make([]Setting, 0, len(CandidateGOGC)+4)
	add := func(s Setting) {
		for _, x := range out {
			if x == s {
				return
			}
		}
		out = append(out, s)
	}
	for _, g := range CandidateGOGC {
		add(Setting{GOGC: g, MemoryLimitBytes: w.MemoryLimitBytes})
	}
	if w.ContainerLimitBytes == 0 || w.ContainerLimitBytes > math.MaxInt64 {
		return out
	}
	limits := []int64{int64(float64(w.ContainerLimitBytes) * AutomemlimitShare)}
	if w.NonGoKnown {
		if l, ok := AdaptiveLimit(w.ContainerLimitBytes, w.NonGoResidentBytes, DefaultHeadroomShare); ok {
			limits = append(limits, l)
		}
	}
	for _, l := range limits {
		add(Setting{GOGC: w.GOGC, MemoryLimitBytes: l})
		add(Setting{GOGC: Off, MemoryLimitBytes: l})
	}
	return out
}

// Describe says in one sentence what moving from the observed setting to p would do:
// "GOGC=200 would take GC CPU from 11.8% to about 6.1% and the peak heap from 310 MiB to about
// 470 MiB; peak resident about 600 MiB, 180 MiB under the container limit".
func Describe(o Observed, current, p Prediction) string {
	s := fmt.Sprintf("%s would take GC CPU from %s to about %s", p.Setting, humanize.Percent(o.GCCPUShare), humanize.Percent(p.GCCPUShare))
	switch {
	case p.Unbounded:
		s += " and let the heap grow without bound"
	case current.Unbounded:
		s += fmt.Sprintf(" and hold the peak heap at about %s", humanize.Bytes(p.PeakHeapBytes))
	default:
		s += fmt.Sprintf(" and the peak heap from about %s to about %s", humanize.Bytes(current.PeakHeapBytes), humanize.Bytes(p.PeakHeapBytes))
	}
	if p.LimitBinds {
		s += "; the memory limit sets the pace"
	}
	if p.LimiterEngages {
		s += "; the GC CPU limiter would engage (GC capped at 50% and the heap above its goal)"
	}
	if p.ContainerKnown && !p.Unbounded {
		if p.ContainerHeadroomBytes >= 0 {
			s += fmt.Sprintf("; peak resident about %s, %s under the container limit", humanize.Bytes(p.PeakResidentBytes), humanize.Bytes(uint64(p.ContainerHeadroomBytes)))
		} else {
			s += fmt.Sprintf("; peak resident about %s, %s over the container limit", humanize.Bytes(p.PeakResidentBytes), humanize.Bytes(uint64(-p.ContainerHeadroomBytes)))
		}
	}
	return s
}
