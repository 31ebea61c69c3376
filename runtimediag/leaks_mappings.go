package runtimediag

// The mapping timeline: at every scheduled full reading the classified mapping table is diffed
// with the previous one (mapdiff.go) and the changes that matter are kept, the last
// mappingChangesKept of them; and each category of memory Go does not manage has a series —
// resident bytes, or for thread stacks their number, since a thread's 8 MiB stack is mostly not
// resident — that the trend test watches. A category that grows becomes a LeakMappings suspect,
// named by the mappings that carry its growth: the category's mappings at the reading where its
// series was last at its lowest are kept, and diffed with the newest ones.

import (
	"fmt"
	"math"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag/internal/trend"
	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

const (
	// mappingChangesKept bounds Leaks.MappingChanges.
	mappingChangesKept = 64
	// mappingChangeMinBytes is the least change of size or resident bytes the timeline keeps; a
	// thread stack appearing or going away is kept whatever its size.
	mappingChangeMinBytes = 1 << 20
	// mappingMinGrowthBytes is the least growth of a category, over its series, that makes a
	// suspect: less is noise (a few pages of malloc, a library's buffer). For thread stacks, the
	// stacks' mapped size counts.
	mappingMinGrowthBytes = 4 << 20
	// mappingMinPoints is the fewest readings a significant verdict needs: six rising readings
	// give a Mann–Kendall p-value of 0.004, under the 1% level. Mappings change in steps a
	// reading sees whole, so the series are less noisy than the heap's.
	mappingMinPoints = 6
	// mappingWeakPoints is the fewest readings a weak suspect needs: each one higher than the last.
	mappingWeakPoints = 4
	// mappingRecentPoints is the window of newest readings tested before the whole series.
	mappingRecentPoints = 16
	// mappingRecentAlpha is the significance level of the window's test (the whole series' is
	// trend.DefaultConfig's 1%).
	mappingRecentAlpha = 0.001
)

// mappingCategories are the categories of memory Go does not manage whose growth is tracked.
var mappingCategories = [...]string{CategoryCHeap, CategoryThreadStacks, CategoryFileMappings, CategorySharedMemory, CategoryOtherAnonymous}

// mappingSeries is one category's readings and its mappings at the series' lowest.
type mappingSeries struct {
	t []time.Time
	y []float64
	// base is the category's mappings at baseTime, the newest reading at which the series was at
	// its lowest (not lower since): diffed with the newest mappings, it shows what carries the growth.
	base     []ClassifiedMapping
	baseTime time.Time
	// stackBytes is the mean mapped size of a thread stack at the newest reading (thread_stacks only).
	stackBytes float64
}

// mappingSource is the leak source of the mapping timeline.
type mappingSource struct {
	mu       sync.Mutex
	differ   mapDiffer
	prev     []ClassifiedMapping // the last reading's table (a report's, never modified)
	changes  []MappingChange     // the last mappingChangesKept changes, oldest first
	series   [len(mappingCategories)]mappingSeries
	suspects []LeakSuspect // as of the last reading
	note     string        // why the last reading had no table, "" when it had one
	tester   trend.Tester
	x        []float64
	scratch  []MappingChange
}

func newMappingSource() *mappingSource { return &mappingSource{} }

func (s *mappingSource) sampleWindow(*windowReading) {}

func (s *mappingSource) sampleFull(rd *fullReading) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := rd.rss.Mappings
	if rd.rss.Tier != TierFull || len(ms) == 0 {
		// No table: the series skip this reading rather than record a figure nobody measured.
		s.note = "the mapping timeline has no table for the reading of " + rd.snap.Time.Format(time.RFC3339) + ": smaps was not read or not classified"
		return
	}
	s.note = ""
	at := rd.snap.Time
	s.sample(at, ms, &rd.rss)
}

