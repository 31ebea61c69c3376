package runtimediag

import "time"

// clock is the Monitor's and the Collector's time: the time stamped on each reading, the tick
// that takes them, and the deadlines computed from them. It is the real clock outside tests; a
// test drives a fake one (fakeClock) to run a schedule of readings without sleeping through it.
// The cost of a read (Snapshot.Duration, a source's cost, the tick's CPU) is measured on the real
// clock whatever this one says: it is a cost, not a point on the schedule.
type clock interface {
	Now() time.Time
	// NewTicker returns a channel that receives the time every d, as time.NewTicker's C, and the
	// function that stops it.
	NewTicker(d time.Duration) (<-chan time.Time, func())
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) NewTicker(d time.Duration) (<-chan time.Time, func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}
