package runtimediag

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// The Monitor's reports describe windows between readings it schedules itself — a cheap snapshot
// and an allocation profile reading taken together every step — never between the moments
// viewers asked. A viewer can choose among the windows the readings bound, and nothing a viewer
// does moves them.

// Window sources, as Report.Window.Source names them.
const (
	WindowFullInterval = "full_interval"
	WindowSinceStart   = "since_start"
	WindowRequested    = "requested"
	WindowNone         = "none"
)

// ErrWindowOutOfRange is returned for a requested window the Monitor's readings cannot bound:
// shorter than their step or longer than they reach back.
var ErrWindowOutOfRange = errors.New("runtimediag: window out of range")

// maxWindowReadings bounds the readings a Monitor keeps: 64 readings a step apart reach 63
// steps back (63 minutes at the default step).
const maxWindowReadings = 64

// maxWindowStep is the longest step between readings.
const maxWindowStep = time.Minute

// windowReading is one scheduled end of a window.
type windowReading struct {
	snap    *Snapshot
	prof    *AllocProfile // nil when it could not be read
	selfCPU time.Duration // memdiag's own CPU, cumulative, when the reading was taken
}

// windowRing holds the last readings, oldest first.
type windowRing struct {
	mu   sync.Mutex
	step time.Duration
	buf  []windowReading
	// taken counts readings ever taken: a report names its window by readings, and tests wait on it.
	taken uint64
}

// readingsPerFull is how many window readings a full interval holds when the step allows: five,
// as at the defaults (a reading a minute, a full report every five). The leak sources sample at
// window readings, and their trend test needs eight points: at five a full interval a leak is
// named within two full intervals, whatever the intervals.
const readingsPerFull = 5

// windowStep is the step between readings for a Monitor with these intervals: a fifth of the
// full interval when that is at most a minute, else a minute, never shorter than a tick.
func windowStep(tick, full time.Duration) time.Duration {
	step := maxWindowStep
	if full > 0 && full/readingsPerFull < step {
		step = full / readingsPerFull
	}
	return max(step, tick)
}

func newWindowRing(step time.Duration) *windowRing {
	return &windowRing{step: step, buf: make([]windowReading, 0, maxWindowReadings)}
}

func (r *windowRing) push(w windowReading) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) == cap(r.buf) {
		copy(r.buf, r.buf[1:])
		r.buf = r.buf[:len(r.buf)-1]
	}
	r.buf = append(r.buf, w)
	r.taken++
}

// newest is when the newest reading was taken; ok is false before the first.
func (r *windowRing) newest() (t time.Time, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.buf) == 0 {
		return time.Time{}, false
	}
	return r.buf[len(r.buf)-1].snap.Time, true
}

func (r *windowRing) count() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.taken
}

// chosenWindow is a window's two readings (copies: the ring moves) and how they were chosen. A
// zero start means no window; a zero end, no reading at all.
type chosenWindow struct {
	start, end windowReading
	info       ReportWindow
}

// choose picks the window among the readings taken no later than until (the report's snapshot:
// a window never ends after the moment its report describes; zero means every reading): the last
// requested when it is > 0, else the last full interval (or since the first reading while the
// Monitor has run less than that). The end is the newest such reading; the start is the newest
// reading at least the length before it, give or take half a step for the jitter of ticks. A
// requested window the readings cannot bound is an error wrapping ErrWindowOutOfRange, which
// names what they can.
func (r *windowRing) choose(requested, full time.Duration, until time.Time) (chosenWindow, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cw := chosenWindow{info: ReportWindow{Source: WindowNone, StepSeconds: r.step.Seconds()}}
	n := len(r.buf)
	for !until.IsZero() && n > 0 && r.buf[n-1].snap.Time.After(until) {
		n--
	}
	if n > 0 {
		cw.info.MaxSeconds = r.buf[n-1].snap.Time.Sub(r.buf[0].snap.Time).Seconds()
	}
	if requested > 0 {
		cw.info.RequestedSeconds = requested.Seconds()
		if requested < r.step {
			return cw, fmt.Errorf("%w: %s is shorter than the step between the Monitor's readings (%s)", ErrWindowOutOfRange, requested, r.step)
		}
		reach := time.Duration(cw.info.MaxSeconds * float64(time.Second))
		if n < 2 || requested > reach+r.step/2 {
			return cw, fmt.Errorf("%w: %s is longer than the Monitor's readings reach back (%s, one every %s)", ErrWindowOutOfRange, requested, reach.Round(time.Millisecond), r.step)
		}
	}
	if n < 2 {
		if n == 1 {
			cw.end = r.buf[0]
			cw.info.End = r.buf[0].snap.Time
			cw.info.Start = cw.info.End
		}
		return cw, nil
	}
	end := r.buf[n-1]
	want := requested
	source := WindowRequested
	if want <= 0 {
		want, source = full, WindowFullInterval
		if want <= 0 {
			want = maxWindowStep
		}
	}
	start := -1
	for i := n - 2; i >= 0; i-- {
		if end.snap.Time.Sub(r.buf[i].snap.Time) >= want-r.step/2 {
			start = i
			break
		}
	}
	if start < 0 {
		start = 0
		if source == WindowFullInterval {
			source = WindowSinceStart
		}
	}
	cw.start, cw.end = r.buf[start], end
	cw.info.Source = source
	cw.info.Start, cw.info.End = cw.start.snap.Time, end.snap.Time
	cw.info.Seconds = end.snap.Time.Sub(cw.start.snap.Time).Seconds()
	cw.info.GCCycles = sat(end.snap.Runtime.GCCyclesTotal, cw.start.snap.Runtime.GCCyclesTotal)
	return cw, nil
}
