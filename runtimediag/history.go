package runtimediag

import (
	"math"
	"sort"
	"sync"
	"time"
	"unsafe"

	"github.com/memdiag/memdiag/procself"
)

// maxHistoryBytes bounds the Monitor's history ring: an hour of 1 s ticks is about 2 MiB
// (3,600 points of maxPointBytes at most), and WithHistory refuses a window that would need more
// than this.
const maxHistoryBytes = 4 << 20

// pointSize is what one Point costs in the ring.
const pointSize = int(unsafe.Sizeof(Point{}))

// maxPointBytes is the budget of one Point: what the page plots per tick must stay this cheap
// (TestPointSizeBudget).
const maxPointBytes = 576

// historyRing is a fixed-capacity ring of Points, allocated once: pushing the newest point
// overwrites the oldest, so the tick never allocates. The mutex is held only to copy one Point in
// or the points out; the tick never waits on anything slower.
type historyRing struct {
	mu    sync.Mutex
	buf   []Point
	next  int // where the next point goes
	count int // how many slots hold a point
}

func newHistoryRing(capacity int) *historyRing {
	return &historyRing{buf: make([]Point, capacity)}
}

// push stores p as the newest point.
func (h *historyRing) push(p *Point) {
	h.mu.Lock()
	h.buf[h.next] = *p
	h.next++
	if h.next == len(h.buf) {
		h.next = 0
	}
	if h.count < len(h.buf) {
		h.count++
	}
	h.mu.Unlock()
}

// latest returns the newest point; ok is false before the first push.
func (h *historyRing) latest() (p Point, ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.count == 0 {
		return Point{}, false
	}
	i := h.next - 1
	if i < 0 {
		i = len(h.buf) - 1
	}
	return h.buf[i], true
}

// points returns a copy of the ring's points, oldest first.
func (h *historyRing) points() []Point {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := make([]Point, h.count)
	start := h.next - h.count
	if start < 0 {
		start += len(h.buf)
	}
	n := copy(out, h.buf[start:min(start+h.count, len(h.buf))])
	copy(out[n:], h.buf[:h.count-n])
	return out
}

// maxTrendPoints bounds the points a report's trend rules see: a window's ticks evenly thinned to
// at most this many, so that a report costs the same whatever the tick and the window.
const maxTrendPoints = 64

// window appends to dst the points from from to to (inclusive), oldest first, thinned evenly to
// at most max points (the first and the last kept), and returns it.
func (h *historyRing) window(dst []Point, from, to time.Time, max int) []Point {
	h.mu.Lock()
	defer h.mu.Unlock()
	start := h.next - h.count
	if start < 0 {
		start += len(h.buf)
	}
	at := func(i int) *Point { return &h.buf[(start+i)%len(h.buf)] }
	lo := sort.Search(h.count, func(i int) bool { return !at(i).Time.Before(from) })
	hi := sort.Search(h.count, func(i int) bool { return at(i).Time.After(to) })
	n := hi - lo
	if n <= 0 {
		return dst
	}
	if n <= max {
		for i := lo; i < hi; i++ {
			dst = append(dst, *at(i))
		}
		return dst
	}
	for k := range max {
		dst = append(dst, *at(lo + k*(n-1)/(max-1)))
	}
	return dst
}

// historyCapacity is how many ticks of interval tick a window of d holds (at least two, so that a
// trend has a start and an end).
func historyCapacity(d, tick float64) int {
	return max(2, int(math.Ceil(d/tick)))
}

// pointFrom fills p from the tick's snapshot cur; prev is the previous tick's (nil on the first)
// and bounds the GC pauses that count as new.
func pointFrom(p *Point, prev, cur *Snapshot) {
	rt := &cur.Runtime
	*p = Point{
		Time:              cur.Time,
		GoTotalBytes:      rt.TotalBytes,
		HeapObjectsBytes:  rt.HeapObjectsBytes,
		HeapLiveBytes:     rt.HeapLiveBytes,
		HeapGoalBytes:     rt.HeapGoalBytes,
		HeapReleasedBytes: rt.HeapReleasedBytes,
		AllocBytesTotal:   rt.HeapAllocsBytes,
		GCCyclesTotal:     rt.GCCyclesTotal,
		GCCPUSecondsTotal: rt.CPU.GCTotal,
		CPUSecondsTotal:   rt.CPU.Total,
		Goroutines:        uint32(min(rt.Goroutines, math.MaxUint32)),
		Threads:           uint32(min(rt.Threads, math.MaxUint32)),
	}
	if cur.Has(SourceStatm) {
		p.ResidentBytes = cur.Statm.ResidentBytes
	}
	p.LimitBytes = limitBytes(cur)
	if cur.Has(SourceCgroupMemory) {
		p.CgroupUsageBytes = cur.CgroupMemory.UsageBytes
	}
	if cur.Has(SourceGCPauses) {
		// Recent is newest first; the pauses of the cycles completed since prev are its head.
		// Without a previous point there is no "since": the history reaches back to the process's
		// start, and its maximum must not pass for a pause of this tick.
		n := 0
		if prev != nil && prev.Has(SourceGCPauses) {
			n = int(min(int64(len(cur.GCPauses.Recent)), max(0, cur.GCPauses.NumGC-prev.GCPauses.NumGC)))
		}
		for _, gp := range cur.GCPauses.Recent[:n] {
			p.PauseGCMaxSeconds = max(p.PauseGCMaxSeconds, gp.Duration.Seconds())
			p.addPause(gp)
		}
		if n > 0 {
			p.GCPauseCount = uint32(min(cur.GCPauses.NumGC-prev.GCPauses.NumGC, math.MaxUint32))
		}
	}
	c := &rt.CPU
	p.CPU = PointCPU{User: c.User, GCMarkAssist: c.GCMarkAssist, GCMarkBackground: c.GCMarkDedicated + c.GCMarkIdle,
		GCPause: c.GCPause, Scavenge: c.ScavengeTotal, Idle: c.Idle}
	if prev != nil {
		p.SchedLatency, p.SchedLatencyRead = deltaQuantiles(rt.SchedLatencies, prev.Runtime.SchedLatencies)
	}
	p.LiveObjectsRead = liveBySize(&p.LiveObjectsBySize, rt.AllocsBySize, rt.FreesBySize)
	if p.MutexWaitRead = rt.metricRead(mMutexWait); p.MutexWaitRead {
		p.MutexWaitSecondsTotal = rt.MutexWaitSeconds
	}
	if p.CgoCallsRead = rt.metricRead(mCgoCalls); p.CgoCallsRead {
		p.CgoCallsTotal = rt.CgoCalls
	}
	if p.StackStartingRead = rt.metricRead(mStackStart); p.StackStartingRead {
		p.StackStartingBytes = rt.StackStartingSize
	}
	if p.GCScanRead = rt.metricRead(mScanHeap) && rt.metricRead(mScanStack) && rt.metricRead(mScanGlobals); p.GCScanRead {
		p.GCScanHeapBytes, p.GCScanStackBytes, p.GCScanGlobalsBytes = rt.ScanHeapBytes, rt.ScanStackBytes, rt.ScanGlobalsBytes
	}
}

