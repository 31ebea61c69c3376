// Package runtimediag explains a Go process's memory from inside it, without stopping the world:
// where every resident byte is, how efficiently the process allocates, and what to change, as a
// [Report] of figures and findings.
//
// # The Monitor
//
// A [Monitor] is the front door. [NewMonitor] takes options, validated when it is called (a bad
// value is an error, never a panic), and starts nothing; [Monitor.Start] runs its tick and its
// background reports until its context ends or [Monitor.Close] is called; after Close its methods
// return [ErrClosed].
//
//	mon, err := runtimediag.NewMonitor(
//		runtimediag.WithLogger(logger),                 // default: no logging
//		runtimediag.WithTickInterval(time.Second),      // the cheap reading behind the history
//		runtimediag.WithFullInterval(5*time.Minute),    // a full report in the background
//		runtimediag.WithThresholds(runtimediag.DefaultThresholds()), // the finding rules' numbers
//	)
//	if err != nil {
//		return err
//	}
//	defer mon.Close()
//	if err := mon.Start(ctx); err != nil {
//		return err
//	}
//	rep, err := mon.Report(ctx) // a fresh full report over the last full interval
//	if err != nil {
//		return err
//	}
//	for _, f := range rep.Findings {
//		logger.Warn(f.Headline, zap.String("code", f.Code), zap.String("advice", f.Advice))
//	}
//
// A [Report] holds the RSS attribution ([Report.RSS]: categories that sum to resident bytes, with
// what is left unexplained), the efficiency over its window ([Report.Efficiency]: allocation and GC
// rates, GC CPU, pauses, headroom to the limits), the findings ([Finding]: a stable code, a
// severity, a headline, the evidence and advice; docs/findings.md), the top allocation sites, the
// routes an instrumenting middleware counted ([RouteSource]), the what-if table and the leak
// suspects. Its JSON is docs/report-schema.json. The other options (history, periodic logs,
// triggers and captures, the adaptive memory limit, custom series) are the With functions.
//
// [Analyze] is the pure function behind a report: an [AnalyzeInput] of snapshots, the RSS
// attribution, history and [Thresholds] in, a [Report] out — the same input gives byte-identical
// JSON, which is how the rules are tested on recorded snapshots.
//
// # Collector and Snapshot
//
// Below the Monitor, a [Collector] reads what a process can know about its own memory — the
// runtime's accounting from runtime/metrics, the GC's pause history, and the kernel's view from
// /proc/self and the process's cgroup — into one [Snapshot], at two tiers:
//
//   - cheap ([CheapSources]): runtime/metrics (every memory class, allocation and GC counters, the
//     /sched/pauses histograms, GC CPU classes, GOGC, GOMEMLIMIT, goroutines, threads), the last 256
//     GC pauses with their end times, /proc/self/statm and the cgroup's memory counters. This is what
//     a periodic tick reads: it costs microseconds whatever the size of the process, and once warm
//     [Collector.ReadCheap] allocates nothing.
//   - full ([FullSources]): the cheap tier plus per-mapping smaps (or maps when smaps cannot be
//     read), status, stat, limits, file descriptors, threads, auxv, cgroup membership and the whole
//     memory.stat, identity (cmdline, comm, cwd, exe, root, wchan), environment keys, syscall and
//     latency. Its cost grows with resident memory and the number of mappings: read it on demand or
//     on a slow interval.
//
// Every source that was asked for and could not be read says why ([Snapshot.Err],
// [Snapshot.Problems], [SourceError.Reason]): "permission denied", "no such file", "unsupported on
// this system". A missing reading is never a silent zero.
//
//	c, err := runtimediag.NewCollector(runtimediag.WithLogger(logger))
//	if err != nil {
//		return err
//	}
//	defer c.Close()
//	var snap runtimediag.Snapshot
//	for range ticker.C {
//		c.ReadCheap(&snap) // no allocation, no stop-the-world
//		logger.Info("memory", zap.Object("memdiag", &snap))
//	}
//
// A [Monitor] also tracks what keeps growing ([WithLeakTracking], on by default): at each of its
// window readings it takes the heap in use by allocation site from the allocation profile it reads
// anyway, keeps a bounded series for the sites that matter, and a trend test (Theil–Sen slope,
// Mann–Kendall significance) names the ones that keep growing, by their first application frame
// ([Monitor.Leaks], [Report.Leaks], docs/leaks.md). Each suspect raises a finding and a log line.
//
// # Overhead
//
// Nothing in this package calls runtime.ReadMemStats, which stops the world on every call; a test
// proves that 1,000 cheap snapshots add no /sched/pauses/total/other events. The costs measured on
// a 2-core machine, and the commands that reproduce them, are in docs/performance.md.
//
// # Security
//
// Snapshots keep environment variable names only; a value is kept only for a key the user allows
// ([WithEnvAllowlist]). Command lines and file descriptor targets are kept as the kernel shows them
// (the same as ps and ls -l /proc/self/fd); whoever serves a snapshot must redact them, as the
// middleware package does. The zap summary ([Snapshot.MarshalLogObject]) logs numbers only.
//
// # Platforms
//
// On Linux every source is read. Elsewhere the runtime sources work and every /proc and cgroup
// source reports an error wrapping errors.ErrUnsupported.
package runtimediag
