package runtimediag

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"runtime/metrics"
	"runtime/pprof"
	"slices"
	"sync"
	"time"

	"github.com/memdiag/memdiag/runtimediag/internal/trend"
)

// Bounds of the goroutine source: what it keeps, and how often it may stop the world.
const (
	// goroutineMaxGroups is how many groups keep a series: the largest, and every growing one.
	goroutineMaxGroups = 64
	// goroutineMaxReadings is how many readings a group's series keeps (trend.MaxPoints).
	goroutineMaxReadings = trend.MaxPoints
	// goroutineTopGroups is how many groups Leaks.GoroutineGroups shows.
	goroutineTopGroups = 10
	// goroutineReadStep: up to this many goroutines the profile is read at every window reading;
	// above, at one in ceil(goroutines/goroutineReadStep) of them.
	goroutineReadStep = 10_000
	// goroutineCeiling: above this many goroutines the profile is not read at all.
	goroutineCeiling = 200_000
	// goroutinePauseBudget is the share of wall time the profile's stop-the-world may take: after
	// a pause of p, the next reading waits at least p/goroutinePauseBudget.
	goroutinePauseBudget = 0.001
	// goroutineLeakBudget is the share of wall time the goroutineleak profile (a GC cycle, and a
	// stop-the-world) may take: after a reading of d, the next waits at least d/goroutineLeakBudget.
	goroutineLeakBudget = 0.01
	// goroutineMinGrowth is the fewest goroutines a group must have gained to be a suspect.
	goroutineMinGrowth = 5
	// goroutineWeakPoints is the fewest readings a weak (rising at every reading) suspect needs.
	goroutineWeakPoints = 4
)

// goroutineSource groups the goroutine profile at window readings and keeps each group's count
// over time; where the runtime has the goroutineleak profile, it reads that at scheduled full
// reports, and every goroutine it lists is a proven leak.
type goroutineSource struct {
	mu sync.Mutex
	// stacks groups the live goroutines at each window reading. read, when set (tests), writes a
	// goroutine profile in pprof format that is parsed instead; readLeaks writes the goroutineleak
	// profile, nil when the runtime has none.
	stacks          stackGrouper
	read, readLeaks func(io.Writer) error
	probe           pauseProbe
	// pauseBudget is goroutinePauseBudget; tests that need readings at a steady pace on a loaded
	// machine, where a descheduled thread stretches a pause a hundredfold, raise it.
	pauseBudget float64
	cfg         trend.Config
	tester      trend.Tester
	buf         bytes.Buffer
	xs, ys      []float64

	origin    time.Time // x = seconds since origin
	scheduled int       // window readings offered
	readings  int       // profile readings taken
	skipped   int       // window readings skipped by the spacing rules
	over      bool      // the last reading offered was skipped for exceeding goroutineCeiling
	next      time.Time // the pause budget's next allowed reading
	lastPause time.Duration
	pauseOK   bool // lastPause was measured
	lastCount uint64
	lastErr   error
	groups    map[string]*goroutineSeries

	leakReadings int
	leakNext     time.Time
	leakErr      error
	proven       map[string]*goroutineSeries
}

// goroutineSeries is one group's count at each reading since it was first seen.
type goroutineSeries struct {
	g   goroutineGroup
	pts []LeakPoint
	res trend.Result
	// verdict: LeakSignificant, LeakWeak or "" (not a suspect).
	verdict string
}

func (s *goroutineSeries) current() float64 {
	if len(s.pts) == 0 {
		return 0
	}
	return s.pts[len(s.pts)-1].Value
}

func (s *goroutineSeries) push(p LeakPoint) {
	if len(s.pts) == goroutineMaxReadings {
		copy(s.pts, s.pts[1:])
		s.pts = s.pts[:len(s.pts)-1]
	}
	s.pts = append(s.pts, p)
}

// newGoroutineSource returns the goroutine source of this runtime: the goroutineleak profile is
// used when the runtime has it (Go 1.26 built with GOEXPERIMENT=goroutineleakprofile, Go 1.27).
func newGoroutineSource() *goroutineSource {
	s := &goroutineSource{
		cfg:         trend.DefaultConfig(),
		pauseBudget: goroutinePauseBudget,
	}
	if p := pprof.Lookup("goroutineleak"); p != nil {
		s.readLeaks = func(w io.Writer) error { return p.WriteTo(w, 0) }
	}
	s.probe.init()
	return s
}

