// Package runtimediag reads what a Go process can know about its own memory — the runtime's
// accounting from runtime/metrics, the GC's pause history, and the kernel's view from /proc/self and
// the process's cgroup — into one immutable [Snapshot], without stopping the world.
//
// # Overview
//
// A [Collector] reads snapshots at two tiers:
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
//	if err != nil { ... }
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