// sample takes one reading: the table ms at time at, with its attribution (for the categories'
// resident bytes).
func (s *mappingSource) sample(at time.Time, ms []ClassifiedMapping, rss *RSS) {
	if s.prev != nil {
		s.scratch = s.differ.diff(s.scratch[:0], s.prev, ms, at, mappingChangeMinBytes)
		for i := range s.scratch {
			if c := &s.scratch[i]; keepMappingChange(c) {
				s.changes = append(s.changes, *c)
			}
		}
		if n := len(s.changes) - mappingChangesKept; n > 0 {
			s.changes = append(s.changes[:0], s.changes[n:]...)
		}
	}
	s.prev = ms
	for k, cat := range mappingCategories {
		se := &s.series[k]
		var v float64
		if cat == CategoryThreadStacks {
			n, size := threadStacks(ms)
			v = float64(n)
			se.stackBytes = 0
			if n > 0 {
				se.stackBytes = float64(size) / float64(n)
			}
		} else {
			v = float64(rss.Category(cat))
		}
		if len(se.y) >= trend.MaxPoints {
			se.t = append(se.t[:0], se.t[1:]...)
			se.y = append(se.y[:0], se.y[1:]...)
		}
		se.t = append(se.t, at)
		se.y = append(se.y, v)
		if v <= slices.Min(se.y) {
			se.base = appendCategoryMappings(se.base[:0], ms, cat)
			se.baseTime = at
		}
	}
	s.suspects = s.findSuspects(ms, s.suspects[:0])
}

// keepMappingChange: the timeline keeps changes of at least mappingChangeMinBytes, and every
// thread stack that appeared or went away.
func keepMappingChange(c *MappingChange) bool {
	if d := c.SizeDeltaBytes(); d >= mappingChangeMinBytes || d <= -mappingChangeMinBytes {
		return true
	}
	if d := c.RssDeltaBytes(); d >= mappingChangeMinBytes || d <= -mappingChangeMinBytes {
		return true
	}
	return c.Class == rssattr.ClassThreadStack && c.Change != MappingGrew && c.Change != MappingShrank
}

// isStack reports whether a thread_stack mapping is a stack (not its guard).
func isStack(m *ClassifiedMapping) bool {
	return m.Class == rssattr.ClassThreadStack && m.Name != nameThreadGuard
}

// threadStacks counts the thread stacks of a table and their mapped size.
func threadStacks(ms []ClassifiedMapping) (n int, size uint64) {
	for i := range ms {
		if isStack(&ms[i]) {
			n++
			size += ms[i].SizeBytes
		}
	}
	return n, size
}

// appendCategoryMappings appends to dst the mappings of ms that count in category cat.
func appendCategoryMappings(dst, ms []ClassifiedMapping, cat string) []ClassifiedMapping {
	for i := range ms {
		if ms[i].Class.Category() == cat {
			dst = append(dst, ms[i])
		}
	}
	return dst
}

// findSuspects tests every category's series and appends a suspect for each that grows.
func (s *mappingSource) findSuspects(ms []ClassifiedMapping, dst []LeakSuspect) []LeakSuspect {
	cfg := trend.DefaultConfig()
	cfg.MinPoints = mappingMinPoints
	for k, cat := range mappingCategories {
		se := &s.series[k]
		n := len(se.y)
		if n < 2 {
			continue
		}
		t0 := se.t[0]
		s.x = s.x[:0]
		for _, t := range se.t {
			s.x = append(s.x, t.Sub(t0).Seconds())
		}
		minGrowth := float64(mappingMinGrowthBytes)
		if cat == CategoryThreadStacks {
			// Stacks, not bytes: as many as make mappingMinGrowthBytes of mapped stack.
			minGrowth = 1
			if se.stackBytes > 0 {
				minGrowth = max(1, math.Ceil(mappingMinGrowthBytes/se.stackBytes))
			}
		}
		// The newest readings first: a leak that starts after hours of flat readings rises in
		// them long before the whole series' median slope leaves zero. Then the whole series,
		// for a slow leak no short window shows.
		res := trend.Result{Verdict: trend.Flat}
		if k := mappingRecentPoints; n > k {
			// A stricter level for the window: it is a second test of the same readings.
			wcfg := cfg
			wcfg.Alpha = mappingRecentAlpha
			res = s.tester.Test(s.x[n-k:], se.y[n-k:], wcfg)
		}
		if res.Verdict != trend.Growing || res.Growth < minGrowth {
			res = s.tester.Test(s.x, se.y, cfg)
		}
		var certainty string
		var p, slope float64
		// Since is the last time the series was at its lowest, the reading its culprit's
		// mappings were kept at.
		since := se.baseTime
		switch {
		case res.Verdict == trend.Growing && res.Growth >= minGrowth:
			certainty, p = LeakSignificant, res.P
			// How fast it grows since it started: the slope from the series' last lowest on,
			// not one diluted by the flat readings before.
			lo := 0
			for i := range se.y {
				if se.y[i] <= se.y[lo] {
					lo = i
				}
			}
			var ok bool
			if slope, _, ok = trend.TheilSen(s.x[lo:], se.y[lo:], nil); !ok {
				slope = res.Slope
			}
		case res.Verdict == trend.TooFewPoints && risingSteadily(se.y, mappingWeakPoints, minGrowth):
			// Too few readings for the test, but every one higher than the last: watch it.
			_, _, p = trend.MannKendall(se.y)
			certainty = LeakWeak
			slope, _, _ = trend.TheilSen(s.x, se.y, nil)
		default:
			continue
		}
		dst = append(dst, s.suspect(cat, se, ms, certainty, p, slope, since))
	}
	return dst
}

