// Package promexport exports a [runtimediag.Monitor] to Prometheus: [NewCollector] returns a
// prometheus.Collector to register on the caller's registry. It is the only memdiag package that
// imports client_golang, so services that do not use Prometheus never link it.
//
// # Overview
//
//	mon, _ := runtimediag.NewMonitor()
//	_ = mon.Start(ctx)
//	defer mon.Close()
//	col, _ := promexport.NewCollector(mon)
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(col, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
//	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// (ExampleNewCollector is this, compiled.)
//
// Every family is named memdiag_*, so it registers beside client_golang's go_* and process_*
// collectors without a clash. Two sources feed a scrape, and each family's help says which:
//
//   - the Monitor's newest tick (cheap tier, every WithTickInterval): resident bytes, the heap, the
//     limit, and cumulative counters (memdiag_alloc_bytes_total, memdiag_gc_cycles_total,
//     memdiag_gc_cpu_seconds_total, memdiag_cpu_available_seconds_total) for PromQL's rate();
//   - the Monitor's last full report (every WithFullInterval, or on demand): the RSS categories,
//     unexplained bytes, Go-managed and non-Go bytes, the window's efficiency ratios and
//     stop-the-world quantiles, active findings, and the per-route estimates when Instrument
//     feeds the Monitor. memdiag_report_age_seconds says how old they are.
//
// A value that was not measured is absent, never a zero: no report families before the first full
// report, no memdiag_resident_bytes where statm cannot be read, no limit without one.
//
// # Overhead
//
// A scrape never triggers a collection: Collect reads [runtimediag.Monitor.Latest] (a copy of one
// history point and a pointer to the report already taken) and never calls ReadMemStats. The
// report's families are built once per report and reused by every scrape until the next one;
// docs/performance.md gives Collect's measured cost.
//
// # Cardinality
//
// Every label is bounded by memdiag itself: 13 RSS categories × 3 methods at most, findings by the
// fixed rule table (runtimediag.FindingCodes) × 3 severities, routes by WithMaxRoutes (default
// 100, and Instrument bounds them before that). Nothing is labelled with a path, an address or
// an error message.
package promexport
