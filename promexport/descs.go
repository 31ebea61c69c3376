package promexport

import "github.com/prometheus/client_golang/prometheus"

// descs are every family the Collector exports. The help of each says where its value comes from:
// "tick" is the Monitor's newest cheap reading, "report" the last full report.
type descs struct {
	info *prometheus.Desc

	// The newest tick.
	tickAge, resident, goMapped, heapObjects, heapLive, heapGoal, heapReleased, limit, cgroupUsage,
	allocBytes, gcCycles, gcCPU, cpuAvailable, goroutines, threads *prometheus.Desc

	// The last full report.
	reportAge, reportWindow, category, unexplained, goManaged, nonGo, lazyFree, arenaOK,
	gcCPURatio, gcAssistRatio, gcBusyRatio, stwP50, stwP99, stwMax, heapUnusedRatio, heapFreeRatio, finding *prometheus.Desc
	stwP50Lower, stwP99Lower, stwMaxLower                       *prometheus.Desc
	selfAllocRate, selfHeapInuse                                *prometheus.Desc
	routeRequests, routeSTW, routeDelayed, routeAllocPerRequest *prometheus.Desc

	// The Monitor's own work.
	ticks, tickSeconds, fullReports, selfCPU *prometheus.Desc
}

const stwHelp = "A histogram bucket's upper bound, so never understated; the pause lies between the _lower_seconds series of the same name and this one; kind gc is the whole GC pause, gc_stopping the time to stop the world for it, other the non-GC pauses; absent for a kind without a pause in the window."