// risingSteadily reports whether y has at least k points, each above the last by at least a
// quarter of minGrowth (so that noise that happens to rise a few times in a row does not count),
// rising by at least minGrowth in all.
func risingSteadily(y []float64, k int, minGrowth float64) bool {
	if len(y) < k {
		return false
	}
	for i := 1; i < len(y); i++ {
		if y[i]-y[i-1] < minGrowth/4 {
			return false
		}
	}
	return y[len(y)-1]-y[0] >= minGrowth
}

// suspect builds the suspect of a growing category, naming the mappings that carry the growth.
func (s *mappingSource) suspect(cat string, se *mappingSeries, ms []ClassifiedMapping, certainty string, p, slope float64, since time.Time) LeakSuspect {
	n := len(se.y)
	unit := "bytes"
	if cat == CategoryThreadStacks {
		unit = "mappings"
	}
	cur := appendCategoryMappings(nil, ms, cat)
	carriers := DiffMappings(se.base, cur, se.t[n-1], 0)
	what, desc := mappingGrowthPhrase(cat, carriers, se)
	pv := p
	ls := LeakSuspect{
		Kind: LeakMappings, Certainty: certainty, PValue: &pv, Unit: unit,
		GrowthPerSecond: slope, Current: se.y[n-1], Since: since,
		Culprit: LeakCulprit{Description: desc},
		Series:  make([]LeakPoint, n),
		Advice:  mappingAdvice[cat],
		Finding: FindingMappingsGrowing,
	}
	for i := range se.y {
		ls.Series[i] = LeakPoint{Time: se.t[i], Value: se.y[i]}
	}
	span := se.t[n-1].Sub(since).Seconds()
	var grew string
	lo := slices.Min(se.y)
	if unit == "bytes" {
		grew = fmt.Sprintf("%s grew %s resident in %s (%s/s)", cat, humanize.Bytes(uint64(se.y[n-1]-lo)), humanize.Duration(span), humanize.Bytes(uint64(max(slope, 0))))
	} else {
		grew = fmt.Sprintf("%s grew by %.0f stacks in %s (%s/s)", cat, se.y[n-1]-lo, humanize.Duration(span), humanize.Float(max(slope, 0)))
	}
	ls.Headline = what + ": " + grew
	if certainty == LeakSignificant {
		ls.Headline += fmt.Sprintf(", significant (p=%.2g)", p)
	} else {
		ls.Headline += ", not yet significant"
	}
	return ls
}

// carrierGroup sums the changes of one name.
type carrierGroup struct {
	name                 string
	appeared, wentAway   int
	appearedBytes        uint64 // mapped size of the regions that appeared
	sizeDelta, rssDelta  int64
	grew                 int
	largestAppearedBytes uint64
}

