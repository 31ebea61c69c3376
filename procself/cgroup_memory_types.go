package procself

// The values a memory cgroup reading is made of, v1 and v2 under common names, with their
// presence bits: CgroupMemory, CgroupLimit, CgroupMemoryEvents, CgroupMemoryStat.

import "time"

// CgroupLimit is the value of a limit file: a byte count, or no limit at all.
type CgroupLimit struct {
	// Bytes is the limit; 0 when Unlimited.
	Bytes uint64
	// Unlimited is set for v2 "max" and for the v1 sentinel (PAGE_COUNTER_MAX rounded to the page
	// size, 9223372036854771712 with 4 KiB pages), so that no magic number reaches a caller.
	Unlimited bool
}

// stricter reports whether l limits more than o.
func (l CgroupLimit) stricter(o CgroupLimit) bool {
	switch {
	case l.Unlimited:
		return false
	case o.Unlimited:
		return true
	}
	return l.Bytes < o.Bytes
}

// CgroupFields says which fields of a [CgroupMemory] hold a reading. A file the kernel does not
// provide (memory.peak before Linux 5.19, swap files without swap accounting, anything the cheap
// [CgroupMemoryReader.Read] skips) leaves its bit clear: its field is zero, not a reading of zero.
type CgroupFields uint32

const (
	CgroupHasUsage          CgroupFields = 1 << iota // UsageBytes
	CgroupHasLimit                                   // Limit
	CgroupHasEffectiveLimit                          // EffectiveLimit, EffectiveLimitPath
	CgroupHasPeak                                    // PeakBytes
	CgroupHasSwap                                    // SwapBytes
	CgroupHasSwapLimit                               // SwapLimit (v2)
	CgroupHasMemSwapLimit                            // MemSwapLimit (v1)
	CgroupHasHigh                                    // High (v2)
	CgroupHasLow                                     // Low (v2)
	CgroupHasMin                                     // Min (v2)
	CgroupHasEvents                                  // Events
	CgroupHasStat                                    // Stat
)

// Has reports whether every bit of x is set.
func (f CgroupFields) Has(x CgroupFields) bool { return f&x == x }

// CgroupMemory is one reading of the process's memory cgroup, v1 or v2, in bytes.
//
// Sizes charged to a cgroup include its descendants (v2 memory.current, v1 memory.usage_in_bytes
// and v1 total_* stats are all hierarchical), so a process alone in its cgroup sees its own
// anonymous memory plus the page cache, kernel memory and socket buffers charged to it.
type CgroupMemory struct {
	CgroupLocation
	// Present says which of the fields below hold readings.
	Present CgroupFields

	// UsageBytes is memory charged now: v2 memory.current, v1 memory.usage_in_bytes (which the v1
	// kernel approximates from per-CPU batches; it can run ahead of memory.stat by a few pages
	// per CPU).
	UsageBytes uint64
	// Limit is this cgroup's own hard limit: v2 memory.max, v1 memory.limit_in_bytes.
	Limit CgroupLimit
	// EffectiveLimit is the strictest hard limit of this cgroup and its ancestors that this process
	// can see (levels above the mount point, e.g. outside a container's cgroup namespace, are
	// invisible). On v1 it is the kernel's memory.stat hierarchical_memory_limit.
	EffectiveLimit CgroupLimit
	// EffectiveLimitPath is the cgroup path (as in Path) of the level that sets EffectiveLimit;
	// empty when it is unlimited or when no visible level has that limit (v1, set above the mount).
	EffectiveLimitPath string
	// PeakBytes is the high-water mark of UsageBytes: v2 memory.peak (Linux 5.19+), v1
	// memory.max_usage_in_bytes.
	PeakBytes uint64
	// SwapBytes is swap charged to the cgroup: v2 memory.swap.current, v1 memory.stat total_swap.
	SwapBytes uint64
	// SwapLimit is v2 memory.swap.max, a limit on swap alone.
	SwapLimit CgroupLimit
	// MemSwapLimit is v1 memory.memsw.limit_in_bytes, a limit on memory plus swap (unlike v2's
	// SwapLimit).
	MemSwapLimit CgroupLimit
	// High is v2 memory.high: above it the cgroup is throttled and reclaimed, never OOM-killed.
	High CgroupLimit
	// Low is v2 memory.low, best-effort protection from reclaim.
	Low CgroupLimit
	// Min is v2 memory.min, hard protection from reclaim.
	Min CgroupLimit
	// Events counts limit hits and OOMs.
	Events CgroupMemoryEvents
	// Stat breaks UsageBytes down by kind of memory.
	Stat CgroupMemoryStat
	// Carried is set when Limit and Stat (and EffectiveLimit, which derives from them) were not
	// read for this reading but carried from the reader's last reading of them
	// ([CgroupMemoryReader.ReadSlowEvery]), CarriedAge and CarriedAgeReads readings ago. UsageBytes
	// is read afresh every time. False when they were read now.
	Carried         bool
	CarriedAge      time.Duration // how long ago the carried Limit and Stat were read; 0 unless Carried
	CarriedAgeReads int           // how many readings ago the carried Limit and Stat were read; 0 unless Carried
	// CarriedStatOnly is set with Carried when only Stat was carried and Limit and EffectiveLimit
	// were read now ([CgroupMemoryReader.ReadStatEvery]).
	CarriedStatOnly bool
}

