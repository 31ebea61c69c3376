package rssattr

// This file classifies the mappings of a process seen from outside: another PID, or a recording,
// with no probe objects to locate its heap and no runtime/metrics to divide it. It runs the same
// classifier as the Attributor; only the Go heap arenas are found differently, from what the
// mappings themselves show.

import (
	"cmp"
	"slices"

	"github.com/memdiag/memdiag/procself"
)

// ExternalProcess is what is known about a process whose mappings are classified from outside.
type ExternalProcess struct {
	// Exe is the executable's path (the /proc/<pid>/exe link); "" to take the first file mapping
	// that is not a shared library.
	Exe string
	// GoProgram says the executable is a Go program (debug/buildinfo could read it). Only then are
	// unnamed 64 MiB-aligned anonymous runs taken for Go heap arenas: other runtimes (a JVM, a
	// custom allocator) reserve memory in the same shape.
	GoProgram bool
}

// How the Go heap arenas of an outside classification were found.
const (
	// ArenasNamedByKernel: the kernel shows Go's own mapping names ("[anon: Go: heap]", Go ≥ 1.25
	// on kernels with CONFIG_ANON_VMA_NAME). Exact.
	ArenasNamedByKernel = "kernel names"
	// ArenasAligned: runs of private anonymous mappings that start and end on 64 MiB boundaries
	// and hold read-write memory, as the Go runtime reserves its arenas. A glibc malloc arena has
	// the same shape and is only told apart by its MAP_NORESERVE flag, which maps (unlike smaps)
	// does not show.
	ArenasAligned = "64 MiB-aligned runs"
	// ArenasNone: no arena was found (not a Go program, or none matched).
	ArenasNone = "none"
)

// MappingClassification is every mapping of a process, classified, with the sums per class.
type MappingClassification struct {
	// Mappings is one row per mapping, in address order.
	Mappings []ClassifiedMapping `json:"mappings"`
	// Classes sums the rows by class, largest resident first; classes with no mapping are left out.
	Classes []MappingClassSum `json:"classes"`
	// HaveSizes is false when the mappings came from maps rather than smaps: sizes of the address
	// ranges are known, resident bytes are not (every RssBytes is 0).
	HaveSizes bool `json:"have_sizes"`
	// Arenas are the Go heap arena ranges found, and ArenasFoundBy how (ArenasNamedByKernel,
	// ArenasAligned, ArenasNone).
	Arenas        []AddressRange `json:"arenas,omitempty"`
	ArenasFoundBy string         `json:"arenas_found_by"`
	// ResidentBytes is the sum of the mappings' resident bytes (smaps' Rss); 0 without sizes.
	ResidentBytes uint64 `json:"resident_bytes"`
}

// MappingClassSum is the mappings of one class added up.
type MappingClassSum struct {
	Class         MappingClass `json:"class"`
	Mappings      int          `json:"mappings"`
	SizeBytes     uint64       `json:"size_bytes"`
	RssBytes      uint64       `json:"rss_bytes"`
	SwapBytes     uint64       `json:"swap_bytes,omitempty"`
	LazyFreeBytes uint64       `json:"lazy_free_bytes,omitempty"`
}

// ClassifyMappings classifies the mappings of any process, in address order as maps and smaps
// print them, from what can be known outside it: kernel names, the executable's path, the shapes
// of glibc's arenas and thread stacks, file paths. It reads nothing: no probes, no process memory
// (glibc's large mmap'd chunks are therefore not confirmed by their headers and stay anonymous).
// Unnamed anonymous memory of a Go program is ClassAnonymous: the Go runtime's off-heap memory or
// someone else's, which only the process's own runtime/metrics can tell apart; in a program that
// is not Go, it is ClassOtherAnonymous. The go_heap class is the arenas whole: objects, unused
// and free heap and goroutine stacks, which only runtime/metrics can divide.
func ClassifyMappings(ms []procself.Mapping, p ExternalProcess) MappingClassification {
	out := MappingClassification{ArenasFoundBy: ArenasNone}
	for i := range ms {
		if ms[i].RssBytes > 0 || ms[i].VmFlags != 0 {
			out.HaveSizes = true // smaps prints VmFlags for every mapping; maps never does
			break
		}
	}
	arenas, by := externalArenas(ms, p.GoProgram, out.HaveSizes)
	out.Arenas, out.ArenasFoundBy = arenas, by

	c := classifier{exe: p.Exe, arenas: arenas}
	labels := c.classify(ms)
	out.Mappings = make([]ClassifiedMapping, len(ms))
	for i := range ms {
		m := &ms[i]
		l := labels[i]
		if l.class == ClassAnonymous && !p.GoProgram {
			l.class = ClassOtherAnonymous
		}
		name := l.name
		if name == "" {
			name = m.Path
		}
		out.Mappings[i] = ClassifiedMapping{
			Start: m.Start, End: m.End, Perms: m.Perms.String(), SizeBytes: uint64(m.End - m.Start),
			RssBytes: m.RssBytes, LazyFreeBytes: m.LazyFreeBytes, SwapBytes: m.SwapBytes, Class: l.class, Name: name,
		}
		out.ResidentBytes += m.RssBytes
	}
	out.Classes = SumByClass(out.Mappings)
	sortClassSums(out.Classes)
	return out
}