// mappingGrowthPhrase says which mappings carry a category's growth — "+12 thread stacks of
// 8 MiB", "+3 glibc arenas of 64 MiB", "+1 file mapping data.db 256 MiB" — and names the
// culprit: "glibc arena", a file's path. carriers is the diff from the category's mappings at the
// series' lowest to now.
func mappingGrowthPhrase(cat string, carriers []MappingChange, se *mappingSeries) (what, desc string) {
	groups := map[string]*carrierGroup{}
	var order []string
	for i := range carriers {
		c := &carriers[i]
		key := c.Name
		if c.Class == rssattr.ClassThreadStack {
			key = nameThreadStack
		}
		g := groups[key]
		if g == nil {
			g = &carrierGroup{name: key}
			groups[key] = g
			order = append(order, key)
		}
		switch c.Change {
		case MappingAppeared:
			g.appeared++
			g.appearedBytes += c.SizeAfterBytes
			g.largestAppearedBytes = max(g.largestAppearedBytes, c.SizeAfterBytes)
		case MappingWentAway:
			g.wentAway++
		case MappingGrew:
			g.grew++
		}
		g.sizeDelta += c.SizeDeltaBytes()
		g.rssDelta += c.RssDeltaBytes()
	}
	if len(order) == 0 {
		return humanCategory(cat) + " grew without a mapping that changed (resident pages of the same mappings)", ""
	}
	// The group that carries most: thread stacks by count, the rest by resident bytes, then size.
	sort.SliceStable(order, func(i, j int) bool {
		a, b := groups[order[i]], groups[order[j]]
		if cat == CategoryThreadStacks && a.appeared-a.wentAway != b.appeared-b.wentAway {
			return a.appeared-a.wentAway > b.appeared-b.wentAway
		}
		if a.rssDelta != b.rssDelta {
			return a.rssDelta > b.rssDelta
		}
		return a.sizeDelta > b.sizeDelta
	})
	g := groups[order[0]]
	what, desc = carrierPhrase(cat, g, se)
	// What the other groups added, when it is more than noise.
	var rest int64
	for _, k := range order[1:] {
		rest += max(groups[k].rssDelta, 0)
	}
	if cat != CategoryThreadStacks && rest >= mappingChangeMinBytes {
		groupsWord := "groups"
		if len(order) == 2 {
			groupsWord = "group"
		}
		what += fmt.Sprintf(", and resident %s in %d other %s of mappings", humanize.DeltaBytes(float64(rest)), len(order)-1, groupsWord)
	}
	return what, desc
}

// carrierPhrase names the group of mappings that carries most of a category's growth.
func carrierPhrase(cat string, g *carrierGroup, se *mappingSeries) (what, desc string) {
	net := g.appeared - g.wentAway
	each := uint64(0)
	if g.appeared > 0 {
		each = g.appearedBytes / uint64(g.appeared)
	}
	switch {
	case cat == CategoryThreadStacks:
		k := net
		if k <= 0 {
			k = int(se.y[len(se.y)-1] - slices.Min(se.y))
		}
		if each == 0 {
			each = uint64(se.stackBytes)
		}
		return fmt.Sprintf("+%d thread stacks of %s", k, mappingSize(each)), "thread stacks (threads created and not exited)"
	case g.name == nameGlibcArena:
		if g.appeared > 0 {
			return fmt.Sprintf("+%d glibc arenas of %s, resident %s", g.appeared, mappingSize(each), humanize.DeltaBytes(float64(g.rssDelta))), "glibc arena"
		}
		return fmt.Sprintf("glibc arenas grew %s resident", humanize.DeltaBytes(float64(g.rssDelta))), "glibc arena"
	case g.name == "[heap]":
		return fmt.Sprintf("the glibc main heap ([heap]) grew %s, resident %s", humanize.DeltaBytes(float64(g.sizeDelta)), humanize.DeltaBytes(float64(g.rssDelta))), "glibc main heap ([heap], brk)"
	case strings.HasPrefix(g.name, "(malloc mmap"):
		if g.appeared > 0 {
			return fmt.Sprintf("+%d malloc mmaps, %s resident", g.appeared, humanize.DeltaBytes(float64(g.rssDelta))), "malloc mmap (large C allocations)"
		}
		return fmt.Sprintf("malloc mmaps grew %s, resident %s", humanize.DeltaBytes(float64(g.sizeDelta)), humanize.DeltaBytes(float64(g.rssDelta))), "malloc mmap (large C allocations)"
	case cat == CategoryFileMappings && g.name != "":
		base := path.Base(g.name)
		if g.appeared > 0 {
			kind := "file mapping"
			if g.appeared > 1 {
				kind = "file mappings"
			}
			return fmt.Sprintf("+%d %s %s %s", g.appeared, kind, base, humanize.Bytes(g.appearedBytes)), g.name
		}
		return fmt.Sprintf("file mapping %s grew %s, resident %s", base, humanize.DeltaBytes(float64(g.sizeDelta)), humanize.DeltaBytes(float64(g.rssDelta))), g.name
	}
	name := g.name
	if name == "" {
		name = "unnamed anonymous"
	}
	if g.appeared > 0 {
		return fmt.Sprintf("+%d %s mappings, %s, resident %s", g.appeared, name, humanize.Bytes(g.appearedBytes), humanize.DeltaBytes(float64(g.rssDelta))), name
	}
	return fmt.Sprintf("%s mappings grew %s, resident %s", name, humanize.DeltaBytes(float64(g.sizeDelta)), humanize.DeltaBytes(float64(g.rssDelta))), name
}

