package runtimediag

import (
	"bytes"
	"fmt"
	"math"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag/internal/trend"
)

// The heap-by-site source: the heap in use (allocated less freed, as of the last GC) at each
// allocation site, from the allocation profile every window reading reads anyway
// (runtime.MemProfile, which does not stop the world). A compact series is kept for the sites
// that matter — the largest by in-use bytes, and any that kept rising — and a trend test over
// each series names the ones that keep growing.

const (
	// heapTopSites is how many sites are tracked for their size: the largest by in-use bytes.
	heapTopSites = 32
	// heapRisingSites is how many more are tracked because they rose heapRiseReadings readings
	// in a row, however small they still are.
	heapRisingSites  = 32
	heapRiseReadings = 3
	// heapMaxPoints bounds a site's series: the newest points, an hour at the default one-minute
	// window step.
	heapMaxPoints = 64
	// heapMinWeakPoints is the fewest points a weak suspect is shown on.
	heapMinWeakPoints = 5
	// heapNoiseSigmas: growth within this many standard deviations of the profile's sampling
	// noise is not growth (sampleNoise).
	heapNoiseSigmas = 3
)

// sampleNoise is the standard deviation of a site's in-use estimate at level bytes: the profile
// samples one allocation per rate bytes on average, so a site holding level bytes of objects
// smaller than rate holds about level/rate samples, a Poisson count whose deviation is its square
// root, scaled back up by rate. It is never below one sample's worth.
func sampleNoise(level float64, rate int64) float64 {
	r := float64(max(rate, 1))
	return max(math.Sqrt(max(level, 0)*r), r)
}

// heapPoint is one reading of one site: 40 bytes.
type heapPoint struct {
	unixNano       int64
	bytes, objects int64
	// alloc is the bytes the site has allocated in all (cumulative, scaled), and cycles the GC
	// cycles completed, at the reading: a site's allocation per cycle bounds how far its in-use
	// figure moves without anything retained (heapChurn). alloc is -1 when the reading had no
	// allocation counts.
	alloc  int64
	cycles uint64
}

// heapSeries is one tracked site.
type heapSeries struct {
	index int // in the reader's site table
	key   siteKey
	pts   []heapPoint // oldest first, at most heapMaxPoints
	// certainty is "" (not a suspect), LeakSignificant or LeakWeak, from the newest test.
	certainty string
	res       trend.Result
	since     time.Time
	stack     []string // resolved once, when the site first becomes a suspect
	seen      bool     // among the candidates of the newest reading
}

type heapSource struct {
	reader *allocReader
	cfg    trend.Config

	mu     sync.Mutex
	series map[int]*heapSeries
	// prev is each site's in-use bytes at the previous reading, rises how many readings in a
	// row it rose: a small site that keeps rising is tracked before it is large.
	prev       []int64
	rises      []uint8
	cycles     uint64 // GC cycles at the newest reading used
	readings   int
	rateBytes  int64 // runtime.MemProfileRate at the newest reading
	origin     time.Time
	tester     trend.Tester
	xs, ys     []float64
	med        []float64
	top, extra []int
	note       string
	// The base heap profile for captures (sampleFull): gzipped pprof, immutable once stored.
	base           []byte
	baseAt         time.Time
	baseNote       string
	fullsSinceBase int
}

func newHeapSource(r *allocReader) *heapSource {
	return &heapSource{reader: r, cfg: trend.DefaultConfig(), series: map[int]*heapSeries{}}
}

// sampleWindow takes the reading's in-use heap by site. A reading with no GC cycle completed
// since the last one used adds nothing: the profile's in-use figures change only at a GC, and a
// repeated value would only dilute the trend test.
func (h *heapSource) sampleWindow(r *windowReading) {
	p := r.prof
	h.mu.Lock()
	defer h.mu.Unlock()
	if p == nil || p.inuse == nil {
		h.note = "heap by site: the allocation profile was not read"
		return
	}
	h.note = ""
	if h.readings > 0 && p.GCCycles == h.cycles {
		return
	}
	if h.readings == 0 {
		h.origin = p.Time
	}
	h.readings++
	h.cycles = p.GCCycles
	h.rateBytes = p.SampleRateBytes
	h.track(p)
	h.test()
}

