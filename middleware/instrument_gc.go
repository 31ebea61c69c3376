package middleware

import (
	"runtime/debug"
	"sync"
	"sync/atomic"
	"weak"
)

// gcWatch tells a request whether a GC cycle ended while it ran, for the price of a weak pointer
// read, and then which pauses it sat through.
//
// Each epoch holds a weak pointer to a sentinel that nothing else refers to: the sentinel dies in
// the next collection, and weak.Pointer.Value sweeps its span first, so a request sees the death
// as soon as mark termination is over — not when a finalizer or the Monitor's tick gets round to
// it. A sentinel allocated while a mark phase runs is allocated black and survives that cycle:
// with collections back to back, a cycle can go unseen. The first request to find the sentinel
// dead starts the next epoch.
type gcWatch struct {
	cur atomic.Pointer[gcEpoch]
	// pauses is the pause history as of an epoch state (pauseList.state): read once per state
	// by whichever request first needs it, then shared.
	pauses atomic.Pointer[pauseList]

	mu    sync.Mutex // starting epochs, reading the pause history
	stats debug.GCStats
}

type gcEpoch struct {
	seq      uint64
	sentinel weak.Pointer[gcSentinel]
}

// gcSentinel has a pointer field so that it is never a tiny allocation, which would share its
// 16-byte block, and its liveness, with other objects.
type gcSentinel struct {
	_ *gcSentinel
	_ [2]uint64
}

// pauseList is the GC pauses, newest first, as unix nanoseconds of their end and their length.
type pauseList struct {
	state uint64 // gcWatch.state() before the history was read
	end   []int64
	dur   []int64
}

// maxPauses bounds the pauses kept: a request that lived through more collections than this is
// charged only the newest ones.
const maxPauses = 64

func (g *gcWatch) init() {
	g.cur.Store(newEpoch(0))
	g.pauses.Store(&pauseList{})
}

func newEpoch(seq uint64) *gcEpoch {
	return &gcEpoch{seq: seq, sentinel: weak.Make(new(gcSentinel))}
}

// begin is the epoch a request starts in, started anew when its sentinel is already dead.
func (g *gcWatch) begin() *gcEpoch {
	e := g.cur.Load()
	if e.sentinel.Value() != nil {
		return e
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if cur := g.cur.Load(); cur != e {
		return cur
	}
	n := newEpoch(e.seq + 1)
	g.cur.Store(n)
	return n
}

// sawGC reports whether a collection ended since begin returned e.
func (g *gcWatch) sawGC(e *gcEpoch) bool {
	return g.cur.Load() != e || e.sentinel.Value() == nil
}

// state counts the sentinel deaths seen: epoch n alive is n, epoch n dead is n+1, as is epoch
// n+1 alive (starting an epoch is no collection, and needs no new read of the history).
func (g *gcWatch) state() uint64 {
	e := g.cur.Load()
	if e.sentinel.Value() == nil {
		return e.seq + 1
	}
	return e.seq
}

// pausedWithin is the stop-the-world time, in nanoseconds, of the pauses that ended within
// [start, end] (unix nanoseconds).
func (g *gcWatch) pausedWithin(start, end int64) int64 {
	want := g.state()
	p := g.pauses.Load()
	if p.state < want {
		p = g.readPauses(want)
	}
	var total int64
	for i, e := range p.end {
		if e < start {
			break // newest first
		}
		if e <= end {
			total += p.dur[i]
		}
	}
	return total
}

func (g *gcWatch) readPauses(want uint64) *pauseList {
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.pauses.Load(); p.state >= want {
		return p
	}
	state := g.state()
	debug.ReadGCStats(&g.stats)
	n := min(len(g.stats.Pause), len(g.stats.PauseEnd), maxPauses)
	p := &pauseList{state: state, end: make([]int64, n), dur: make([]int64, n)}
	for i := range n {
		p.end[i] = g.stats.PauseEnd[i].UnixNano()
		p.dur[i] = int64(g.stats.Pause[i])
	}
	g.pauses.Store(p)
	return p
}