func (s *goroutineSource) sampleWindow(r *windowReading) {
	if r.snap == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now, n := r.snap.Time, r.snap.Runtime.Goroutines
	s.scheduled++
	s.lastCount = n
	s.over = n > goroutineCeiling
	every := max(1, int((n+goroutineReadStep-1)/goroutineReadStep))
	if s.over || s.scheduled%every != 0 || now.Before(s.next) {
		s.skipped++
		return
	}
	s.probe.start()
	var groups []goroutineGroup
	var err error
	if s.read == nil {
		groups, err = s.stacks.read()
	} else {
		s.buf.Reset()
		err = s.read(&s.buf)
	}
	s.lastPause, s.pauseOK = s.probe.longest()
	if s.pauseOK {
		s.next = now.Add(time.Duration(float64(s.lastPause) / s.pauseBudget))
	}
	if err == nil && s.read != nil {
		groups, err = parseGoroutineProfile(&s.buf)
	}
	s.lastErr = err
	if err != nil {
		return
	}
	s.readings++
	if s.origin.IsZero() {
		s.origin = now
	}
	if s.groups == nil {
		s.groups = map[string]*goroutineSeries{}
	}
	s.track(s.groups, groups, now, goroutineMaxGroups)
	for _, g := range s.groups {
		s.test(g)
	}
	s.trim()
}

// track appends this reading to every tracked series (0 for a group not in it) and starts a
// series for each new group, up to limit groups beyond which only a group larger than the smallest
// untested one gets a series.
func (s *goroutineSource) track(into map[string]*goroutineSeries, groups []goroutineGroup, now time.Time, limit int) {
	seen := make(map[string]bool, len(groups))
	for i := range groups {
		g := &groups[i]
		k := g.key()
		if seen[k] {
			continue
		}
		seen[k] = true
		gs, ok := into[k]
		if !ok {
			if len(into) >= 4*limit { // trim keeps limit; this bounds a reading's transient growth
				continue
			}
			gs = &goroutineSeries{}
			into[k] = gs
		}
		gs.g = *g
		gs.push(LeakPoint{Time: now, Value: float64(g.count)})
	}
	for k, gs := range into {
		if !seen[k] {
			gs.g.count = 0
			gs.push(LeakPoint{Time: now, Value: 0})
		}
	}
}

// test decides whether a group's series grows.
func (s *goroutineSource) test(gs *goroutineSeries) {
	s.xs, s.ys = s.xs[:0], s.ys[:0]
	for _, p := range gs.pts {
		s.xs = append(s.xs, p.Time.Sub(s.origin).Seconds())
		s.ys = append(s.ys, p.Value)
	}
	gs.res = s.tester.Test(s.xs, s.ys, s.cfg)
	gs.verdict = ""
	switch {
	case gs.res.Verdict == trend.Growing && gs.res.Growth >= goroutineMinGrowth:
		gs.verdict = LeakSignificant
	case gs.res.Verdict == trend.TooFewPoints && len(s.ys) >= goroutineWeakPoints && risingEachStep(s.ys) &&
		s.ys[len(s.ys)-1]-s.ys[0] >= goroutineMinGrowth:
		gs.verdict = LeakWeak
	}
}

func risingEachStep(y []float64) bool {
	for i := 1; i < len(y); i++ {
		if y[i] <= y[i-1] {
			return false
		}
	}
	return true
}

// trim keeps the growing groups and, after them, the largest, up to goroutineMaxGroups; a group
// that has been empty for its last three readings and does not grow is dropped.
func (s *goroutineSource) trim() {
	for k, gs := range s.groups {
		if n := len(gs.pts); gs.verdict == "" && n >= 3 && gs.pts[n-1].Value == 0 && gs.pts[n-2].Value == 0 && gs.pts[n-3].Value == 0 {
			delete(s.groups, k)
		}
	}
	if len(s.groups) <= goroutineMaxGroups {
		return
	}
	all := s.sortedGroups()
	for _, gs := range all[goroutineMaxGroups:] {
		delete(s.groups, gs.g.key())
	}
}

// sortedGroups: suspects first, then the larger, then the older series, then by key.
func (s *goroutineSource) sortedGroups() []*goroutineSeries {
	all := make([]*goroutineSeries, 0, len(s.groups))
	for _, gs := range s.groups {
		all = append(all, gs)
	}
	slices.SortFunc(all, func(a, b *goroutineSeries) int {
		if (a.verdict != "") != (b.verdict != "") {
			if a.verdict != "" {
				return -1
			}
			return 1
		}
		if a.current() != b.current() {
			if a.current() > b.current() {
				return -1
			}
			return 1
		}
		if len(a.pts) != len(b.pts) {
			return len(b.pts) - len(a.pts)
		}
		if a.g.key() < b.g.key() {
			return -1
		}
		return 1
	})
	return all
}