// addPause keeps gp among the point's longest pauses.
func (p *Point) addPause(gp GCPause) {
	pp := PointPause{EndUnixNano: gp.End.UnixNano(), DurationNanos: int64(gp.Duration)}
	n := int(p.pausesKept)
	if n < maxPointPauses {
		p.GCPauses[n] = pp
		p.pausesKept++
		return
	}
	shortest := 0
	for i := 1; i < n; i++ {
		if p.GCPauses[i].DurationNanos < p.GCPauses[shortest].DurationNanos {
			shortest = i
		}
	}
	if pp.DurationNanos > p.GCPauses[shortest].DurationNanos {
		p.GCPauses[shortest] = pp
	}
}

// Pauses returns the GC pauses the point kept, the longest of those since the previous point.
func (p *Point) Pauses() []PointPause { return p.GCPauses[:p.pausesKept] }

// deltaQuantiles is the p50, p99 and max of cur − prev, two reads of one cumulative histogram,
// each its bucket's upper bound (the lower bound for the unbounded last bucket), computed without
// a buffer; ok is false when nothing was recorded in between or the two do not match.
func deltaQuantiles(cur, prev Histogram) (q PointQuantiles, ok bool) {
	if len(cur.Counts) == 0 || len(prev.Counts) != len(cur.Counts) || len(cur.Buckets) != len(cur.Counts)+1 {
		return PointQuantiles{}, false
	}
	var total uint64
	for i, c := range cur.Counts {
		if c < prev.Counts[i] {
			return PointQuantiles{}, false
		}
		total += c - prev.Counts[i]
	}
	if total == 0 {
		return PointQuantiles{}, false
	}
	upper := func(i int) float64 {
		if math.IsInf(cur.Buckets[i+1], 1) {
			return cur.Buckets[i]
		}
		return cur.Buckets[i+1]
	}
	rank50, rank99 := uint64(math.Ceil(0.5*float64(total))), uint64(math.Ceil(0.99*float64(total)))
	var seen uint64
	q.P50, q.P99 = math.NaN(), math.NaN()
	for i, c := range cur.Counts {
		d := c - prev.Counts[i]
		if d == 0 {
			continue
		}
		seen += d
		if math.IsNaN(q.P50) && seen >= rank50 {
			q.P50 = upper(i)
		}
		if math.IsNaN(q.P99) && seen >= rank99 {
			q.P99 = upper(i)
		}
		q.Max = upper(i)
	}
	return q, true
}

// liveBySize fills out with the live objects (allocated less freed) in each band of sizeBands;
// it reports false when the two histograms were not read or do not match.
func liveBySize(out *[len(sizeBands)]uint64, allocs, frees Histogram) bool {
	*out = [len(sizeBands)]uint64{}
	if len(allocs.Counts) == 0 || len(frees.Counts) != len(allocs.Counts) || len(allocs.Buckets) != len(allocs.Counts)+1 {
		return false
	}
	band := 0
	for i, a := range allocs.Counts {
		// Bucket i holds sizes in [Buckets[i], Buckets[i+1]): its largest is Buckets[i+1] − 1.
		hi := allocs.Buckets[i+1]
		for band < len(sizeBands)-1 && !math.IsInf(hi, 1) && hi-1 > float64(sizeBands[band]) {
			band++
		}
		if math.IsInf(hi, 1) {
			band = len(sizeBands) - 1
		}
		if f := frees.Counts[i]; a > f {
			out[band] += a - f
		}
	}
	return true
}

// limitBytes is the smallest of GOMEMLIMIT and the cgroup's effective limit; 0 when neither is set.
func limitBytes(s *Snapshot) uint64 {
	var limit uint64
	if gml := s.Runtime.GOMEMLIMITBytes; gml > 0 && gml != math.MaxInt64 {
		limit = uint64(gml)
	}
	if s.Has(SourceCgroupMemory) && s.CgroupMemory.Present.Has(procself.CgroupHasEffectiveLimit) {
		if el := s.CgroupMemory.EffectiveLimit; !el.Unlimited && el.Bytes > 0 && (limit == 0 || el.Bytes < limit) {
			limit = el.Bytes
		}
	}
	return limit
}
