package rssattr

// This file classifies every mapping of maps/smaps: whose memory it is. It is a pure function of
// the parsed mappings, the executable's path and the Go heap arenas found by the probes, plus,
// optionally, a reader of this process's memory that confirms glibc's mmap'd malloc chunks by their
// headers. The rules, most specific first:
//
//   - pseudo paths: [vdso], [vvar*], [vsyscall] are the kernel's; [stack] the main thread's stack;
//     [heap] the brk heap, which only C's malloc uses (Go never calls brk);
//   - names set with PR_SET_VMA_ANON_NAME: Go ≥ 1.25 names its mappings "[anon: Go: …]", glibc
//     with the glibc.mem.decorate_maps tunable names its arenas and thread stacks;
//   - file mappings: the executable, shared libraries (a ".so" in the file name), shared memory
//     (/dev/shm, System V, memfd, shared anonymous), every other file;
//   - anonymous mappings: inside a Go heap arena; right after the executable's or a library's last
//     file mapping (its bss); an rw mapping right above a guard page of at most 64 KiB (a pthread
//     stack: glibc maps the stack and mprotects its lowest page); a 64 MiB-aligned rw mapping
//     marked MAP_NORESERVE, or followed by a PROT_NONE tail up to the next 64 MiB boundary (a glibc
//     malloc arena heap, HEAP_MAX_SIZE); a mapping that starts with glibc's header of an mmap'd
//     chunk (a large malloc, which glibc gives a mapping of its own); anything else anonymous is
//     shared between Go's runtime (its off-heap metadata) and other code, by runtime/metrics.

import (
	"encoding/binary"
	"io"
	"sort"
	"strings"

	"github.com/memdiag/memdiag/procself"
)

const (
	arenaBytes          = 64 << 20 // heapArenaBytes on 64-bit Linux, amd64 and arm64 alike
	workBufBytes        = 32 << 10 // the runtime's workbufAlloc: GC work buffers come in spans this big
	glibcHeapMaxBytes   = 64 << 20 // glibc's HEAP_MAX_SIZE on 64-bit (2 × DEFAULT_MMAP_THRESHOLD_MAX)
	maxGuardBytes       = 64 << 10 // a pthread guard is one page, and pages are at most 64 KiB
	minThreadStackBytes = 16 << 10 // PTHREAD_STACK_MIN
	maxMallocChunkWalk  = 4096     // headers read per mapping, bounding the reads of a huge mapping
	mallocIsMmapped     = 2        // glibc's IS_MMAPPED bit in a chunk's size field
	mallocChunkFlags    = 7        // glibc's PREV_INUSE | IS_MMAPPED | NON_MAIN_ARENA
)

// mappingLabel is what the classifier says about one mapping.
type mappingLabel struct {
	class MappingClass
	name  string // the path, or what an anonymous mapping was recognised as
	// cBytes, when not 0, is the part of a c_heap mapping that is malloc chunks; the rest is
	// anonymous memory of someone else's the kernel merged with them.
	cBytes uint64
}

// classifier holds what classification needs beyond the mappings themselves.
type classifier struct {
	exe    string         // the executable's path (Identity.Exe); "" to take the first file mapping
	arenas []AddressRange // the Go heap arenas, sorted
	// mem reads this process's memory (/proc/self/mem) to confirm malloc chunk headers; nil when the
	// mappings are not this process's (a fixture, another PID) or the file cannot be read.
	mem       io.ReaderAt
	searchBuf []byte // mallocMmapBytes' read buffer, allocated on first use
	// search lets mallocMmapBytes look past a first page without a chunk header. It costs reads
	// of up to a MiB per large anonymous mapping, so searchAnonymous turns it on only when the
	// anonymous mappings hold more than the Go runtime can account for.
	search bool
}

