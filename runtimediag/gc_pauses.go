package runtimediag

import (
	"runtime/debug"
	"time"
)

// GCPauseHistory is the runtime's record of its most recent stop-the-world GC pauses (up to 256),
// with the time each ended — what lets a pause be matched to the requests it delayed. It comes from
// runtime/debug.ReadGCStats, which takes the heap lock but does not stop the world.
type GCPauseHistory struct {
	NumGC      int64         // completed GC cycles
	LastGC     time.Time     // end of the last GC; zero if none
	PauseTotal time.Duration // sum of every pause since the process started
	// Recent holds the most recent pauses, newest first. Each GC cycle has two pauses (sweep
	// termination and mark termination); the runtime records their sum as one entry.
	Recent []GCPause
}

// GCPause is one GC cycle's stop-the-world time and when it ended. In JSON it is
// {"end": time, "duration_seconds": seconds} (MarshalJSON); the tags name those keys.
type GCPause struct {
	End      time.Time     `json:"end"`
	Duration time.Duration `json:"duration_seconds"`
}

// gcStatsReader owns the buffers debug.ReadGCStats fills, so that reads after the first allocate
// nothing.
type gcStatsReader struct{ stats debug.GCStats }

// read fills dst, reusing dst.Recent.
func (r *gcStatsReader) read(dst *GCPauseHistory) {
	debug.ReadGCStats(&r.stats)
	dst.NumGC = r.stats.NumGC
	dst.LastGC = time.Time{}
	if r.stats.NumGC > 0 {
		dst.LastGC = r.stats.LastGC
	}
	dst.PauseTotal = r.stats.PauseTotal
	recent := dst.Recent[:0]
	for i, d := range r.stats.Pause {
		if i >= len(r.stats.PauseEnd) {
			break
		}
		recent = append(recent, GCPause{End: r.stats.PauseEnd[i], Duration: d})
	}
	dst.Recent = recent
}
