package procself

// memory.stat, v1 and v2: its pure parser and the map from each version's keys to
// CgroupMemoryStat's fields.

import (
	"bytes"
	"strings"
)

// parseMemoryStat parses memory.stat ("key value" lines) into st, and into all when not nil.
// Unknown keys are kept only in all: kernels add keys, and a new key is not an error. A malformed
// line is its key's error (a *FieldErrors; the field's Present bit stays clear) and the rest is
// kept. It does not allocate when all is nil and nothing is malformed.
func parseMemoryStat(b []byte, version int, st *CgroupMemoryStat, all map[string]uint64) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return &ParseError{Msg: "empty file"}
	}
	var fromTotal CgroupStatFields
	sc := kvScanner{b: b}
	for sc.scan() {
		key, total := sc.key, false
		if version == 1 && len(key) > len("total_") && string(key[:len("total_")]) == "total_" {
			key, total = key[len("total_"):], true
		}
		if string(key) == "hierarchical_memory_limit" {
			l := CgroupLimit{Bytes: sc.val}
			if sc.val >= v1UnlimitedBytes {
				l = CgroupLimit{Unlimited: true}
			}
			st.HierarchicalMemoryLimit = l
			st.Present |= CgroupStatHierarchicalMemoryLimit
		} else if p, bit := st.field(key); p != nil && (total || fromTotal&bit == 0) {
			*p = sc.val
			st.Present |= bit
			if total {
				fromTotal |= bit
			}
		}
		if all != nil {
			all[string(sc.key)] = sc.val
		}
	}
	if sc.err != nil {
		return sc.err
	}
	// A v1 total_ key that failed must not leave the cgroup-only value standing in for the
	// hierarchical one (v1 prints the cgroup-only keys first).
	for _, pe := range sc.bad {
		if version == 1 && strings.HasPrefix(pe.Field, "total_") {
			if p, bit := st.field([]byte(pe.Field[len("total_"):])); p != nil {
				*p, st.Present = 0, st.Present&^bit
			}
		}
	}
	if version == 2 && !st.Present.Has(CgroupStatKernel) {
		// Kernels before "kernel" was added to memory.stat print its parts.
		const parts = CgroupStatKernelStack | CgroupStatPageTables | CgroupStatPercpu | CgroupStatVmalloc | CgroupStatSlab
		if st.Present&parts != 0 {
			st.KernelBytes = st.KernelStackBytes + st.PageTablesBytes + st.PercpuBytes + st.VmallocBytes + st.SlabBytes
			st.Present |= CgroupStatKernel | CgroupStatKernelSummed
		}
	}
	return sc.result()
}

// field maps a memory.stat key, v1 or v2, to its field.
func (st *CgroupMemoryStat) field(key []byte) (*uint64, CgroupStatFields) {
	switch string(key) {
	case "anon", "rss":
		return &st.AnonBytes, CgroupStatAnon
	case "file", "cache":
		return &st.FileBytes, CgroupStatFile
	case "kernel":
		return &st.KernelBytes, CgroupStatKernel
	case "kernel_stack":
		return &st.KernelStackBytes, CgroupStatKernelStack
	case "pagetables":
		return &st.PageTablesBytes, CgroupStatPageTables
	case "percpu":
		return &st.PercpuBytes, CgroupStatPercpu
	case "sock":
		return &st.SockBytes, CgroupStatSock
	case "vmalloc":
		return &st.VmallocBytes, CgroupStatVmalloc
	case "slab":
		return &st.SlabBytes, CgroupStatSlab
	case "slab_reclaimable":
		return &st.SlabReclaimableBytes, CgroupStatSlabReclaimable
	case "slab_unreclaimable":
		return &st.SlabUnreclaimableBytes, CgroupStatSlabUnreclaimable
	case "shmem":
		return &st.ShmemBytes, CgroupStatShmem
	case "file_mapped", "mapped_file":
		return &st.FileMappedBytes, CgroupStatFileMapped
	case "file_dirty", "dirty":
		return &st.FileDirtyBytes, CgroupStatFileDirty
	case "file_writeback", "writeback":
		return &st.FileWritebackBytes, CgroupStatFileWriteback
	case "swapcached":
		return &st.SwapCachedBytes, CgroupStatSwapCached
	case "anon_thp", "rss_huge":
		return &st.AnonTHPBytes, CgroupStatAnonTHP
	case "inactive_anon":
		return &st.InactiveAnonBytes, CgroupStatInactiveAnon
	case "active_anon":
		return &st.ActiveAnonBytes, CgroupStatActiveAnon
	case "inactive_file":
		return &st.InactiveFileBytes, CgroupStatInactiveFile
	case "active_file":
		return &st.ActiveFileBytes, CgroupStatActiveFile
	case "unevictable":
		return &st.UnevictableBytes, CgroupStatUnevictable
	case "swap":
		return &st.SwapBytes, CgroupStatSwap
	}
	return nil, 0
}