// searchAnonymous looks again, past a first page without a header, for malloc chunks in the
// large anonymous mappings classify left unexplained, when they hold more resident memory than
// goOffHeap, what the Go runtime says it has mapped outside the heap (the rest of that memory must
// be someone else's). It relabels in place and reports how many mappings it relabelled.
func (c *classifier) searchAnonymous(ms []procself.Mapping, labels []mappingLabel, goOffHeap uint64) int {
	var anon uint64
	for i := range ms {
		if labels[i].class == ClassAnonymous {
			anon += ms[i].RssBytes
		}
	}
	if c.mem == nil || anon <= goOffHeap+minMallocSearchRSS {
		return 0
	}
	c.search = true
	defer func() { c.search = false }()
	n := 0
	for i := range ms {
		if labels[i].class != ClassAnonymous || labels[i].cBytes > 0 {
			continue
		}
		if b := c.mallocMmapBytes(&ms[i]); b > 0 {
			labels[i] = mallocLabel(&ms[i], b)
			n++
		}
	}
	return n
}

func mallocLabel(m *procself.Mapping, n uint64) mappingLabel {
	if n >= uint64(m.End-m.Start) {
		return mappingLabel{class: ClassCHeap, name: "(malloc mmap)"}
	}
	return mappingLabel{class: ClassCHeap, name: "(malloc mmap, partly)", cBytes: n}
}

// classify labels every mapping; ms must be in address order, as the kernel prints them.
func (c *classifier) classify(ms []procself.Mapping) []mappingLabel {
	labels := make([]mappingLabel, len(ms))
	exe := trimDeleted(c.exe)
	if exe == "" {
		for i := range ms {
			if isFileBacked(&ms[i]) && !isSharedLibrary(ms[i].Path) {
				exe = trimDeleted(ms[i].Path)
				break
			}
		}
	}
	for i := range ms {
		labels[i] = c.classifyOne(ms, i, exe, labels)
	}
	return labels
}

func (c *classifier) classifyOne(ms []procself.Mapping, i int, exe string, labels []mappingLabel) mappingLabel {
	m := &ms[i]
	p := m.Path
	switch {
	case p == "[vdso]" || strings.HasPrefix(p, "[vvar") || p == "[vsyscall]" || p == "[uprobes]" ||
		p == "[sigpage]" || p == "[vectors]":
		return mappingLabel{class: ClassKernel, name: p}
	case p == "[stack]" || strings.HasPrefix(p, "[stack:"):
		return mappingLabel{class: ClassThreadStack, name: p}
	case p == "[heap]":
		return mappingLabel{class: ClassCHeap, name: p}
	case strings.HasPrefix(p, "[anon:"):
		return c.classifyNamed(m, p)
	case strings.HasPrefix(p, "[anon_shmem"):
		return mappingLabel{class: ClassSharedMemory, name: p}
	case isFileBacked(m):
		switch {
		case isSharedMemoryPath(p) || m.Perms.Shared() && m.Inode != 0 && strings.HasPrefix(p, "/dev/zero"):
			return mappingLabel{class: ClassSharedMemory, name: p}
		case exe != "" && trimDeleted(p) == exe:
			return mappingLabel{class: ClassBinary, name: p}
		case isSharedLibrary(p):
			return mappingLabel{class: ClassSharedLibrary, name: p}
		}
		return mappingLabel{class: ClassFileMapping, name: p}
	case p != "":
		// A pseudo path this classifier does not know ([io_uring], a driver's): anonymous to us.
		return mappingLabel{class: ClassOtherAnonymous, name: p}
	}

	// Anonymous and unnamed from here on.
	if c.inArena(m) {
		return mappingLabel{class: ClassGoHeap, name: "(go arena)"}
	}
	if m.Perms.Shared() {
		return mappingLabel{class: ClassSharedMemory, name: "(shared anonymous)"}
	}
	if i > 0 && ms[i-1].End == m.Start && isFileBacked(&ms[i-1]) && m.Perms.Writable() {
		switch labels[i-1].class {
		case ClassBinary:
			return mappingLabel{class: ClassBinary, name: "(bss)"}
		case ClassSharedLibrary:
			return mappingLabel{class: ClassSharedLibrary, name: "(bss)"}
		}
	}
	if isThreadStack(ms, i) {
		return mappingLabel{class: ClassThreadStack, name: "(pthread stack)"}
	}
	if isThreadGuard(ms, i) {
		return mappingLabel{class: ClassThreadStack, name: "(pthread stack guard)"}
	}
	if isGlibcHeap(ms, i) {
		return mappingLabel{class: ClassCHeap, name: "(glibc arena)"}
	}
	if i > 0 && labels[i-1].name == "(glibc arena)" && ms[i-1].End == m.Start && isAnonPrivate(m) &&
		m.End <= heapBoundAbove(ms[i-1].End) {
		// The rest of a glibc heap: its PROT_NONE tail, or a part that shrink_heap remapped and
		// grow_heap made writable again, which the kernel keeps as a VMA of its own because its
		// flags differ.
		return mappingLabel{class: ClassCHeap, name: "(glibc arena)"}
	}
	if n := c.mallocMmapBytes(m); n > 0 {
		return mallocLabel(m, n)
	}
	return mappingLabel{class: ClassAnonymous}
}