// sampleFull reads the goroutineleak profile, when the runtime has one, within its budget.
func (s *goroutineSource) sampleFull(rd *fullReading) {
	if s.readLeaks == nil || rd == nil || rd.snap == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := rd.snap.Time
	if rd.snap.Runtime.Goroutines > goroutineCeiling || now.Before(s.leakNext) {
		return
	}
	start := time.Now()
	s.buf.Reset()
	err := s.readLeaks(&s.buf)
	s.leakNext = now.Add(time.Duration(float64(time.Since(start)) / goroutineLeakBudget))
	var groups []goroutineGroup
	if err == nil {
		groups, err = parseGoroutineProfile(&s.buf)
	}
	s.leakErr = err
	if err != nil {
		return
	}
	s.leakReadings++
	if s.proven == nil {
		s.proven = map[string]*goroutineSeries{}
	}
	s.track(s.proven, groups, now, goroutineMaxGroups)
	for k, gs := range s.proven {
		if gs.current() == 0 {
			delete(s.proven, k) // a leaked goroutine cannot end; gone means the group was misread
		}
	}
	if len(s.proven) > goroutineMaxGroups {
		all := make([]*goroutineSeries, 0, len(s.proven))
		for _, gs := range s.proven {
			all = append(all, gs)
		}
		slices.SortFunc(all, func(a, b *goroutineSeries) int { return int(b.current() - a.current()) })
		for _, gs := range all[goroutineMaxGroups:] {
			delete(s.proven, gs.g.key())
		}
	}
}

func (s *goroutineSource) fill(now time.Time, l *Leaks) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, gs := range s.proven {
		l.Suspects = append(l.Suspects, s.provenSuspect(gs))
	}
	all := s.sortedGroups()
	for _, gs := range all {
		if gs.verdict != "" {
			l.Suspects = append(l.Suspects, s.groupSuspect(gs))
		}
	}
	byCount := slices.Clone(all)
	slices.SortStableFunc(byCount, func(a, b *goroutineSeries) int {
		switch {
		case a.current() > b.current():
			return -1
		case a.current() < b.current():
			return 1
		}
		return 0
	})
	for _, gs := range byCount[:min(len(byCount), goroutineTopGroups)] {
		if gs.current() == 0 {
			break
		}
		l.GoroutineGroups = append(l.GoroutineGroups, gs.public())
	}
	l.Notes = append(l.Notes, s.notes()...)
}

// notes say how often the profile was read and what it cost, and what could not be read.
func (s *goroutineSource) notes() []string {
	var n []string
	pause := "its stop-the-world pause could not be measured"
	if s.pauseOK {
		pause = fmt.Sprintf("its longest stop-the-world pause at the last reading was at most %s", s.lastPause)
	}
	n = append(n, fmt.Sprintf("goroutine groups: the goroutine profile is read at window readings — every one up to %d goroutines, one in ceil(goroutines/%d) above, none above %d, and never sooner than %.0f× its last stop-the-world pause after it; %d readings taken, %d skipped; %s (%d goroutines)",
		goroutineReadStep, goroutineReadStep, goroutineCeiling, 1/goroutinePauseBudget, s.readings, s.skipped, pause, s.lastCount))
	if s.over {
		n = append(n, fmt.Sprintf("goroutine groups: not read: %d goroutines is above the ceiling of %d, where the profile's cost is not bounded enough for a periodic reading", s.lastCount, goroutineCeiling))
	}
	if s.readings < s.cfg.MinPoints {
		n = append(n, fmt.Sprintf("goroutine groups: %d of the %d readings a trend needs", s.readings, s.cfg.MinPoints))
	}
	if s.lastErr != nil {
		n = append(n, "goroutine groups: the last reading failed: "+s.lastErr.Error())
	}
	switch {
	case s.readLeaks == nil:
		n = append(n, "proven goroutine leaks: this runtime has no goroutineleak profile (Go 1.27, or Go 1.26 built with GOEXPERIMENT=goroutineleakprofile): no goroutine is proven leaked, growing groups are suspects only")
	case s.leakErr != nil:
		n = append(n, "proven goroutine leaks: the last goroutineleak profile failed: "+s.leakErr.Error())
	case s.leakReadings == 0:
		n = append(n, "proven goroutine leaks: the goroutineleak profile is read at scheduled full reports; none taken yet")
	}
	return n
}