// track picks the sites to follow and appends the reading to their series.
func (h *heapSource) track(p *AllocProfile) {
	n := len(p.inuse)
	for len(h.prev) < n {
		h.prev = append(h.prev, 0)
		h.rises = append(h.rises, 0)
	}
	// The largest sites, kept sorted by bytes descending, and the rising ones.
	h.top, h.extra = h.top[:0], h.extra[:0]
	for i := 0; i < n; i++ {
		b := p.inuse[i].bytes
		switch {
		case b > h.prev[i] && h.prev[i] > 0:
			h.rises[i] = min(h.rises[i]+1, math.MaxUint8)
		case b < h.prev[i]:
			h.rises[i] = 0
		}
		h.prev[i] = b
		if b <= 0 {
			continue
		}
		if len(h.top) < heapTopSites || b > p.inuse[h.top[len(h.top)-1]].bytes {
			pos, _ := slices.BinarySearchFunc(h.top, b, func(j int, b int64) int {
				// Descending by bytes.
				if bj := p.inuse[j].bytes; bj > b {
					return -1
				} else if bj < b {
					return 1
				}
				return 0
			})
			h.top = slices.Insert(h.top, pos, i)
			if len(h.top) > heapTopSites {
				dropped := h.top[heapTopSites]
				h.top = h.top[:heapTopSites]
				if h.rises[dropped] >= heapRiseReadings && len(h.extra) < heapRisingSites {
					h.extra = append(h.extra, dropped)
				}
			}
			continue
		}
		if h.rises[i] >= heapRiseReadings && len(h.extra) < heapRisingSites {
			h.extra = append(h.extra, i)
		}
	}
	for _, s := range h.series {
		s.seen = false
	}
	t := p.Time.UnixNano()
	add := func(i int) {
		s := h.series[i]
		if s == nil {
			s = &heapSeries{index: i, key: p.keys[i]}
			h.series[i] = s
		}
		s.seen = true
		c := p.inuse[i]
		if len(s.pts) == heapMaxPoints {
			copy(s.pts, s.pts[1:])
			s.pts = s.pts[:heapMaxPoints-1]
		}
		alloc := int64(-1)
		if i < len(p.counts) {
			alloc = p.counts[i].bytes
		}
		s.pts = append(s.pts, heapPoint{unixNano: t, bytes: c.bytes, objects: c.objects, alloc: alloc, cycles: p.GCCycles})
	}
	for _, i := range h.top {
		add(i)
	}
	for _, i := range h.extra {
		add(i)
	}
	// A site that left the candidates is followed on while it is a suspect (its reading is
	// there to take), and forgotten otherwise: what bounds the series is the candidates' count.
	for i, s := range h.series {
		switch {
		case s.seen:
		case s.certainty != "" && i < n:
			add(i)
		default:
			delete(h.series, i)
		}
	}
}

// test runs the trend test over every tracked series.
func (h *heapSource) test() {
	for _, s := range h.series {
		h.xs, h.ys = h.xs[:0], h.ys[:0]
		for _, pt := range s.pts {
			h.xs = append(h.xs, float64(pt.unixNano-h.origin.UnixNano())/1e9)
			h.ys = append(h.ys, float64(pt.bytes))
		}
		var res trend.Result
		if len(h.ys) >= h.cfg.MinPoints && !risesMoreThanFalls(h.ys) {
			// Mann–Kendall's S ≤ 0: p ≥ 0.5, flat whatever the rest says; the slopes (the
			// test's cost) are not needed. Most series of a steady service end here.
			res = trend.Result{Verdict: trend.Flat, N: len(h.ys), P: 1, PRecent: 1}
		} else {
			res = h.tester.Test(h.xs, h.ys, h.cfg)
		}
		// The sampling noise at the series' level: the rise, over the series and over its recent
		// part, must stand out of it. The profile's estimates jump by whole samples, and a sample
		// lives as long as its object: the noise is autocorrelated, which a rank test alone
		// takes for a trend. Over the recent part a line fitted to so few independent levels
		// rises by about the difference of two of them, whose deviation is √2 times one's, at
		// that part's level: a cache that churns its entries (a new sample set as they are
		// replaced) wanders by that much around a plateau, and by its unfreed garbage (heapChurn).
		noise := heapNoiseSigmas * sampleNoise(medianOf(h.ys, &h.med), h.rateBytes)
		k := h.cfg.RecentPoints(len(h.ys))
		recentNoise := heapNoiseSigmas*math.Sqrt2*sampleNoise(medianOf(h.ys[len(h.ys)-k:], &h.med), h.rateBytes) +
			heapChurn(s.pts[len(s.pts)-k:])
		s.res = res
		prev := s.certainty
		s.certainty = ""
		switch {
		case res.Verdict == trend.Growing && res.Growth >= noise && recentGrowth(h.xs, res, h.cfg) >= recentNoise:
			s.certainty = LeakSignificant
			s.since = h.origin.Add(time.Duration(res.Since * 1e9))
		case res.Verdict == trend.TooFewPoints && len(s.pts) >= heapMinWeakPoints:
			if lo, ok := risingThroughout(h.ys); ok && h.ys[len(h.ys)-1]-h.ys[0] >= max(noise, h.cfg.MinRelativeGrowth*h.ys[len(h.ys)-1]) {
				s.certainty = LeakWeak
				s.res.Slope = (h.ys[len(h.ys)-1] - h.ys[lo]) / math.Max(h.xs[len(h.xs)-1]-h.xs[lo], 1e-9)
				s.since = time.Unix(0, s.pts[lo].unixNano)
			}
		}
		if s.certainty != "" && prev == "" && s.stack == nil {
			s.stack = h.reader.siteStack(s.index)
		}
	}
}