// classifyNamed classifies an anonymous mapping named with PR_SET_VMA_ANON_NAME.
func (c *classifier) classifyNamed(m *procself.Mapping, p string) mappingLabel {
	name := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(p, "[anon:"), "]"))
	switch {
	case strings.HasPrefix(name, "Go: heap"), c.inArena(m):
		// "Go: heap" (committed) and "Go: heap reservation" (PROT_NONE).
		return mappingLabel{class: ClassGoHeap, name: p}
	case strings.HasPrefix(name, "Go: OS thread stack"):
		return mappingLabel{class: ClassThreadStack, name: p}
	case strings.HasPrefix(name, "Go:"):
		return mappingLabel{class: ClassGoRuntime, name: p}
	case strings.HasPrefix(name, "glibc: pthread stack"):
		return mappingLabel{class: ClassThreadStack, name: p}
	case strings.HasPrefix(name, "glibc: malloc"), strings.HasPrefix(name, "glibc: loader malloc"):
		return mappingLabel{class: ClassCHeap, name: p}
	}
	return mappingLabel{class: ClassOtherAnonymous, name: p}
}

// inArena reports whether m lies in a Go heap arena (wholly: arenas are built from whole mappings).
func (c *classifier) inArena(m *procself.Mapping) bool {
	j := sort.Search(len(c.arenas), func(j int) bool { return c.arenas[j].End > m.Start })
	return j < len(c.arenas) && c.arenas[j].Start <= m.Start && m.End <= c.arenas[j].End
}

// isThreadStack recognises glibc's pthread stacks: an rw private anonymous mapping directly above
// a PROT_NONE guard of one page. The guard bound keeps Go's sparse runtime reservations (a page or
// two of rw metadata above hundreds of KiB of PROT_NONE) out.
func isThreadStack(ms []procself.Mapping, i int) bool {
	m := &ms[i]
	if i == 0 || !isAnonPrivate(m) || m.Perms&(procself.PermRead|procself.PermWrite|procself.PermExecute) != procself.PermRead|procself.PermWrite {
		return false
	}
	g := &ms[i-1]
	return g.End == m.Start && isGuard(g) && uint64(m.End-m.Start) >= minThreadStackBytes
}

// isThreadGuard recognises the guard page below a pthread stack.
func isThreadGuard(ms []procself.Mapping, i int) bool {
	return isGuard(&ms[i]) && i+1 < len(ms) && isThreadStack(ms, i+1)
}

func isGuard(m *procself.Mapping) bool {
	return isAnonPrivate(m) && m.Perms&(procself.PermRead|procself.PermWrite|procself.PermExecute) == 0 &&
		m.End-m.Start <= maxGuardBytes
}