func (g *goroutineGroup) culprit() LeakCulprit {
	return LeakCulprit{Function: g.function, File: g.file, Line: g.line, Stack: slices.Clone(g.stack), CreatedBy: g.createdBy}
}

// where is "function (file.go:line)".
func (g *goroutineGroup) where() string {
	return fmt.Sprintf("%s (%s:%d)", g.function, filepath.Base(g.file), g.line)
}

func (s *goroutineSource) groupSuspect(gs *goroutineSeries) LeakSuspect {
	p := gs.res.P
	su := LeakSuspect{
		Kind: LeakGoroutineGroup, Certainty: gs.verdict, Unit: "goroutines",
		GrowthPerSecond: gs.res.Slope, Current: gs.current(), Culprit: gs.g.culprit(),
		Series: slices.Clone(gs.pts), Finding: FindingGoroutineGroupGrowing,
		Advice: goroutineAdvice(gs.g.wait),
	}
	if gs.verdict == LeakSignificant {
		su.PValue = &p
		su.Since = s.origin.Add(time.Duration(gs.res.Since * float64(time.Second)))
	} else {
		su.Since = gs.pts[0].Time
		if n := len(gs.pts); n > 1 {
			su.GrowthPerSecond = (gs.pts[n-1].Value - gs.pts[0].Value) / gs.pts[n-1].Time.Sub(gs.pts[0].Time).Seconds()
		}
	}
	su.Headline = fmt.Sprintf("goroutines waiting on %s in %s grow by %.2f/s to %.0f (created by %s)",
		gs.g.wait, gs.g.where(), su.GrowthPerSecond, su.Current, gs.g.createdBy)
	return su
}

func (s *goroutineSource) provenSuspect(gs *goroutineSeries) LeakSuspect {
	su := LeakSuspect{
		Kind: LeakGoroutines, Certainty: LeakProven, Unit: "goroutines", Current: gs.current(),
		Since: gs.pts[0].Time, Culprit: gs.g.culprit(), Series: slices.Clone(gs.pts),
		Finding: FindingGoroutinesLeaked,
		Advice: "the runtime proved these goroutines can never run again: they wait on a primitive (" + gs.g.wait +
			") that no live goroutine can reach; give the other side a way to finish (close the channel, buffer it for the one send that nobody reads, or select on ctx.Done()) — the stack is in culprit.stack",
	}
	if n := len(gs.pts); n > 1 {
		if dt := gs.pts[n-1].Time.Sub(gs.pts[0].Time).Seconds(); dt > 0 {
			su.GrowthPerSecond = (gs.pts[n-1].Value - gs.pts[0].Value) / dt
		}
	}
	su.Headline = fmt.Sprintf("%.0f goroutines leaked (proven by the runtime's goroutineleak profile): blocked on %s in %s, which nothing can reach (created by %s)",
		su.Current, gs.g.wait, gs.g.where(), gs.g.createdBy)
	return su
}

// goroutineCulprit names the goroutine suspect that best explains growing goroutines ("the
// growth is in …"), "" when there is none: a proven leak before a growing group, the faster first.
func goroutineCulprit(l *Leaks) string {
	if l == nil {
		return ""
	}
	var best *LeakSuspect
	for i := range l.Suspects {
		su := &l.Suspects[i]
		if su.Kind != LeakGoroutines && su.Kind != LeakGoroutineGroup {
			continue
		}
		switch {
		case best == nil,
			su.Kind == LeakGoroutines && best.Kind != LeakGoroutines,
			su.Kind == best.Kind && su.GrowthPerSecond > best.GrowthPerSecond:
			best = su
		}
	}
	if best == nil {
		return ""
	}
	cu := &best.Culprit
	where := fmt.Sprintf("%s (%s:%d)", cu.Function, filepath.Base(cu.File), cu.Line)
	if best.Kind == LeakGoroutines {
		return fmt.Sprintf("%.0f of them proven leaked in %s", best.Current, where)
	}
	return fmt.Sprintf("the growing group waits in %s, %.0f goroutines, +%.2f/s", where, best.Current, best.GrowthPerSecond)
}