func newDescs() descs {
	n := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("memdiag_"+name, help, labels, nil)
	}
	return descs{
		info: n("info", "memdiag's version; always 1.", "version"),

		tickAge:      n("tick_age_seconds", "Seconds since the Monitor's newest tick read the values marked tick."),
		resident:     n("resident_bytes", "Resident set of the process (statm), tick; absent where statm cannot be read."),
		goMapped:     n("go_mapped_bytes", "All memory the Go runtime has mapped read-write (/memory/classes/total:bytes), tick."),
		heapObjects:  n("heap_objects_bytes", "Go heap bytes in live and not yet swept objects, tick."),
		heapLive:     n("heap_live_bytes", "Go heap bytes the last GC marked live, tick."),
		heapGoal:     n("heap_goal_bytes", "Heap size at which the next GC cycle ends, tick."),
		heapReleased: n("heap_released_bytes", "Go heap bytes returned to the operating system, tick."),
		limit:        n("memory_limit_bytes", "The smaller of GOMEMLIMIT and the cgroup memory limit, tick; absent when neither is set."),
		cgroupUsage:  n("cgroup_usage_bytes", "Memory charged to the process's cgroup, page cache included, tick; absent when unread."),
		allocBytes:   n("alloc_bytes_total", "Go heap bytes allocated since the process started, tick; rate() is the allocation rate."),
		gcCycles:     n("gc_cycles_total", "GC cycles completed since the process started, tick."),
		gcCPU:        n("gc_cpu_seconds_total", "CPU seconds the GC used since the process started (the runtime's estimate), tick."),
		cpuAvailable: n("cpu_available_seconds_total", "CPU seconds available to Go since the process started, GOMAXPROCS × wall time (the runtime's estimate), tick; divides gc_cpu_seconds_total's rate into a share."),
		goroutines:   n("goroutines", "Live goroutines, tick."),
		threads:      n("threads", "OS threads the Go runtime has created, tick."),

		reportAge:    n("report_age_seconds", "Seconds since the last full report's snapshot was read: how old every value marked report is."),
		reportWindow: n("report_window_seconds", "Seconds covered by the last full report's rates and quantiles, report."),
		category: n("rss_category_bytes",
			"Resident bytes by category (docs/rss-categories.md); with memdiag_rss_unexplained_bytes they sum to the process's resident set at the report's time, report. method says how each was measured; a category that was not measured (before the first full classification) has no sample.",
			"category", "method"),
		unexplained:   n("rss_unexplained_bytes", "Resident bytes no category holds (statm and smaps read moments apart); negative when the categories measured more, report; absent when the resident set was not read."),
		goManaged:     n("go_managed_bytes", "Resident bytes the Go runtime manages: the go_* categories, report."),
		nonGo:         n("non_go_bytes", "Resident bytes outside the Go runtime's management: every other category, report; absent when none of them was measured."),
		lazyFree:      n("rss_lazy_free_bytes", "Resident bytes released with MADV_FREE and not yet reclaimed by the kernel, report."),
		arenaOK:       n("arena_check_ok", "1 when the Go heap arenas found match runtime/metrics (the attribution's self-check), 0 when not, report."),
		gcCPURatio:    n("gc_cpu_ratio", "GC CPU ÷ CPU available to Go over the report's window, report."),
		gcAssistRatio: n("gc_assist_cpu_ratio", "GC mark assist CPU ÷ CPU available to Go over the report's window, report."),
		gcBusyRatio:   n("gc_busy_cpu_ratio", "GC CPU that competed with the program (assist, dedicated workers, pauses) ÷ CPU the process used, over the report's window, report."),
		// Three gauges rather than one with a quantile label: quantile belongs to summaries, and
		// these are a window's figures from histogram deltas, with no sum to make a summary of.
		stwP50:          n("stw_pause_p50_seconds", "Median stop-the-world pause over the report's window, report. "+stwHelp, "kind"),
		stwP99:          n("stw_pause_p99_seconds", "99th percentile stop-the-world pause over the report's window, report. "+stwHelp, "kind"),
		stwMax:          n("stw_pause_max_seconds", "Longest stop-the-world pause over the report's window, report. "+stwHelp, "kind"),
		stwP50Lower:     n("stw_pause_p50_lower_seconds", "Lower bound of the histogram bucket that holds the median stop-the-world pause (0 for the lowest bucket), report; the median lies between this and memdiag_stw_pause_p50_seconds.", "kind"),
		stwP99Lower:     n("stw_pause_p99_lower_seconds", "Lower bound of the histogram bucket that holds the 99th percentile stop-the-world pause, report; it lies between this and memdiag_stw_pause_p99_seconds.", "kind"),
		stwMaxLower:     n("stw_pause_max_lower_seconds", "Lower bound of the histogram bucket that holds the longest stop-the-world pause, report; it lies between this and memdiag_stw_pause_max_seconds.", "kind"),
		heapUnusedRatio: n("heap_unused_ratio", "Go heap unused bytes in in-use spans ÷ heap object bytes (fragmentation), report."),
		heapFreeRatio:   n("heap_free_ratio", "Go heap free spans not returned to the OS ÷ mapped heap, report."),
		finding:         n("finding", "1 for each finding active in the last report (docs/findings.md#<code>), report; absent when it is not.", "code", "severity"),

		routeRequests:        n("route_requests_total", "Requests of a route that Instrument counted, as of the last report.", "route"),
		routeSTW:             n("route_stw_seconds_total", "Stop-the-world GC time a route's requests sat through, summed over requests, as of the last report.", "route"),
		routeDelayed:         n("route_stw_delayed_requests_total", "Requests of a route that sat through at least one stop-the-world GC pause, as of the last report.", "route"),
		routeAllocPerRequest: n("route_alloc_bytes_per_request", "Estimated Go heap bytes a route allocates per request, from the sampled allocation profile, report; absent when it could not be attributed.", "route"),

		ticks:       n("monitor_ticks_total", "Ticks the Monitor has run."),
		tickSeconds: n("monitor_tick_seconds_total", "Wall time the Monitor's ticks took, summed: memdiag's own periodic cost."),
		fullReports: n("monitor_full_reports_total", "Full reports the Monitor has taken."),
		selfCPU:     n("self_cpu_seconds_total", "memdiag's own CPU seconds: ticks (their wall time), window readings and full collections (their thread's CPU clock on Linux); rendering HTTP answers is not counted."),

		selfAllocRate: n("self_alloc_bytes_per_second", "memdiag's own Go heap allocation rate over the report's window, from the sampled allocation profile (its sites, kept out of the application's), report; absent when no GC cycle ended in the window."),
		selfHeapInuse: n("self_heap_inuse_bytes", "Live Go heap memdiag's own allocations held at the last GC before the report, estimated from the sampled allocation profile, report; absent when the profile was not read."),
	}
}

func (d *descs) all() []*prometheus.Desc {
	return []*prometheus.Desc{
		d.info,
		d.tickAge, d.resident, d.goMapped, d.heapObjects, d.heapLive, d.heapGoal, d.heapReleased, d.limit, d.cgroupUsage,
		d.allocBytes, d.gcCycles, d.gcCPU, d.cpuAvailable, d.goroutines, d.threads,
		d.reportAge, d.reportWindow, d.category, d.unexplained, d.goManaged, d.nonGo, d.lazyFree, d.arenaOK,
		d.gcCPURatio, d.gcAssistRatio, d.gcBusyRatio, d.stwP50, d.stwP99, d.stwMax, d.heapUnusedRatio, d.heapFreeRatio, d.finding,
		d.stwP50Lower, d.stwP99Lower, d.stwMaxLower, d.selfAllocRate, d.selfHeapInuse,
		d.routeRequests, d.routeSTW, d.routeDelayed, d.routeAllocPerRequest,
		d.ticks, d.tickSeconds, d.fullReports, d.selfCPU,
	}
}
