package runtimediag

import (
	"fmt"
	"slices"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
)

// Thresholds are the numbers the finding rules compare with. docs/findings.md gives the reasoning
// behind every default; a service that knows better (a batch job that wants GC to use a lot of CPU)
// changes the field, not the rule.
type Thresholds struct {
	// MinBusyCores: rules about CPU shares run only when the process used at least this much CPU
	// over the window; an idle process's few GC cycles are a large share of almost nothing.
	MinBusyCores float64
	// MinGCCycles: rules about GC cost run only over windows with at least this many cycles; one
	// cycle in a short window reads as a high rate and a high share.
	MinGCCycles uint64
	// MinRateWindow: rules about rates (allocation, GC cycles, CPU shares) are not evaluated on a
	// shorter window; the report's notes say so.
	MinRateWindow time.Duration
	// ClearRatio places every rule's clear threshold: a reported finding clears only when its
	// figure falls below ClearRatio × the raise threshold (rises above raise ÷ ClearRatio for a
	// threshold that fires on a low figure), so a figure hovering at the threshold does not flap.
	ClearRatio float64

	GCCPUWarning  float64 // gc_cpu_high: GC's share of the CPU the process used
	GCCPUCritical float64

	GCCyclesPerSecond float64 // gc_too_frequent: automatic cycles per second …
	GCFrequentMinCPU  float64 // … costing at least this share of the CPU used

	AssistShare float64 // gc_mark_assist_high: mark assist's share of the CPU used

	FragmentationRatio    float64 // heap_fragmentation: heap unused ÷ heap objects …
	FragmentationMinBytes uint64  // … with objects + unused at least this big

	FreeRatio    float64 // heap_free_not_returned: free ÷ mapped heap …
	FreeMinBytes uint64  // … and at least this much free

	NonGoShare    float64 // non_go_memory_large: C heap, thread stacks, other anonymous ÷ resident …
	NonGoMinBytes uint64  // … and at least this many bytes

	ThreadsPerProc float64 // threads_high: threads above this × GOMAXPROCS …
	ThreadsMin     uint64  // … and above this many

	TrendMinPoints       int           // trend rules need this many points of history …
	TrendMinSpan         time.Duration // … spanning at least this long
	GoroutineGrowthRatio float64       // goroutines_growing: grew by this share of the first point …
	GoroutineGrowthMin   uint64        // … and by at least this many …
	TrendSteadyShare     float64       // … with at least this share of steps not going down

	RSSGrowthRatio    float64 // rss_growing_heap_flat: resident grew by this share …
	RSSGrowthMinBytes uint64  // … and at least this many bytes …
	HeapFlatShare     float64 // … while the live heap grew by less than this share of that growth

	SmallObjectsPerSecond float64 // small_object_churn: allocations per second …
	SmallObjectMeanBytes  float64 // … with a mean size at most this

	LargeAllocShare          float64 // large_allocations_dominate: share of bytes in objects > 32 KiB …
	LargeAllocBytesPerSecond float64 // … at an allocation rate of at least this

	STWPauseMax    time.Duration // stw_pause_long: longest GC stop-the-world pause in the window
	STWStoppingMax time.Duration // stw_stopping_long: longest stopping phase in the window

	CgroupNearWarning  float64 // resident_near_cgroup_limit: working set ÷ limit
	CgroupNearCritical float64

	FDsWarning  float64 // fds_near_limit: open ÷ RLIMIT_NOFILE
	FDsCritical float64

	FinalizerBacklog uint64 // finalizer_backlog: finalizers + cleanups queued and not run

	LazyFreeMinBytes uint64  // lazy_free_resident: MADV_FREE'd bytes still resident …
	LazyFreeShare    float64 // … and this share of resident

	PageCacheShare    float64 // page_cache_in_cgroup: inactive file pages ÷ cgroup usage …
	PageCacheMinBytes uint64  // … and at least this many bytes

	ScanHeapShare    float64 // scan_heap_share_high: pointer-bearing heap ÷ live heap …
	ScanHeapMinBytes uint64  // … with a live heap at least this big

	ForcedGCPerSecond float64 // forced_gc_frequent: runtime.GC and debug.FreeOSMemory per second

	GOMEMLIMITHeadroomShare float64 // heap_near_gomemlimit: headroom below this share of the limit
}

// DefaultThresholds are the thresholds docs/findings.md explains.
func DefaultThresholds() Thresholds {
	return Thresholds{
		MinBusyCores:             0.05,
		MinGCCycles:              3,
		MinRateWindow:            500 * time.Millisecond,
		ClearRatio:               0.8,
		GCCPUWarning:             0.25,
		GCCPUCritical:            0.50,
		GCCyclesPerSecond:        4,
		GCFrequentMinCPU:         0.05,
		AssistShare:              0.05,
		FragmentationRatio:       0.5,
		FragmentationMinBytes:    64 << 20,
		FreeRatio:                0.5,
		FreeMinBytes:             64 << 20,
		NonGoShare:               0.25,
		NonGoMinBytes:            64 << 20,
		ThreadsPerProc:           8,
		ThreadsMin:               64,
		TrendMinPoints:           5,
		TrendMinSpan:             10 * time.Second,
		GoroutineGrowthRatio:     0.5,
		GoroutineGrowthMin:       100,
		TrendSteadyShare:         0.8,
		RSSGrowthRatio:           0.2,
		RSSGrowthMinBytes:        32 << 20,
		HeapFlatShare:            0.25,
		SmallObjectsPerSecond:    1e6,
		SmallObjectMeanBytes:     64,
		LargeAllocShare:          0.5,
		LargeAllocBytesPerSecond: 10 << 20,
		STWPauseMax:              10 * time.Millisecond,
		STWStoppingMax:           5 * time.Millisecond,
		CgroupNearWarning:        0.85,
		CgroupNearCritical:       0.95,
		FDsWarning:               0.8,
		FDsCritical:              0.95,
		FinalizerBacklog:         1000,
		LazyFreeMinBytes:         64 << 20,
		LazyFreeShare:            0.1,
		PageCacheShare:           0.25,
		PageCacheMinBytes:        64 << 20,
		ScanHeapShare:            0.75,
		ScanHeapMinBytes:         64 << 20,
		ForcedGCPerSecond:        0.1,
		GOMEMLIMITHeadroomShare:  0.05,
	}
}