// goroutineAdvice says what usually causes a group with this wait reason to grow.
func goroutineAdvice(wait string) string {
	const tail = " The whole stack is in culprit.stack; a goroutine capture (trigger runtimediag.OnFinding(\"goroutine_group_growing\")) lets go tool pprof show every group."
	switch wait {
	case "chan send", "chan receive":
		return "each goroutine of the group waits on a channel operation that never completes: a channel nobody reads or writes any more, or a loop over a time.Ticker's channel that nobody stops. Give every goroutine a way to end: close the channel, buffer it for a send nobody may read, select on ctx.Done() or a done channel, and Stop the ticker and return." + tail
	case "select", "select (no cases)":
		return "each goroutine of the group waits in a select none of whose cases becomes ready: add a case on ctx.Done() or a done channel that the goroutine's owner closes." + tail
	case "sync.Mutex.Lock", "sync.RWMutex.Lock", "sync.RWMutex.RLock", "semacquire":
		return "the group waits for a lock that is held for long or never released (a missing Unlock on an error path, a lock held across a blocking call)." + tail
	case "sync.WaitGroup.Wait", "sync.Cond.Wait":
		return "the group waits for work that never finishes or a signal that never comes: check that every Add has its Done and every wait its Signal or Broadcast." + tail
	case "IO wait":
		return "the group waits on network I/O: set deadlines or timeouts on connections and requests, and close what is not used (response bodies, idle connections)." + tail
	case "sleep":
		return "the group sleeps in a loop started once per request or per event: run one loop, or end each with its owner's context." + tail
	}
	return "goroutines of this group are started faster than they end." + tail
}

// public is the group as Leaks.GoroutineGroups shows it.
func (gs *goroutineSeries) public() GoroutineGroup {
	return GoroutineGroup{Wait: gs.g.wait, Function: gs.g.function, File: gs.g.file, Line: gs.g.line,
		CreatedBy: gs.g.createdBy, Count: int(gs.current()), Growing: gs.verdict != "", Series: slices.Clone(gs.pts)}
}

// GoroutineGroup is goroutines waiting for the same reason in the same frame, started in the same
// function, and their count at each reading of the goroutine profile.
type GoroutineGroup struct {
	// Wait is why they wait, read from the frame they are parked in: "chan receive", "chan send",
	// "select", "sync.Mutex.Lock", "sync.WaitGroup.Wait", "IO wait", "sleep", "syscall", …;
	// "running" when no frame says they wait.
	Wait string `json:"wait"`
	// Function, File and Line are the blocking frame: the innermost application frame.
	Function string `json:"function"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	// CreatedBy is the goroutines' entry function (a closure's name names its creator).
	CreatedBy string `json:"created_by,omitempty"`
	// Count is the goroutines in the group at the newest reading.
	Count int `json:"count"`
	// Growing is whether the group is a suspect (its series rises).
	Growing bool `json:"growing"`
	// Series is the count at each reading since the group was first seen, oldest first, bounded.
	Series []LeakPoint `json:"series"`
}

// pauseProbe measures the longest stop-the-world pause not caused by the GC between start and
// longest, from runtime/metrics (/sched/pauses/total/other:seconds, a histogram: the figure is the
// upper bound of the highest bucket that gained a pause, so it errs long).
type pauseProbe struct {
	s    []metrics.Sample
	prev []uint64
	ok   bool
}

const pauseOtherMetric = "/sched/pauses/total/other:seconds"

func (p *pauseProbe) init() {
	p.s = []metrics.Sample{{Name: pauseOtherMetric}}
	metrics.Read(p.s)
	p.ok = p.s[0].Value.Kind() == metrics.KindFloat64Histogram
}

func (p *pauseProbe) start() {
	if !p.ok {
		return
	}
	metrics.Read(p.s)
	p.prev = append(p.prev[:0], p.s[0].Value.Float64Histogram().Counts...)
}

// longest is the longest pause since start; ok is false when the metric is missing or recorded
// no pause.
func (p *pauseProbe) longest() (time.Duration, bool) {
	if !p.ok {
		return 0, false
	}
	metrics.Read(p.s)
	h := p.s[0].Value.Float64Histogram()
	for i := len(h.Counts) - 1; i >= 0; i-- {
		if i < len(p.prev) && h.Counts[i] > p.prev[i] {
			ub := h.Buckets[i+1]
			if math.IsInf(ub, 1) {
				ub = h.Buckets[i]
			}
			return time.Duration(ub * float64(time.Second)), true
		}
	}
	return 0, false
}
