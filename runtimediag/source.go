package runtimediag

import (
	"math/bits"
	"strconv"
	"strings"
)

// Source is one thing a snapshot reads: a runtime API or a file of /proc/self or the cgroup.
type Source uint8

// The sources, in the order a snapshot reads them.
const (
	SourceRuntimeMetrics Source = iota // runtime/metrics
	SourceGCPauses                     // runtime/debug.ReadGCStats
	SourceStatm                        // /proc/self/statm
	SourceCgroupMemory                 // the memory controller of the process's cgroup (v1 or v2)
	SourceStatus                       // /proc/self/status
	SourceStat                         // /proc/self/stat
	SourceLimits                       // /proc/self/limits
	SourceSmaps                        // /proc/self/smaps, per mapping (walks page tables)
	SourceMaps                         // /proc/self/maps (read when smaps could not be, or when asked alone)
	SourceSmapsRollup                  // /proc/self/smaps_rollup (walks page tables)
	SourceFDs                          // /proc/self/fd
	SourceThreads                      // /proc/self/task/*
	SourceAuxv                         // /proc/self/auxv
	SourceCgroups                      // /proc/self/cgroup and mountinfo: cgroup membership
	SourceIdentity                     // cmdline, comm, cwd, exe, root, wchan
	SourceEnviron                      // /proc/self/environ, keys only
	SourceSyscall                      // /proc/self/syscall
	SourceLatency                      // /proc/self/latency (CONFIG_LATENCYTOP)
	numSources
)

var sourceNames = [numSources]string{
	SourceRuntimeMetrics: "runtime/metrics", SourceGCPauses: "gc_pauses", SourceStatm: "statm",
	SourceCgroupMemory: "cgroup_memory", SourceStatus: "status", SourceStat: "stat", SourceLimits: "limits",
	SourceSmaps: "smaps", SourceMaps: "maps", SourceSmapsRollup: "smaps_rollup", SourceFDs: "fd",
	SourceThreads: "task", SourceAuxv: "auxv", SourceCgroups: "cgroup", SourceIdentity: "identity",
	SourceEnviron: "environ", SourceSyscall: "syscall", SourceLatency: "latency",
}

func (s Source) String() string {
	if s < numSources {
		return sourceNames[s]
	}
	return "source(" + strconv.Itoa(int(s)) + ")"
}

// SourceSet is a set of sources.
type SourceSet uint32

// Set returns the set holding the given sources.
func Set(srcs ...Source) SourceSet {
	var s SourceSet
	for _, src := range srcs {
		s |= 1 << src
	}
	return s
}

// Has reports whether src is in the set.
func (s SourceSet) Has(src Source) bool { return s&(1<<src) != 0 }

// Len is the number of sources in the set.
func (s SourceSet) Len() int { return bits.OnesCount32(uint32(s)) }

// Sources lists the set's members in reading order.
func (s SourceSet) Sources() []Source {
	out := make([]Source, 0, s.Len())
	for src := Source(0); src < numSources; src++ {
		if s.Has(src) {
			out = append(out, src)
		}
	}
	return out
}

func (s SourceSet) String() string {
	names := make([]string, 0, s.Len())
	for _, src := range s.Sources() {
		names = append(names, src.String())
	}
	return strings.Join(names, ",")
}

// The two tiers. Cheap is what a periodic tick reads: O(1) reads whose cost does not grow with
// resident memory, with no page-table walks (smaps, smaps_rollup) and no mmap lock. Full adds
// everything that explains where memory is, at a cost that grows with the number of mappings,
// resident memory and threads; smaps_rollup is left out of Full because per-mapping smaps already
// carries every rollup field and a second page-table walk would double the dominant cost.
const (
	CheapSources SourceSet = 1<<SourceRuntimeMetrics | 1<<SourceGCPauses | 1<<SourceStatm | 1<<SourceCgroupMemory
	FullSources  SourceSet = CheapSources | 1<<SourceStatus | 1<<SourceStat | 1<<SourceLimits |
		1<<SourceSmaps | 1<<SourceMaps | 1<<SourceFDs | 1<<SourceThreads | 1<<SourceAuxv |
		1<<SourceCgroups | 1<<SourceIdentity | 1<<SourceEnviron | 1<<SourceSyscall | 1<<SourceLatency
	AllSources SourceSet = 1<<numSources - 1
)
