// Package rssattr explains where a process's resident memory is: it classifies every mapping of
// /proc/<pid>/smaps (Go heap arenas found with probe objects, thread stacks, the C heap, the
// binary, shared libraries, file mappings, shared memory, the kernel's) and sums them into the
// RSS categories of memdiag's report, with the Go heap divided as runtime/metrics divides it.
//
// [Attributor.Measure] attributes a full reading of this process; [Attributor.Estimate] the cheap
// tier from statm and runtime/metrics plus the last full classification; [ClassifyMappings]
// classifies any process's mappings from outside. runtimediag builds the readings from its
// snapshots and carries the result in its Report.
package rssattr