// isGlibcHeap recognises a heap of a glibc malloc arena other than the main one: new_heap maps
// HEAP_MAX_SIZE aligned to itself with MAP_NORESERVE and PROT_NONE, and mprotects the part in use
// read-write from the start. The Go heap arenas are also 64 MiB-aligned, so they are excluded
// before this rule runs.
//
// Heaps are often adjacent (an arena's next heap is mapped right below or above its last), and
// the kernel merges the read-write part of a heap into a whole, full heap next to it: same flags,
// contiguous. The mapping is then a run of heaps — 64 MiB-aligned at its start, longer than
// HEAP_MAX_SIZE, ending on a boundary (every heap full) or at the used part of the last one,
// whose PROT_NONE tail follows up to the next boundary. This rule once took only mappings of at
// most 64 MiB, so such a run was unexplained anonymous memory: 64 of 128 MiB of an arena's C
// heap went to other_anonymous.
func isGlibcHeap(ms []procself.Mapping, i int) bool {
	m := &ms[i]
	if !isAnonPrivate(m) || m.Start%glibcHeapMaxBytes != 0 || !m.Perms.Writable() {
		return false
	}
	// smaps shows MAP_NORESERVE (nr), which a Go arena, a malloc'd chunk and most other anonymous
	// memory lack; maps does not, and then the shape has to do. A run longer than one heap is
	// only taken on its shape when the flags are unknown: with them, it needs nr.
	if m.VmFlags&procself.VmNoReserve != 0 {
		return true
	}
	if size := m.End - m.Start; size > glibcHeapMaxBytes && m.VmFlags != 0 {
		return false
	}
	if m.End%glibcHeapMaxBytes == 0 {
		return true
	}
	if i+1 < len(ms) {
		t := &ms[i+1]
		return t.Start == m.End && isAnonPrivate(t) && t.Perms&^procself.PermShared == 0 && t.End == heapBoundAbove(m.End)
	}
	return false
}

// heapBoundAbove is the first glibc heap boundary (a multiple of HEAP_MAX_SIZE) at or above end:
// where the heap whose used part ends at end itself ends. A heap ending exactly on a boundary has
// no tail.
func heapBoundAbove(end uintptr) uintptr {
	return (end + glibcHeapMaxBytes - 1) &^ (glibcHeapMaxBytes - 1)
}

// mallocMmapBytes reads the headers glibc writes at the start of a chunk it mmaps for one large
// allocation, prev_size (the alignment offset, under a page) and size | IS_MMAPPED, and returns
// how many bytes of m such chunks cover. The kernel merges adjacent anonymous mappings with the
// same flags, so a mapping can hold many chunks, and other mappings made next to them: the walk
// follows chunk after chunk and, past a foreign part, looks page by page for the next header.
//
// A foreign part can also come first. mmap places new mappings top-down, so chunks malloc'd one
// after another lie each below the last, and a mapping made after them — the Go runtime's own
// off-heap memory, unnamed where the kernel cannot name it — lands directly below the lowest one
// and merges with the whole run. The walk used to give up on a mapping that did not start with a
// header, and with it on every chunk of the run: 64 of 128 MiB of C heap went to other_anonymous.
// So when the first page of a large, resident mapping holds no header and the anonymous mappings
// hold more than the Go runtime accounts for (searchAnonymous), its first maxMallocHeadSearch bytes
// are searched for one, in blocks of mallocSearchBlock bytes read at once into a buffer the
// Attributor keeps.
func (c *classifier) mallocMmapBytes(m *procself.Mapping) uint64 {
	// glibc mmaps only allocations of at least its mmap threshold, 128 KiB unless a program lowers
	// it with mallopt; smaller mappings are not read, which halved the classification's time on a
	// small process (each read takes the mmap lock).
	if c.mem == nil || !isAnonPrivate(m) || !m.Perms.Writable() || m.RssBytes == 0 || m.End-m.Start < 128<<10 {
		return 0
	}
	span := uint64(m.End - m.Start)
	var hdr [16]byte
	if _, err := c.mem.ReadAt(hdr[:], int64(m.Start)); err != nil {
		return 0
	}
	off := uint64(0)
	if _, ok := mallocChunkAt(hdr[:], 0, span); !ok {
		if !c.search || span < minMallocSearchSpan || m.RssBytes < minMallocSearchRSS {
			return 0
		}
		var found bool
		if off, found = c.searchMallocChunk(m, span); !found {
			return 0
		}
	}
	var covered uint64
	for reads := 0; off+16 <= span && reads < maxMallocChunkWalk; reads++ {
		if _, err := c.mem.ReadAt(hdr[:], int64(uint64(m.Start)+off)); err != nil {
			break
		}
		n, ok := mallocChunkAt(hdr[:], off, span)
		if !ok {
			off += mallocPage
			continue
		}
		covered += n
		off += n
	}
	return covered
}