// WorkingSetBytes is usage minus inactive file pages, the kubelet's and cAdvisor's
// container_memory_working_set_bytes: the memory the kernel cannot easily reclaim, and the number
// Kubernetes compares with the limit to evict. ok is false when usage or inactive_file was not read,
// and when Stat is carried from an earlier reading (Carried): usage now minus an older
// inactive_file would be a figure of no single moment.
func (m *CgroupMemory) WorkingSetBytes() (bytes uint64, ok bool) {
	if !m.Present.Has(CgroupHasUsage) || !m.Stat.Present.Has(CgroupStatInactiveFile) || m.Carried {
		return 0, false
	}
	if m.Stat.InactiveFileBytes > m.UsageBytes {
		return 0, true
	}
	return m.UsageBytes - m.Stat.InactiveFileBytes, true
}

// CgroupMemoryEvents counts memory events of the cgroup and its descendants.
type CgroupMemoryEvents struct {
	// Low is v2 "low": reclaims below memory.low (protection overcommitted).
	Low uint64
	// High is v2 "high": throttling above memory.high.
	High uint64
	// Max is v2 "max", or v1 memory.failcnt: times usage hit the hard limit and reclaim ran.
	Max uint64
	// OOM is v2 "oom": times the limit was reached and an allocation was about to fail.
	OOM uint64
	// OOMKill is v2 "oom_kill", or v1 memory.oom_control oom_kill (Linux 4.13+): processes killed.
	OOMKill uint64
	// OOMGroupKill is v2 "oom_group_kill" (Linux 5.17+).
	OOMGroupKill uint64
	// UnderOOM is v1 memory.oom_control under_oom: the cgroup is in OOM now (only possible with
	// the OOM killer disabled).
	UnderOOM bool
	// OOMKillDisable is v1 memory.oom_control oom_kill_disable.
	OOMKillDisable bool
}

// CgroupStatFields says which fields of a [CgroupMemoryStat] the kernel printed.
type CgroupStatFields uint32

const (
	CgroupStatAnon                    CgroupStatFields = 1 << iota // AnonBytes
	CgroupStatFile                                                 // FileBytes
	CgroupStatKernel                                               // KernelBytes
	CgroupStatKernelSummed                                         // KernelBytes is a sum of parts, not the kernel's own total
	CgroupStatKernelStack                                          // KernelStackBytes
	CgroupStatPageTables                                           // PageTablesBytes
	CgroupStatPercpu                                               // PercpuBytes
	CgroupStatSock                                                 // SockBytes
	CgroupStatVmalloc                                              // VmallocBytes
	CgroupStatSlab                                                 // SlabBytes
	CgroupStatSlabReclaimable                                      // SlabReclaimableBytes
	CgroupStatSlabUnreclaimable                                    // SlabUnreclaimableBytes
	CgroupStatShmem                                                // ShmemBytes
	CgroupStatFileMapped                                           // FileMappedBytes
	CgroupStatFileDirty                                            // FileDirtyBytes
	CgroupStatFileWriteback                                        // FileWritebackBytes
	CgroupStatSwapCached                                           // SwapCachedBytes
	CgroupStatAnonTHP                                              // AnonTHPBytes
	CgroupStatInactiveAnon                                         // InactiveAnonBytes
	CgroupStatActiveAnon                                           // ActiveAnonBytes
	CgroupStatInactiveFile                                         // InactiveFileBytes
	CgroupStatActiveFile                                           // ActiveFileBytes
	CgroupStatUnevictable                                          // UnevictableBytes
	CgroupStatSwap                                                 // SwapBytes
	CgroupStatHierarchicalMemoryLimit                              // HierarchicalMemoryLimit
)