// rule is one row of the rule table: a stable code, its usual severity, and the check, which
// returns nil when the rule does not fire. A check may raise the severity; Analyze fills Code and
// Doc.
type rule struct {
	code     string
	severity Severity
	check    func(*ruleContext) *Finding
}

type ruleContext struct {
	in      *AnalyzeInput
	w       *window
	e       *Efficiency
	rss     *RSS
	th      *Thresholds
	history []Point
	notes   []string
	whatIf  *whatIfModel // the GC model over the window, for advice that quotes its prediction

	// active is whether the rule being checked is reported (its clear thresholds apply), and
	// activeSeverity the severity it is reported at; see over, under, level.
	active         bool
	activeSeverity Severity
}

// busy reports whether the process used enough CPU, over enough GC cycles, for GC's share of it
// to mean something.
func (c *ruleContext) busy() bool {
	return c.w.ok() && c.over(c.e.BusyCores, c.th.MinBusyCores) &&
		c.w.du(func(m *RuntimeMetrics) uint64 { return m.GCCyclesTotal }) >= c.th.MinGCCycles
}

// FindingCodes lists every code the rules can produce, in table order.
func FindingCodes() []string {
	out := make([]string, len(allRules))
	for i, r := range allRules {
		out[i] = r.code
	}
	return out
}

func ev(name string, v float64, unit string) Evidence {
	return Evidence{Name: name, Value: v, Unit: unit}
}

func pct(v float64) string { return fmt.Sprintf("%.0f%%", v*100) }