// mallocPage is the unit glibc rounds mmap'd chunks to: 4 KiB divides every page size.
const mallocPage = 4096

const (
	// How far into a mapping a first chunk header is looked for, and only in mappings big and
	// resident enough to hold such a run: every page read may fault in a page table entry, and
	// the Go runtime's own anonymous mappings, which hold no chunk, are read as far as this.
	// The foreign parts seen below chunks are the runtime's off-heap allocations, 256 KiB
	// persistentalloc chunks or single structures under a MiB.
	maxMallocHeadSearch = 1 << 20
	minMallocSearchSpan = 2 << 20
	minMallocSearchRSS  = 1 << 20
	mallocSearchBlock   = 64 << 10 // read at once while looking
)

// mallocChunkAt reads the mmap'd chunk header hdr found off bytes into a mapping of span bytes and
// returns the chunk's length with its alignment offset, if it is one.
func mallocChunkAt(hdr []byte, off, span uint64) (uint64, bool) {
	prev := binary.NativeEndian.Uint64(hdr[0:8])
	size := binary.NativeEndian.Uint64(hdr[8:16])
	chunk := size &^ mallocChunkFlags
	if size&mallocChunkFlags != mallocIsMmapped || prev >= mallocPage || prev%16 != 0 || chunk < mallocPage ||
		chunk%mallocPage != 0 || off+prev+chunk > span {
		return 0, false
	}
	return prev + chunk, true
}

// searchMallocChunk returns the offset of the first page of m, within maxMallocHeadSearch, that
// starts with a chunk header.
func (c *classifier) searchMallocChunk(m *procself.Mapping, span uint64) (uint64, bool) {
	limit := min(span, maxMallocHeadSearch)
	if c.searchBuf == nil {
		c.searchBuf = make([]byte, mallocSearchBlock)
	}
	for base := uint64(0); base < limit; base += mallocSearchBlock {
		buf := c.searchBuf[:min(mallocSearchBlock, limit-base)]
		n, err := c.mem.ReadAt(buf, int64(uint64(m.Start)+base))
		n = min(max(n, 0), len(buf))
		for p := uint64(0); p+16 <= uint64(n); p += mallocPage {
			if _, ok := mallocChunkAt(buf[p:p+16], base+p, span); ok {
				return base + p, true
			}
		}
		if err != nil {
			return 0, false
		}
	}
	return 0, false
}

func isAnonPrivate(m *procself.Mapping) bool {
	return m.Inode == 0 && m.Path == "" && m.Perms.Private()
}

func isFileBacked(m *procself.Mapping) bool { return m.Inode != 0 || strings.HasPrefix(m.Path, "/") }

func isSharedMemoryPath(p string) bool {
	return strings.HasPrefix(p, "/dev/shm/") || strings.HasPrefix(p, "/SYSV") || strings.HasPrefix(p, "/memfd:") ||
		strings.HasPrefix(p, "/run/shm/")
}

// isSharedLibrary reports a file name with ".so" as an extension: libc.so.6, ld-linux-x86-64.so.2,
// libfoo.so, libbar-1.2.so.
func isSharedLibrary(p string) bool {
	base := trimDeleted(p)
	if i := strings.LastIndexByte(base, '/'); i >= 0 {
		base = base[i+1:]
	}
	for i := strings.Index(base, ".so"); i >= 0; {
		rest := base[i+3:]
		if rest == "" || rest[0] == '.' {
			return true
		}
		j := strings.Index(rest, ".so")
		if j < 0 {
			break
		}
		i += 3 + j
	}
	return false
}

func trimDeleted(p string) string { return strings.TrimSuffix(p, " (deleted)") }
