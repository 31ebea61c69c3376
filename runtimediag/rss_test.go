package runtimediag

import (
	"flag"

	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata")

// measure attributes the resident memory of a full snapshot, as the Monitor does.
func measure(a *rssattr.Attributor, s *Snapshot) (RSS, error) {
	in := rssReading(s)
	return a.Measure(&in)
}

func abs64(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

// estimate is the attribution's cheap tier on a snapshot, as the Monitor's summary does.
func estimate(a *rssattr.Attributor, s *Snapshot) RSS {
	in := rssCheapReading(s)
	return a.Estimate(&in)
}