// mappingSize formats the size of one mapping: in whole MiB from 1 MiB ("8 MiB" for a thread
// stack and its guard page), as humanize does below.
func mappingSize(b uint64) string {
	if b < 1<<20 {
		return humanize.Bytes(b)
	}
	return fmt.Sprintf("%d MiB", (b+1<<19)>>20)
}

func humanCategory(cat string) string { return strings.ReplaceAll(cat, "_", " ") }

// mappingAdvice says what usually grows each category and where to look.
var mappingAdvice = map[string]string{
	CategoryCHeap:          "C memory is allocated and not freed: look at cgo calls whose results the Go side must free (C.CString, C.malloc, a C library's objects that need a destroy call); glibc arenas are per-thread malloc pools (MALLOC_ARENA_MAX bounds how many); an allocator's own profiler (jemalloc's prof, heaptrack) names the C call site",
	CategoryThreadStacks:   "threads are created and never exit: a goroutine that calls runtime.LockOSThread and blocks or returns without UnlockOSThread keeps (or, on return, kills) its thread; cgo calls that block hold one thread each; C code may start pthreads of its own. Look at the goroutine profile for locked goroutines and at the threads count",
	CategoryFileMappings:   "a file is mapped and remapped larger, or mapped again and again without munmap: look at mmap users (embedded databases such as bbolt or LMDB, syscall.Mmap, mmap-go) and that every mapping is unmapped when done",
	CategorySharedMemory:   "shared memory (/dev/shm, memfd, System V) is created and kept mapped: check that segments are unmapped and unlinked when done",
	CategoryOtherAnonymous: "anonymous memory that is neither Go's nor recognised as malloc grows: a C library's own allocator or buffers (jemalloc, tcmalloc, GPU or driver memory), or syscall.Mmap from Go; the mapping timeline (leaks.mapping_changes) lists the mappings that appeared or grew",
}

// growingMappings names the mappings that carry the growth of the mapping suspects among l's,
// most certain first — "+3 glibc arenas of 64 MiB, resident +150 MiB (c_heap)" — or "" when there
// is none. rss_growing_heap_flat's headline ends with it.
func growingMappings(l *Leaks) string {
	if l == nil {
		return ""
	}
	var parts []string
	for i := range l.Suspects {
		ls := &l.Suspects[i]
		if ls.Kind != LeakMappings {
			continue
		}
		for _, cat := range mappingCategories {
			if what, _, ok := strings.Cut(ls.Headline, ": "+cat+" grew "); ok {
				parts = append(parts, what+" ("+cat+")")
				break
			}
		}
	}
	return strings.Join(parts, "; ")
}

func (s *mappingSource) fill(now time.Time, l *Leaks) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.suspects {
		ls := s.suspects[i]
		ls.Series = slices.Clone(ls.Series)
		if ls.PValue != nil {
			p := *ls.PValue
			ls.PValue = &p
		}
		l.Suspects = append(l.Suspects, ls)
	}
	l.MappingChanges = append(l.MappingChanges, s.changes...)
	if s.note != "" {
		l.Notes = append(l.Notes, s.note)
	}
}