// risesMoreThanFalls reports whether more pairs of points rise than fall (Mann–Kendall's S > 0).
func risesMoreThanFalls(y []float64) bool {
	s := 0
	for i := range y {
		for j := i + 1; j < len(y); j++ {
			switch {
			case y[j] > y[i]:
				s++
			case y[j] < y[i]:
				s--
			}
		}
	}
	return s > 0
}

// risingThroughout reports whether y never falls and ends above where it starts; lo is the last
// index at the starting level.
func risingThroughout(y []float64) (lo int, ok bool) {
	for i := 1; i < len(y); i++ {
		if y[i] < y[i-1] {
			return 0, false
		}
		if y[i] == y[0] {
			lo = i
		}
	}
	return lo, y[len(y)-1] > y[0]
}

// heapBaseRefresh is how many scheduled full readings a base heap profile is kept before a newer
// one replaces it, while no heap site is a suspect: 2.5 hours at the default five-minute interval.
// Writing one allocates about a megabyte (runtime/pprof's gzip compressor), so it is rare.
const heapBaseRefresh = 30

// sampleFull keeps the base heap profile a capture on a suspect compares with: taken at a
// scheduled full reading while no heap site is a suspect, renewed every heapBaseRefresh of them,
// and held still while there is a suspect, so that it predates the growth the suspect names.
// Writing the heap profile reads runtime.MemProfile and does not stop the world.
func (h *heapSource) sampleFull(rd *fullReading) {
	h.mu.Lock()
	h.fullsSinceBase++
	take := h.base == nil || h.fullsSinceBase >= heapBaseRefresh
	for _, s := range h.series {
		take = take && s.certainty == ""
	}
	h.mu.Unlock()
	if !take {
		return
	}
	var buf bytes.Buffer
	err := pprof.Lookup("heap").WriteTo(&buf, 0)
	h.mu.Lock()
	defer h.mu.Unlock()
	if err != nil {
		h.baseNote = "no base heap profile: " + err.Error()
		return
	}
	h.base, h.baseNote, h.fullsSinceBase = buf.Bytes(), "", 0
	h.baseAt = time.Now()
	if rd != nil && rd.snap != nil {
		h.baseAt = rd.snap.Time
	}
}

// baseProfile is the base heap profile and when it was taken; nil before the first.
func (h *heapSource) baseProfile() ([]byte, time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.base, h.baseAt
}

// fill adds the suspects, and what limits them, to l.
func (h *heapSource) fill(now time.Time, l *Leaks) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.note != "" {
		l.Notes = append(l.Notes, h.note)
	}
	if h.readings < h.cfg.MinPoints {
		l.Notes = append(l.Notes, fmt.Sprintf("heap by site: %d of the %d readings (each after a GC cycle) a trend needs", h.readings, h.cfg.MinPoints))
	}
	for _, s := range h.series {
		if s.certainty == "" {
			continue
		}
		l.Suspects = append(l.Suspects, h.suspect(s))
	}
}