// Has reports whether every bit of x is set.
func (f CgroupStatFields) Has(x CgroupStatFields) bool { return f&x == x }

// CgroupMemoryStat is memory.stat, in bytes, under names common to v1 and v2.
//
// v1 prints each counter twice: for the cgroup alone ("rss") and with its descendants
// ("total_rss"). The fields hold the total_ value when the kernel prints one, to agree with v2,
// whose memory.stat is hierarchical, and with UsageBytes. v1 names map as: cache → FileBytes
// (both NR_FILE_PAGES, tmpfs and shmem included), rss → AnonBytes, rss_huge → AnonTHPBytes,
// mapped_file → FileMappedBytes, dirty → FileDirtyBytes, writeback → FileWritebackBytes,
// swapcached → SwapCachedBytes. rss and anon are the same counter (NR_ANON_MAPPED) on current
// kernels, but older v1 kernels (before about 5.8) also counted anonymous swap cache pages in rss.
// v1 has no kernel, slab, sock, percpu or page table breakdown in memory.stat: [FS.CgroupMemory]
// fills KernelBytes from memory.kmem.usage_in_bytes instead.
type CgroupMemoryStat struct {
	// Present says which fields below the kernel printed.
	Present CgroupStatFields

	AnonBytes              uint64 // anonymous mappings: v2 anon, v1 rss
	FileBytes              uint64 // page cache including tmpfs and shmem: v2 file, v1 cache
	KernelBytes            uint64 // v2 kernel (or, on kernels without it, the sum of kernel_stack, pagetables, percpu, vmalloc and slab, flagged CgroupStatKernelSummed; socket buffers are charged separately); v1 memory.kmem.usage_in_bytes
	KernelStackBytes       uint64 // v2 kernel_stack
	PageTablesBytes        uint64 // v2 pagetables
	PercpuBytes            uint64 // v2 percpu
	SockBytes              uint64 // v2 sock: network transmission buffers
	VmallocBytes           uint64 // v2 vmalloc
	SlabBytes              uint64 // v2 slab
	SlabReclaimableBytes   uint64 // v2 slab_reclaimable: dentries, inodes
	SlabUnreclaimableBytes uint64 // v2 slab_unreclaimable
	ShmemBytes             uint64 // swap-backed cache: tmpfs, shm, shared anonymous mmap; part of FileBytes
	FileMappedBytes        uint64 // page cache mapped with mmap: v2 file_mapped, v1 mapped_file
	FileDirtyBytes         uint64 // v2 file_dirty, v1 dirty
	FileWritebackBytes     uint64 // v2 file_writeback, v1 writeback
	SwapCachedBytes        uint64 // swapcached
	AnonTHPBytes           uint64 // anonymous transparent huge pages: v2 anon_thp, v1 rss_huge
	InactiveAnonBytes      uint64 // LRU lists, as the reclaim algorithm sees them
	ActiveAnonBytes        uint64
	InactiveFileBytes      uint64
	ActiveFileBytes        uint64
	UnevictableBytes       uint64
	SwapBytes              uint64 // v1 swap: swap used (v2 has memory.swap.current instead)
	// HierarchicalMemoryLimit is v1 hierarchical_memory_limit, the strictest limit of the cgroup
	// and its ancestors.
	HierarchicalMemoryLimit CgroupLimit

	// All is every key and value of memory.stat as the kernel printed it (sizes in bytes, event
	// counters such as pgfault as counts). Only [FS.CgroupMemory] fills it; the allocation-free
	// [CgroupMemoryReader.Read] sets it to nil.
	All map[string]uint64
}