var rules = []rule{
	{"gomemlimit_unset_in_container", SeverityWarning, func(c *ruleContext) *Finding {
		lim := c.e.CgroupLimitBytes
		if lim == nil || c.e.GOMEMLIMITBytes != nil || c.e.GOGC < 0 {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("the cgroup limits memory to %s but GOMEMLIMIT is unset: the GC paces by GOGC alone and does not see the limit", humanize.Bytes(*lim)),
			Evidence: []Evidence{ev("cgroup_limit", float64(*lim), "bytes"), ev("heap_goal", float64(c.e.HeapGoalBytes), "bytes"), ev("gogc", float64(c.e.GOGC), "percent")},
			Advice: c.withQuote(fmt.Sprintf("set GOMEMLIMIT to the limit minus what is not Go heap (C memory, thread stacks, page cache), "+
				"typically 80–90%% of it: GOMEMLIMIT=%dMiB; keep GOGC so the limit is a backstop, not the pacer", *lim*85/100>>20), adviseAdaptiveLimit),
		}
	}},
	{"gomemlimit_above_cgroup_limit", SeverityWarning, func(c *ruleContext) *Finding {
		lim, gml := c.e.CgroupLimitBytes, c.e.GOMEMLIMITBytes
		if lim == nil || gml == nil || *gml < 0 || uint64(*gml) < *lim {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("GOMEMLIMIT %s is at or above the cgroup limit %s: the kernel OOM-kills the process before the GC reacts", humanize.Bytes(uint64(*gml)), humanize.Bytes(*lim)),
			Evidence: []Evidence{ev("gomemlimit", float64(*gml), "bytes"), ev("cgroup_limit", float64(*lim), "bytes")},
			Advice:   fmt.Sprintf("lower GOMEMLIMIT below the cgroup limit, leaving room for memory outside the Go runtime: about %dMiB", *lim*85/100>>20),
		}
	}},
	{"resident_near_cgroup_limit", SeverityWarning, func(c *ruleContext) *Finding {
		lim := c.e.CgroupLimitBytes
		if lim == nil || *lim == 0 {
			return nil
		}
		used, what := c.e.CgroupUsageBytes, "usage"
		if c.e.CgroupWorkingSetBytes != nil {
			used, what = *c.e.CgroupWorkingSetBytes, "working set"
		}
		if used == 0 {
			return nil
		}
		share := ratio(float64(used), float64(*lim))
		sev := c.level(share, c.th.CgroupNearWarning, c.th.CgroupNearCritical)
		if sev == "" {
			return nil
		}
		return &Finding{
			Severity: sev,
			Headline: fmt.Sprintf("the cgroup's %s is %s of its %s limit (%s)", what, pct(share), humanize.Bytes(*lim), humanize.Bytes(used)),
			Evidence: []Evidence{ev("cgroup_"+map[bool]string{true: "working_set", false: "usage"}[what == "working set"], float64(used), "bytes"),
				ev("cgroup_limit", float64(*lim), "bytes"), ev("share_of_limit", share, "ratio"), ev("resident", float64(c.e.ResidentBytes), "bytes"),
				ev("heap_live", float64(c.e.HeapLiveBytes), "bytes")},
			Advice: ruleAdvice["resident_near_cgroup_limit"],
		}
	}},
	{"gc_cpu_high", SeverityWarning, func(c *ruleContext) *Finding {
		s := c.e.GCBusyCPUShare
		sev := c.level(s, c.th.GCCPUWarning, c.th.GCCPUCritical)
		if !c.busy() || sev == "" {
			return nil
		}
		return &Finding{
			Severity: sev,
			Headline: fmt.Sprintf("the GC used %s of the CPU the process used (%.2f cores busy, %.1f GC cycles/s)", pct(s), c.e.BusyCores, c.e.GCCyclesPerSecond),
			Evidence: []Evidence{ev("gc_busy_cpu_share", s, "ratio"), ev("gc_cpu_fraction", c.e.GCCPUFraction, "ratio"),
				ev("gc_assist_cpu_fraction", c.e.GCAssistCPUFraction, "ratio"), ev("busy_cores", c.e.BusyCores, "cores"),
				ev("gc_cycles_per_second", c.e.GCCyclesPerSecond, "1/s"), ev("alloc_bytes_per_second", c.e.AllocBytesPerSecond, "bytes/s"),
				ev("heap_live", float64(c.e.HeapLiveBytes), "bytes")},
			Advice: c.withQuote(ruleAdvice["gc_cpu_high"], adviseHigherGOGC),
		}
	}},
	{"gc_too_frequent", SeverityWarning, func(c *ruleContext) *Finding {
		auto := max(c.e.GCCyclesPerSecond-c.e.ForcedGCCyclesPerSecond, 0)
		if !c.busy() || !c.over(auto, c.th.GCCyclesPerSecond) || !c.over(c.e.GCBusyCPUShare, c.th.GCFrequentMinCPU) || c.e.GOGC < 0 {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("%.1f GC cycles/s for a live heap of %s: each cycle is cheap but the fixed costs add up to %s of CPU", auto, humanize.Bytes(c.e.HeapLiveBytes), pct(c.e.GCBusyCPUShare)),
			Evidence: []Evidence{ev("gc_cycles_per_second", auto, "1/s"), ev("heap_live", float64(c.e.HeapLiveBytes), "bytes"),
				ev("heap_goal", float64(c.e.HeapGoalBytes), "bytes"), ev("gogc", float64(c.e.GOGC), "percent"), ev("churn", c.e.Churn, "ratio"),
				ev("gc_busy_cpu_share", c.e.GCBusyCPUShare, "ratio")},
			Advice: c.withQuote(fmt.Sprintf("raise GOGC (from %d to 200–400 halves to quarters the cycles) and set GOMEMLIMIT so the larger heap stays bounded; or allocate less", c.e.GOGC), adviseHigherGOGC),
		}
	}},
	{"gc_mark_assist_high", SeverityWarning, func(c *ruleContext) *Finding {
		s := c.e.GCAssistBusyCPUShare
		if !c.busy() || !c.over(s, c.th.AssistShare) {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("goroutines spent %s of the CPU used on GC mark assist: allocation outran the background GC and slowed the allocating code", pct(s)),
			Evidence: []Evidence{ev("gc_assist_busy_cpu_share", s, "ratio"), ev("gc_assist_cpu_fraction", c.e.GCAssistCPUFraction, "ratio"),
				ev("alloc_bytes_per_second", c.e.AllocBytesPerSecond, "bytes/s"), ev("heap_live", float64(c.e.HeapLiveBytes), "bytes")},
			Advice: ruleAdvice["gc_mark_assist_high"],
		}
	}},
	{"heap_fragmentation", SeverityWarning, func(c *ruleContext) *Finding {
		rt := &c.w.cur.Runtime
		size := rt.HeapObjectsBytes + rt.HeapUnusedBytes
		if !c.over(float64(size), float64(c.th.FragmentationMinBytes)) || !c.over(c.e.HeapUnusedRatio, c.th.FragmentationRatio) {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("%s of in-use heap spans hold no object: %.2f bytes unused per byte of objects", humanize.Bytes(rt.HeapUnusedBytes), c.e.HeapUnusedRatio),
			Evidence: []Evidence{ev("heap_unused", float64(rt.HeapUnusedBytes), "bytes"), ev("heap_objects", float64(rt.HeapObjectsBytes), "bytes"),
				ev("heap_unused_ratio", c.e.HeapUnusedRatio, "ratio")},
			Advice: ruleAdvice["heap_fragmentation"],
		}
	}},
	{"heap_free_not_returned", SeverityInfo, func(c *ruleContext) *Finding {
		rt := &c.w.cur.Runtime
		if !c.over(float64(rt.HeapFreeBytes), float64(c.th.FreeMinBytes)) || !c.over(c.e.HeapFreeRatio, c.th.FreeRatio) {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("%s of free heap (%s of the mapped heap) is still resident, not yet returned to the OS", humanize.Bytes(rt.HeapFreeBytes), pct(c.e.HeapFreeRatio)),
			Evidence: []Evidence{ev("heap_free", float64(rt.HeapFreeBytes), "bytes"), ev("heap_mapped", float64(rt.GoHeapMappedBytes()), "bytes"),
				ev("heap_free_ratio", c.e.HeapFreeRatio, "ratio"), ev("heap_released", float64(rt.HeapReleasedBytes), "bytes")},
			Advice: ruleAdvice["heap_free_not_returned"],
		}
	}},
	{"non_go_memory_large", SeverityWarning, func(c *ruleContext) *Finding {
		if len(c.rss.Categories) == 0 || c.rss.ResidentBytes == 0 {
			return nil
		}
		cheap, threads, other := c.rss.Category(CategoryCHeap), c.rss.Category(CategoryThreadStacks), c.rss.Category(CategoryOtherAnonymous)
		n := cheap + threads + other
		share := ratio(float64(n), float64(c.rss.ResidentBytes))
		if !c.over(float64(n), float64(c.th.NonGoMinBytes)) || !c.over(share, c.th.NonGoShare) {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("%s (%s of resident) is memory Go does not manage: C heap %s, thread stacks %s, other anonymous %s", humanize.Bytes(n), pct(share), humanize.Bytes(cheap), humanize.Bytes(threads), humanize.Bytes(other)),
			Evidence: []Evidence{ev("c_heap", float64(cheap), "bytes"), ev("thread_stacks", float64(threads), "bytes"),
				ev("other_anonymous", float64(other), "bytes"), ev("resident", float64(c.rss.ResidentBytes), "bytes"), ev("share_of_resident", share, "ratio")},
			Advice: ruleAdvice["non_go_memory_large"],
		}
	}},
	{"threads_high", SeverityWarning, func(c *ruleContext) *Finding {
		t, p := c.e.Threads, c.e.GOMAXPROCS
		if p == 0 || !c.over(float64(t), float64(c.th.ThreadsMin)) || !c.over(float64(t), c.th.ThreadsPerProc*float64(p)) {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("%d OS threads for GOMAXPROCS=%d: threads are blocked in system calls, cgo calls or locked to goroutines", t, p),
			Evidence: []Evidence{ev("threads", float64(t), "count"), ev("gomaxprocs", float64(p), "count"),
				ev("thread_stacks", float64(c.rss.Category(CategoryThreadStacks)), "bytes"), ev("goroutines_not_in_go", float64(c.w.cur.Runtime.GoroutinesNotInGo), "count")},
			Advice: ruleAdvice["threads_high"],
		}
	}},
	{"goroutines_growing", SeverityWarning, func(c *ruleContext) *Finding {
		pts := c.history
		if len(pts) < 2 {
			return nil
		}
		gor := func(p Point) float64 { return float64(p.Goroutines) }
		first, last := pts[0], pts[len(pts)-1]
		grew := gor(last) - gor(first)
		if grew <= 0 || !c.over(grew, float64(c.th.GoroutineGrowthMin)) ||
			!c.over(grew, c.th.GoroutineGrowthRatio*gor(first)) || !c.over(steadyShare(pts, gor), c.th.TrendSteadyShare) {
			return nil
		}
		// Still growing: a leak that stopped is no longer "growing", however many it left behind.
		recent := recentPoints(pts)
		rgrew := gor(last) - gor(recent[0])
		if rgrew <= 0 {
			return nil
		}
		span, rspan := last.Time.Sub(first.Time).Seconds(), last.Time.Sub(recent[0].Time).Seconds()
		culprit := ""
		if g := goroutineCulprit(c.in.Leaks); g != "" {
			culprit = "; " + g
		}
		return &Finding{
			Headline: fmt.Sprintf("goroutines grew from %d to %d over %s (%.1f/s), by %.0f in the last %s (%.1f/s): a goroutine leak%s",
				first.Goroutines, last.Goroutines, humanize.Duration(span), ratio(grew, span), rgrew, humanize.Duration(rspan), ratio(rgrew, rspan), culprit),
			Evidence: []Evidence{ev("goroutines_first", gor(first), "count"), ev("goroutines_last", gor(last), "count"),
				ev("growth_per_second", ratio(grew, span), "1/s"), ev("span", span, "seconds"),
				ev("recent_growth_per_second", ratio(rgrew, rspan), "1/s"), ev("recent_span", rspan, "seconds"),
				ev("stack_bytes", float64(c.e.StackBytes), "bytes")},
			Advice: ruleAdvice["goroutines_growing"],
		}
	}},
	{"rss_growing_heap_flat", SeverityWarning, func(c *ruleContext) *Finding {
		pts := make([]Point, 0, len(c.history))
		for _, p := range c.history {
			if p.ResidentBytes > 0 {
				pts = append(pts, p)
			}
		}
		if len(pts) < max(c.th.TrendMinPoints, 2) {
			return nil
		}
		res := func(p Point) float64 { return float64(p.ResidentBytes) }
		first, last := pts[0], pts[len(pts)-1]
		grew := res(last) - res(first)
		heapGrew := float64(last.HeapLiveBytes) - float64(first.HeapLiveBytes)
		if grew <= 0 || !c.over(grew, float64(c.th.RSSGrowthMinBytes)) || !c.over(grew, c.th.RSSGrowthRatio*res(first)) ||
			!c.under(heapGrew, c.th.HeapFlatShare*grew) || !c.over(steadyShare(pts, res), c.th.TrendSteadyShare) {
			return nil
		}
		recent := recentPoints(pts)
		rgrew := res(last) - res(recent[0])
		if rgrew <= 0 {
			return nil
		}
		span, rspan := last.Time.Sub(first.Time).Seconds(), last.Time.Sub(recent[0].Time).Seconds()
		where := "memory is growing outside the Go heap"
		if m := growingMappings(c.in.Leaks); m != "" {
			where = "memory is growing outside the Go heap, in " + m
		}
		return &Finding{
			Headline: fmt.Sprintf("resident memory grew %s in %s (%s in the last %s) while the live heap changed by %s: %s",
				humanize.Bytes(uint64(grew)), humanize.Duration(span), humanize.Bytes(uint64(rgrew)), humanize.Duration(rspan), humanize.DeltaBytes(heapGrew), where),
			Evidence: []Evidence{ev("resident_first", res(first), "bytes"), ev("resident_last", res(last), "bytes"),
				ev("heap_live_first", float64(first.HeapLiveBytes), "bytes"), ev("heap_live_last", float64(last.HeapLiveBytes), "bytes"),
				ev("span", span, "seconds"), ev("recent_growth_bytes", rgrew, "bytes"), ev("recent_span", rspan, "seconds")},
			Advice: ruleAdvice["rss_growing_heap_flat"],
		}
	}},
	{"small_object_churn", SeverityWarning, func(c *ruleContext) *Finding {
		if !c.w.ok() || !c.over(c.e.AllocObjectsPerSecond, c.th.SmallObjectsPerSecond) || !c.atMost(c.e.MeanObjectBytes, c.th.SmallObjectMeanBytes) {
			return nil
		}
		f := &Finding{
			Headline: fmt.Sprintf("%.1f million allocations/s averaging %.0f bytes: many small, short-lived objects", c.e.AllocObjectsPerSecond/1e6, c.e.MeanObjectBytes),
			Evidence: []Evidence{ev("alloc_objects_per_second", c.e.AllocObjectsPerSecond, "1/s"), ev("mean_object_bytes", c.e.MeanObjectBytes, "bytes"),
				ev("tiny_alloc_share", c.e.TinyAllocShare, "ratio"), ev("gc_busy_cpu_share", c.e.GCBusyCPUShare, "ratio")},
			Advice: ruleAdvice["small_object_churn"],
		}
		if s := c.in.Sites; s != nil && len(s.Sites) > 0 {
			f.Headline += fmt.Sprintf("; top site %s (%s of sampled bytes)", s.Sites[0].Function, pct(s.Sites[0].Share))
		}
		return f
	}},
	{"large_allocations_dominate", SeverityInfo, func(c *ruleContext) *Finding {
		if !c.w.ok() || !c.over(c.e.LargeAllocShare, c.th.LargeAllocShare) || !c.over(c.e.AllocBytesPerSecond, c.th.LargeAllocBytesPerSecond) {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("%s of %s/s allocated is in objects over 32 KiB", pct(c.e.LargeAllocShare), humanize.Bytes(uint64(c.e.AllocBytesPerSecond))),
			Evidence: []Evidence{ev("large_alloc_share", c.e.LargeAllocShare, "ratio"), ev("alloc_bytes_per_second", c.e.AllocBytesPerSecond, "bytes/s")},
			Advice:   ruleAdvice["large_allocations_dominate"],
		}
	}},
	{"gc_cpu_limiter_engaged", SeverityCritical, func(c *ruleContext) *Finding {
		if !c.e.LimiterEngaged {
			return nil
		}
		f := &Finding{
			Headline: "the GC CPU limiter engaged: the live heap is at the memory limit and the GC would use more than half the CPU to stay under it",
			Evidence: []Evidence{ev("limiter_last_enabled_cycle", float64(c.w.cur.Runtime.LimiterLastEnabled), "count"),
				ev("heap_live", float64(c.e.HeapLiveBytes), "bytes"), ev("gc_cpu_fraction", c.e.GCCPUFraction, "ratio")},
			Advice: ruleAdvice["gc_cpu_limiter_engaged"],
		}
		if g := c.e.GOMEMLIMITBytes; g != nil {
			f.Evidence = append(f.Evidence, ev("gomemlimit", float64(*g), "bytes"))
		}
		return f
	}},
	{"stw_pause_long", SeverityWarning, func(c *ruleContext) *Finding {
		p := c.e.PauseGC
		if p.Count == 0 || !c.over(p.Max, c.th.STWPauseMax.Seconds()) {
			return nil
		}
		h := c.w.hist(func(m *RuntimeMetrics) Histogram { return m.PausesTotalGC })
		maxLo, maxHi := h.MaxRange()
		p50Lo, p50Hi := h.QuantileRange(0.5)
		p99Lo, p99Hi := h.QuantileRange(0.99)
		f := &Finding{
			Headline: fmt.Sprintf("the longest GC stop-the-world pause lasted %s (median %s, p99 %s, over %d pauses)",
				between(maxLo, maxHi), between(p50Lo, p50Hi), between(p99Lo, p99Hi), p.Count),
			Evidence: []Evidence{ev("pause_gc_max", p.Max, "seconds"), ev("pause_gc_max_at_least", finite(maxLo), "seconds"),
				ev("pause_gc_p99", p.P99, "seconds"), ev("pause_gc_p50", p.P50, "seconds"),
				ev("stopping_gc_max", c.e.StoppingGC.Max, "seconds"), ev("gomaxprocs", float64(c.e.GOMAXPROCS), "count")},
			Advice: ruleAdvice["stw_pause_long"],
		}
		if d := longestCyclePause(c.e.LastPauses); d > 0 {
			f.Headline += fmt.Sprintf("; the longest GC cycle in the window paused %s in total", humanize.Duration(d))
			f.Evidence = append(f.Evidence, ev("gc_cycle_pause_max", d, "seconds"))
		}
		return f
	}},
	{"stw_stopping_long", SeverityWarning, func(c *ruleContext) *Finding {
		p := c.e.StoppingGC
		if p.Count == 0 || !c.over(p.Max, c.th.STWStoppingMax.Seconds()) {
			return nil
		}
		h := c.w.hist(func(m *RuntimeMetrics) Histogram { return m.PausesStoppingGC })
		maxLo, maxHi := h.MaxRange()
		p99Lo, p99Hi := h.QuantileRange(0.99)
		return &Finding{
			Headline: fmt.Sprintf("stopping the world for the GC took %s at the longest (p99 %s, over %d stops): some goroutine did not reach a preemption point",
				between(maxLo, maxHi), between(p99Lo, p99Hi), p.Count),
			Evidence: []Evidence{ev("stopping_gc_max", p.Max, "seconds"), ev("stopping_gc_max_at_least", finite(maxLo), "seconds"),
				ev("stopping_gc_p99", p.P99, "seconds"), ev("pause_gc_max", c.e.PauseGC.Max, "seconds")},
			Advice: ruleAdvice["stw_stopping_long"],
		}
	}},
	{"fds_near_limit", SeverityWarning, func(c *ruleContext) *Finding {
		n, lim := c.e.OpenFDs, c.e.OpenFDsLimit
		if lim == 0 {
			return nil
		}
		share := ratio(float64(n), float64(lim))
		sev := c.level(share, c.th.FDsWarning, c.th.FDsCritical)
		if sev == "" {
			return nil
		}
		return &Finding{
			Severity: sev,
			Headline: fmt.Sprintf("%d of %d file descriptors are open (%s of RLIMIT_NOFILE)", n, lim, pct(share)),
			Evidence: []Evidence{ev("open_fds", float64(n), "count"), ev("rlimit_nofile", float64(lim), "count"), ev("share", share, "ratio")},
			Advice:   ruleAdvice["fds_near_limit"],
		}
	}},
	{"finalizer_backlog", SeverityWarning, func(c *ruleContext) *Finding {
		n := c.e.FinalizerBacklog + c.e.CleanupBacklog
		if !c.over(float64(n), float64(c.th.FinalizerBacklog)) {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("%d finalizers and %d cleanups are queued and not yet run: the objects they hold stay in memory", c.e.FinalizerBacklog, c.e.CleanupBacklog),
			Evidence: []Evidence{ev("finalizer_backlog", float64(c.e.FinalizerBacklog), "count"), ev("cleanup_backlog", float64(c.e.CleanupBacklog), "count")},
			Advice:   ruleAdvice["finalizer_backlog"],
		}
	}},
	{"lazy_free_resident", SeverityInfo, func(c *ruleContext) *Finding {
		lf, res := c.rss.LazyFreeBytes, c.rss.ResidentBytes
		if !c.over(float64(lf), float64(c.th.LazyFreeMinBytes)) || !c.over(ratio(float64(lf), float64(res)), c.th.LazyFreeShare) {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("%s of resident memory (%s) was released with MADV_FREE and not yet reclaimed by the kernel", humanize.Bytes(lf), pct(ratio(float64(lf), float64(res)))),
			Evidence: []Evidence{ev("lazy_free", float64(lf), "bytes"), ev("resident", float64(res), "bytes")},
			Advice:   ruleAdvice["lazy_free_resident"],
		}
	}},
	{"page_cache_in_cgroup", SeverityInfo, func(c *ruleContext) *Finding {
		ws, usage := c.e.CgroupWorkingSetBytes, c.e.CgroupUsageBytes
		if ws == nil || usage == 0 {
			return nil
		}
		inactive := sat(usage, *ws)
		share := ratio(float64(inactive), float64(usage))
		if !c.over(float64(inactive), float64(c.th.PageCacheMinBytes)) || !c.over(share, c.th.PageCacheShare) {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("%s of the cgroup's %s usage is inactive page cache: the working set is %s", humanize.Bytes(inactive), humanize.Bytes(usage), humanize.Bytes(*ws)),
			Evidence: []Evidence{ev("cgroup_usage", float64(usage), "bytes"), ev("cgroup_working_set", float64(*ws), "bytes"),
				ev("inactive_file", float64(inactive), "bytes"), ev("resident", float64(c.e.ResidentBytes), "bytes")},
			Advice: ruleAdvice["page_cache_in_cgroup"],
		}
	}},
	{"scan_heap_share_high", SeverityInfo, func(c *ruleContext) *Finding {
		rt := &c.w.cur.Runtime
		if !c.over(float64(rt.HeapLiveBytes), float64(c.th.ScanHeapMinBytes)) || !c.over(c.e.ScanHeapShare, c.th.ScanHeapShare) {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("%s of the %s live heap holds pointers the GC must scan", pct(min(c.e.ScanHeapShare, 1)), humanize.Bytes(rt.HeapLiveBytes)),
			Evidence: []Evidence{ev("scan_heap", float64(rt.ScanHeapBytes), "bytes"), ev("heap_live", float64(rt.HeapLiveBytes), "bytes"), ev("scan_heap_share", c.e.ScanHeapShare, "ratio")},
			Advice:   ruleAdvice["scan_heap_share_high"],
		}
	}},
	{"gc_off_without_limit", SeverityCritical, func(c *ruleContext) *Finding {
		if c.e.GOGC >= 0 || c.e.GOMEMLIMITBytes != nil || !c.w.cur.Requested.Has(SourceRuntimeMetrics) {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("GOGC=off and no GOMEMLIMIT: the heap (%s now) grows until the process is killed", humanize.Bytes(c.w.cur.Runtime.HeapObjectsBytes)),
			Evidence: []Evidence{ev("gogc", float64(c.e.GOGC), "percent"), ev("heap_objects", float64(c.w.cur.Runtime.HeapObjectsBytes), "bytes")},
			Advice:   ruleAdvice["gc_off_without_limit"],
		}
	}},
	{"forced_gc_frequent", SeverityInfo, func(c *ruleContext) *Finding {
		f := c.e.ForcedGCCyclesPerSecond
		if !c.w.ok() || !c.over(f, c.th.ForcedGCPerSecond) {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("%.2f forced GC cycles/s: code calls runtime.GC or debug.FreeOSMemory", f),
			Evidence: []Evidence{ev("forced_gc_cycles_per_second", f, "1/s"), ev("gc_cycles_per_second", c.e.GCCyclesPerSecond, "1/s")},
			Advice:   ruleAdvice["forced_gc_frequent"],
		}
	}},
	{"heap_near_gomemlimit", SeverityWarning, func(c *ruleContext) *Finding {
		g, h := c.e.GOMEMLIMITBytes, c.e.GOMEMLIMITHeadroomBytes
		if g == nil || h == nil || *g <= 0 || !c.under(float64(*h), c.th.GOMEMLIMITHeadroomShare*float64(*g)) || c.e.LimiterEngaged {
			return nil
		}
		return &Finding{
			Headline: fmt.Sprintf("Go's memory is within %s of GOMEMLIMIT %s: the GC runs more often to stay under it", humanize.DeltaBytes(float64(*h)), humanize.Bytes(uint64(*g))),
			Evidence: []Evidence{ev("gomemlimit", float64(*g), "bytes"), ev("gomemlimit_headroom", float64(*h), "bytes"),
				ev("heap_live", float64(c.e.HeapLiveBytes), "bytes"), ev("gc_cycles_per_second", c.e.GCCyclesPerSecond, "1/s")},
			Advice: c.withQuote(ruleAdvice["heap_near_gomemlimit"], adviseRaiseLimit),
		}
	}},
}