// suspect is the suspect of one series. h.mu is held.
func (h *heapSource) suspect(s *heapSeries) LeakSuspect {
	last := s.pts[len(s.pts)-1]
	c := LeakCulprit{Function: s.key.function, File: s.key.file, Line: int(s.key.line), Stack: slices.Clone(s.stack)}
	if s.key.app.Function != "" {
		c.Function, c.File, c.Line = s.key.app.Function, s.key.app.File, s.key.app.Line
	}
	if s.key.app.Function != "" && (s.key.app.Function != s.key.function || int64(s.key.app.Line) != s.key.line) {
		c.Description = fmt.Sprintf("allocated at %s (%s:%d)", s.key.function, shortFile(s.key.file), s.key.line)
	}
	series := make([]LeakPoint, len(s.pts))
	for i, pt := range s.pts {
		series[i] = LeakPoint{Time: time.Unix(0, pt.unixNano).UTC(), Value: float64(pt.bytes)}
	}
	sus := LeakSuspect{
		Kind:            LeakHeapSite,
		Certainty:       s.certainty,
		Unit:            "bytes",
		GrowthPerSecond: max(s.res.Slope, 0),
		Current:         float64(last.bytes),
		Since:           s.since.UTC(),
		Culprit:         c,
		Series:          series,
		Finding:         FindingHeapGrowingAtSite,
	}
	if s.certainty == LeakSignificant {
		p := s.res.P
		sus.PValue = &p
	}
	where := fmt.Sprintf("%s (%s:%d)", c.Function, shortFile(c.File), c.Line)
	sure := "weak: a short series that has only risen so far"
	if sus.PValue != nil {
		sure = fmt.Sprintf("p=%.2g", *sus.PValue)
	}
	sus.Headline = fmt.Sprintf("heap retained at %s grows %s/min to %s (%d objects) since %s (%s)",
		where, humanize.Bytes(uint64(sus.GrowthPerSecond*60)), humanize.Bytes(uint64(max(last.bytes, 0))),
		last.objects, sus.Since.Format("15:04:05"), sure)
	sus.Advice = "what this line allocates stays reachable: look for a map or cache that is never evicted, a slice appended to and never truncated, or a long-lived structure that keeps references; " +
		"compare two heap profiles to see the growth by stack (the capture on heap_growing_at_site holds them: go tool pprof -diff_base base.pb.gz current.pb.gz); " +
		fmt.Sprintf("figures are scaled from the sampled profile (one sample per %s allocated)", humanize.Bytes(uint64(max(h.rateBytes, 0))))
	return sus
}

// shortFile is the last two elements of a path: enough to find it, short enough for a headline.
func shortFile(f string) string {
	i := strings.LastIndexByte(f, '/')
	if i <= 0 {
		return f
	}
	if j := strings.LastIndexByte(f[:i], '/'); j >= 0 {
		return f[j+1:]
	}
	return f
}

// heapChurn is how far a site's in-use figure can move over pts with nothing retained. The
// profile is a snapshot as of a GC's mark termination, and what the site allocated while that GC
// marked counts as in use whatever became of it (it was allocated black): a site that replaces
// what it holds (a cache evicting, a buffer pool refilling) carries its allocation during the
// mark, which is up to a whole cycle's when the GC marks for most of its cycle (a process starved
// of CPU). One cycle of the site's mean allocation per cycle over pts; 0 when the points carry no
// allocation counts or no cycle passed. Without it a warm cache of 8 MiB that churns 8 MiB/s read
// 8 MiB in use at a quick GC cadence and 16.8 MiB (1,072 of its 512 entries) with two CPU hogs
// beside it: a rise. A leak allocates what it keeps, so its growth over the recent part's several
// cycles passes one cycle's worth.
func heapChurn(pts []heapPoint) float64 {
	if len(pts) < 2 {
		return 0
	}
	first, last := pts[0], pts[len(pts)-1]
	if first.alloc < 0 || last.alloc < first.alloc || last.cycles <= first.cycles {
		return 0
	}
	return float64(last.alloc-first.alloc) / float64(last.cycles-first.cycles)
}

// recentGrowth is how much the fitted line of the recent part (as trend.Test chose it) rose over
// that part.
func recentGrowth(xs []float64, res trend.Result, cfg trend.Config) float64 {
	n := len(xs)
	k := cfg.RecentPoints(n)
	return res.Recent * (xs[n-1] - xs[n-k])
}

// medianOf is the median of y, sorted in *buf.
func medianOf(y []float64, buf *[]float64) float64 {
	if len(y) == 0 {
		return 0
	}
	*buf = append((*buf)[:0], y...)
	slices.Sort(*buf)
	b := *buf
	if len(b)%2 == 1 {
		return b[len(b)/2]
	}
	return (b[len(b)/2-1] + b[len(b)/2]) / 2
}
