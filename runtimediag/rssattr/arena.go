package rssattr

// This file finds the Go heap's arenas in the address space without reaching into the runtime:
// memdiag keeps a few heap objects of different size classes alive (probes), looks up the mappings
// that hold them, and takes the run of contiguous Go-shaped neighbours around each (the runtime
// reserves arenas PROT_NONE, 64 MiB at a time and 64 MiB-aligned, and maps read-write the part the
// heap uses). The heap base is randomized since Go 1.26 (and the runtime may find its address hints
// taken and move on), so nothing assumes an address: only the probes say where the heap is.

import (
	"runtime"
	"sort"
	"strings"
	"sync"
	"unsafe"

	"github.com/memdiag/memdiag/procself"
)

// probeSizes cover the allocator's paths: tiny (< 16 B, pointer-free), a small size class, the
// largest small size class, and a large object with a span of its own.
var probeSizes = [...]int{8, 1 << 10, 32 << 10, 256 << 10}

// probeSet holds probe objects alive: their addresses stay valid because Go's GC does not move
// heap objects. Addresses are only ever compared with mapping bounds, never turned back into
// pointers.
type probeSet struct {
	objs [][]byte
}

// newProbeSet allocates probes of every size, from goroutines as well as the caller: each P has
// its own cache of spans, so objects allocated on other Ps can come from other parts of the heap.
func newProbeSet(goroutines int) *probeSet {
	ps := &probeSet{}
	var mu sync.Mutex
	add := func() {
		objs := make([][]byte, 0, len(probeSizes))
		for _, n := range probeSizes {
			b := make([]byte, n)
			b[0] = 1 // touched, so the page holding it is resident like the heap around it
			objs = append(objs, b)
		}
		mu.Lock()
		ps.objs = append(ps.objs, objs...)
		mu.Unlock()
	}
	add()
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(add)
	}
	wg.Wait()
	return ps
}

func (ps *probeSet) addrs() []uintptr {
	out := make([]uintptr, 0, len(ps.objs))
	for _, b := range ps.objs {
		out = append(out, uintptr(unsafe.Pointer(unsafe.SliceData(b))))
	}
	runtime.KeepAlive(ps)
	return out
}

// isArenaCandidate reports a mapping that can be part of a Go heap arena: private anonymous memory,
// read-write (committed) or inaccessible (reserved), unnamed or named by Go as heap. glibc's arenas
// have the same shape but are mapped MAP_NORESERVE, which Go's are not.
func isArenaCandidate(m *procself.Mapping) bool {
	if m.Inode != 0 || !m.Perms.Private() || m.Perms.Executable() || m.VmFlags&procself.VmNoReserve != 0 {
		return false
	}
	if m.Path != "" && !strings.HasPrefix(m.Path, "[anon: Go: heap") {
		return false
	}
	rw := m.Perms.Readable() && m.Perms.Writable()
	none := !m.Perms.Readable() && !m.Perms.Writable()
	return rw || none
}

func isGoHeapNamed(m *procself.Mapping) bool { return strings.HasPrefix(m.Path, "[anon: Go: heap") }

// findMapping returns the index of the mapping holding addr, or -1; ms is in address order.
func findMapping(ms []procself.Mapping, addr uintptr) int {
	i := sort.Search(len(ms), func(i int) bool { return ms[i].End > addr })
	if i < len(ms) && ms[i].Start <= addr {
		return i
	}
	return -1
}

// arenaLocation is what locateArenas found.
type arenaLocation struct {
	arenas        []AddressRange // sorted, disjoint, each made of whole mappings
	located       int            // probes found in an arena candidate
	namedByKernel bool           // some mapping carries Go's "heap" name
	probesAgree   bool           // every located probe is in a mapping named as heap
}

// locateArenas finds the arena groups holding the probes. Each group is the run of contiguous
// candidate mappings around a probe, trimmed at mapping granularity to 64 MiB boundaries: arenas
// are reserved aligned, so a mapping outside the aligned span is a neighbour the kernel happened to
// place next to the heap. Mappings Go names as heap count whether or not a probe is in them.
func locateArenas(ms []procself.Mapping, probes []uintptr) arenaLocation {
	var loc arenaLocation
	var ranges []AddressRange
	agree := true
	for _, a := range probes {
		i := findMapping(ms, a)
		if i < 0 || !isArenaCandidate(&ms[i]) {
			continue
		}
		loc.located++
		if !isGoHeapNamed(&ms[i]) {
			agree = false
		}
		ranges = append(ranges, arenaRun(ms, i))
	}
	for i := range ms {
		if isGoHeapNamed(&ms[i]) {
			loc.namedByKernel = true
			ranges = append(ranges, AddressRange{ms[i].Start, ms[i].End})
		}
	}
	loc.probesAgree = loc.namedByKernel && agree && loc.located > 0
	loc.arenas = mergeRanges(ranges)
	return loc
}

// arenaRun returns the run of contiguous arena candidates around ms[i], trimmed to 64 MiB
// alignment without cutting a mapping and never dropping ms[i] itself.
func arenaRun(ms []procself.Mapping, i int) AddressRange {
	lo, hi := i, i
	for lo > 0 && ms[lo-1].End == ms[lo].Start && isArenaCandidate(&ms[lo-1]) {
		lo--
	}
	for hi+1 < len(ms) && ms[hi].End == ms[hi+1].Start && isArenaCandidate(&ms[hi+1]) {
		hi++
	}
	alignedStart := (ms[lo].Start + arenaBytes - 1) &^ (arenaBytes - 1)
	for lo < i && ms[lo].End <= alignedStart {
		lo++
	}
	alignedEnd := ms[hi].End &^ (arenaBytes - 1)
	for hi > i && ms[hi].Start >= alignedEnd {
		hi--
	}
	return AddressRange{ms[lo].Start, ms[hi].End}
}

func mergeRanges(rs []AddressRange) []AddressRange {
	if len(rs) == 0 {
		return nil
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Start < rs[j].Start })
	out := rs[:1]
	for _, r := range rs[1:] {
		last := &out[len(out)-1]
		if r.Start <= last.End {
			last.End = max(last.End, r.End)
			continue
		}
		out = append(out, r)
	}
	return out
}

// checkArenas compares the committed size of the arenas with runtime/metrics' heap classes.
func checkArenas(ms []procself.Mapping, arenas []AddressRange, rt *Runtime) ArenaCheck {
	c := classifier{arenas: arenas}
	var committed uint64
	for i := range ms {
		m := &ms[i]
		if m.Perms.Readable() && m.Perms.Writable() && c.inArena(m) {
			committed += uint64(m.End - m.Start)
		}
	}
	expected := rt.goHeapMappedBytes() + rt.HeapReleasedBytes
	ck := ArenaCheck{CommittedBytes: committed, ExpectedBytes: expected, DifferenceBytes: int64(committed) - int64(expected)}
	switch d := ck.DifferenceBytes; {
	case expected == 0:
		ck.Message = "runtime/metrics gives no heap size"
	case d < 0:
		ck.Message = "arenas found hold less than the heap runtime/metrics describes: an arena was missed"
	case d%workBufBytes != 0:
		ck.Message = "arenas found differ from runtime/metrics by a size that is not whole 32 KiB work buffers"
	case uint64(d) > rt.MetadataOtherBytes:
		ck.Message = "arenas found hold more than the heap, its work buffers and other metadata: a foreign mapping was taken for an arena, or the heap changed between the reads"
	default:
		ck.OK = true
		ck.WorkBufBytes = uint64(d)
	}
	return ck
}