// ruleAdvice is what to change, per rule: the one place a rule's advice is written, so that it can
// be extended (with a prediction, a link) without touching the rule. Rules whose advice quotes a
// figure format it in the rule, from the text here where there is one.
var ruleAdvice = map[string]string{
	"resident_near_cgroup_limit": "find what grows in the RSS categories; if it is the Go heap, set GOMEMLIMIT below the limit so the GC works harder before the kernel kills; otherwise raise the limit or shrink the largest category",
	"gc_cpu_high":                "allocate less (see top_allocation_sites: reuse buffers, avoid boxing into interfaces, pre-size slices and maps), or trade memory for CPU with a higher GOGC and GOMEMLIMIT as the bound",
	"gc_mark_assist_high":        "assists land on the goroutines that allocate, as latency: cut allocation bursts (pools for per-request buffers), or give the GC more runway with a higher GOGC",
	"heap_fragmentation":         "a few long-lived objects keep whole spans of short-lived ones alive: allocate long-lived data together (one slice of structs instead of many pointers), drop references to caches' evicted entries, and avoid keeping a small sub-slice of a large buffer",
	"heap_free_not_returned":     "the heap was larger a moment ago; the scavenger returns it gradually. Set GOMEMLIMIT so it returns memory as the limit nears, or flatten the spike (stream instead of loading whole)",
	"non_go_memory_large":        "GOMEMLIMIT and the GC do not see this memory: free what cgo libraries allocate, cap glibc's arenas (MALLOC_ARENA_MAX=2) and trim them (malloc_trim), bound the threads blocked in cgo; subtract this from the limit when setting GOMEMLIMIT",
	"threads_high":               "the runtime never exits idle threads, so a burst leaves them behind: bound blocking cgo and syscall concurrency with a semaphore, unlock every runtime.LockOSThread (a goroutine that exits locked takes its thread with it)",
	"goroutines_growing":         "take a goroutine profile to see the stack most goroutines wait in: with the trigger runtimediag.OnFinding(\"goroutines_growing\") the Monitor captures one when this finding appears, to download from /debug/memdiag/captures/{id}/goroutine (go tool pprof reads it); give every goroutine a way to end (context cancellation, closed channels, timeouts on network calls)",
	"rss_growing_heap_flat":      "compare the RSS categories over time: c_heap growing means C memory not freed (cgo), thread_stacks means threads accumulating, file_mappings means mapped files kept; go_stacks means goroutines",
	"small_object_churn":         "the classic causes: values boxed into interfaces (any, error, fmt arguments), pointers to small structs where a value would do, slices and closures that escape to the heap (go build -gcflags=-m shows why), strings built by concatenation; keep values in slices of structs, pass by value, reuse buffers",
	"large_allocations_dominate": "each large object is a span of its own, zeroed on allocation and counted whole towards the next GC: reuse large buffers (a sync.Pool of *[]byte or bytes.Buffer), stream instead of reading whole bodies, pre-size instead of growing by append",
	"gc_cpu_limiter_engaged":     "the limit is too low for the live data: raise GOMEMLIMIT (and the container limit) or reduce what is kept live; while the limiter is on, the heap overshoots the limit and an OOM kill is next",
	"stw_pause_long":             "Go's pauses are normally well under a millisecond; a long one is usually the stopping phase (see stw_stopping_long) or a starved machine (CPU throttling by the cgroup quota: check GOMAXPROCS against the CPU limit)",
	"stw_stopping_long":          "every other goroutine waits while one is stopped: look for tight loops in code built with asynchronous preemption off (GODEBUG=asyncpreemptoff=1), long assembly or runtime calls that cannot be interrupted; since the hybrid write barrier the STW itself does no stack rescanning, so a long stop is almost always this",
	"fds_near_limit":             "at the limit accept and open fail with EMFILE: close response bodies and files on every path, bound connection pools, and raise the soft limit (Go raises it to the hard limit at start unless something lowered it)",
	"finalizer_backlog":          "finalizers run one at a time on one goroutine: one that blocks stops them all. Keep finalizers and cleanups short and non-blocking, and release resources explicitly (Close) rather than by finalizer",
	"lazy_free_resident":         "these pages are free and go away under memory pressure, but RSS and dashboards count them; unset GODEBUG=madvdontneed=0 (MADV_DONTNEED, the default since Go 1.16) to make RSS honest",
	"page_cache_in_cgroup":       "inactive file pages are reclaimed before anything is OOM-killed: alert on the working set (usage − inactive_file, container_memory_working_set_bytes), not on usage",
	"scan_heap_share_high":       "mark cost grows with pointers, not bytes: store values instead of pointers in large slices and maps, use indices into a slice instead of pointer graphs, keep strings and byte slices out of long-lived maps or intern them",
	"gc_off_without_limit":       "GOGC=off is only safe with GOMEMLIMIT set: set GOMEMLIMIT to what the process may use, or turn GOGC back on",
	"forced_gc_frequent":         "a forced cycle blocks its caller for a whole mark and sweep, and FreeOSMemory stops the world too: remove the calls and let GOGC and GOMEMLIMIT pace the GC",
	"heap_near_gomemlimit":       "the live heap is close to the limit: raise it if the container has room, or reduce what is kept live; next comes the GC CPU limiter",
}