// SumByClass adds up the rows of a per-mapping table by class, in the order each class first
// appears.
func SumByClass(ms []ClassifiedMapping) []MappingClassSum {
	var out []MappingClassSum
	for i := range ms {
		m := &ms[i]
		j := slices.IndexFunc(out, func(s MappingClassSum) bool { return s.Class == m.Class })
		if j < 0 {
			j = len(out)
			out = append(out, MappingClassSum{Class: m.Class})
		}
		s := &out[j]
		s.Mappings++
		s.SizeBytes += m.SizeBytes
		s.RssBytes += m.RssBytes
		s.SwapBytes += m.SwapBytes
		s.LazyFreeBytes += m.LazyFreeBytes
	}
	return out
}

// externalArenas finds the Go heap arenas without probes. Kernel names are exact and, where the
// kernel shows them, the only thing trusted; otherwise, for a Go program, every run of arena
// candidates that lies on 64 MiB boundaries at both ends and holds read-write memory. Without
// VmFlags (maps, not smaps) glibc's MAP_NORESERVE arenas pass as candidates too; they commit each
// 64 MiB frame from its start, so a run whose every read-write part starts a frame is left to
// the classifier's glibc rule. A Go heap whose only arena happens to be committed from its start
// then goes to c_heap: the price of not having smaps.
func externalArenas(ms []procself.Mapping, goProgram, flagsKnown bool) ([]AddressRange, string) {
	var named []AddressRange
	for i := range ms {
		if isGoHeapNamed(&ms[i]) {
			named = append(named, AddressRange{ms[i].Start, ms[i].End})
		}
	}
	if len(named) > 0 {
		return mergeRanges(named), ArenasNamedByKernel
	}
	if !goProgram {
		return nil, ArenasNone
	}
	var runs []AddressRange
	for i := range ms {
		m := &ms[i]
		if !isArenaCandidate(m) || !m.Perms.Readable() || !m.Perms.Writable() {
			continue
		}
		r := arenaRun(ms, i)
		if r.Start%arenaBytes == 0 && r.End%arenaBytes == 0 && (flagsKnown || !glibcShaped(ms, r)) {
			runs = append(runs, r)
		}
	}
	if len(runs) == 0 {
		return nil, ArenasNone
	}
	return mergeRanges(runs), ArenasAligned
}

// glibcShaped reports whether every read-write mapping in r starts on a 64 MiB boundary.
func glibcShaped(ms []procself.Mapping, r AddressRange) bool {
	for i := findMapping(ms, r.Start); i >= 0 && i < len(ms) && ms[i].Start < r.End; i++ {
		if ms[i].Perms.Writable() && ms[i].Start%arenaBytes != 0 {
			return false
		}
	}
	return true
}

// sortClassSums orders sums by resident bytes, then by size (for maps without sizes), largest
// first: the table answers "where is the memory" top down. Ties keep the classes' own order.
func sortClassSums(s []MappingClassSum) {
	slices.SortFunc(s, func(a, b MappingClassSum) int {
		return cmp.Or(cmp.Compare(b.RssBytes, a.RssBytes), cmp.Compare(b.SizeBytes, a.SizeBytes),
			cmp.Compare(classIndex(a.Class), classIndex(b.Class)))
	})
}