// steadyShare is the share of steps between consecutive points in which v did not go down.
func steadyShare(pts []Point, v func(Point) float64) float64 {
	if len(pts) < 2 {
		return 0
	}
	up := 0
	for i := 1; i < len(pts); i++ {
		if v(pts[i]) >= v(pts[i-1]) {
			up++
		}
	}
	return float64(up) / float64(len(pts)-1)
}

// trendSeries is the history trend rules look at: the given points in time order, plus one for cur
// when it is newer than the last.
func trendSeries(history []Point, cur *Snapshot) []Point {
	pts := slices.Clone(history)
	if len(pts) == 0 || pts[len(pts)-1].Time.Before(cur.Time) {
		pts = append(pts, analyzePoint(cur))
	}
	slices.SortStableFunc(pts, func(a, b Point) int { return a.Time.Compare(b.Time) })
	return pts
}

// analyzePoint is the few numbers trend rules need from one snapshot.
func analyzePoint(s *Snapshot) Point {
	p := Point{Time: s.Time, HeapLiveBytes: s.Runtime.HeapLiveBytes, HeapObjectsBytes: s.Runtime.HeapObjectsBytes,
		GoTotalBytes: s.Runtime.TotalBytes, Goroutines: uint32(min(s.Runtime.Goroutines, 1<<32-1)), Threads: uint32(min(s.Runtime.Threads, 1<<32-1))}
	if s.Has(SourceStatm) {
		p.ResidentBytes = s.Statm.ResidentBytes
	}
	return p
}

// recentPoints is the end of a trend series the rules ask "still going?" of: the points in the
// last quarter of its span, and at least the last two.
func recentPoints(pts []Point) []Point {
	if len(pts) < 2 {
		return pts
	}
	last := pts[len(pts)-1].Time
	from := last.Add(-last.Sub(pts[0].Time) / 4)
	i := len(pts) - 2
	for i > 0 && !pts[i-1].Time.Before(from) {
		i--
	}
	return pts[i:]
}

// between writes a histogram bucket [lo, hi) of seconds as the range it is (humanize.DurationRange).
func between(lo, hi float64) string { return humanize.DurationRange(lo, hi) }

// longestCyclePause is the longest exact per-cycle pause total (ReadGCStats) among the window's
// pauses, in seconds; 0 when none is listed.
func longestCyclePause(ps []GCPause) float64 {
	var d time.Duration
	for _, p := range ps {
		d = max(d, p.Duration)
	}
	return d.Seconds()
}
