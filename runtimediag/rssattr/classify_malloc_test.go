package rssattr

import (
	"encoding/binary"
	"io"
	"testing"

	"github.com/memdiag/memdiag/procself"
)

// sparseMemory is an address space for the classifier to read: the bytes written, zero elsewhere.
type sparseMemory struct {
	base, size uintptr
	b          []byte
}

func newSparseMemory(base, size uintptr) *sparseMemory {
	return &sparseMemory{base: base, size: size, b: make([]byte, size)}
}

func (s *sparseMemory) ReadAt(p []byte, off int64) (int, error) {
	a := uintptr(off)
	if a < s.base || a >= s.base+s.size {
		return 0, io.EOF
	}
	n := copy(p, s.b[a-s.base:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// putChunk writes glibc's header of an mmap'd chunk of size bytes at addr.
func (s *sparseMemory) putChunk(addr uintptr, size uint64) {
	o := addr - s.base
	binary.NativeEndian.PutUint64(s.b[o:], 0)
	binary.NativeEndian.PutUint64(s.b[o+8:], size|mallocIsMmapped)
}

// TestMallocChunksBelowForeignMapping: 64 chunks of 1 MiB that the kernel merged into one mapping
// with a foreign mapping made after them, directly below the lowest (mmap places mappings
// top-down). The mapping does not start with a chunk header; its chunks are C heap all the same.
func TestMallocChunksBelowForeignMapping(t *testing.T) {
	const chunk = 1<<20 + 4096 // malloc(1 MiB): the header rounds the mapping up a page
	for _, foreign := range []uintptr{0, 4096, 256 << 10, maxMallocHeadSearch - 4096} {
		base := uintptr(0x7f0000000000)
		size := foreign + 64*chunk
		mem := newSparseMemory(base, size)
		for i := range mem.b[:foreign] {
			mem.b[i] = 0xab // the Go runtime's data, say: no chunk header
		}
		for i := range 64 {
			mem.putChunk(base+foreign+uintptr(i)*chunk, chunk)
		}
		m := procself.Mapping{Start: base, End: base + size, Perms: procself.PermRead | procself.PermWrite, RssBytes: uint64(size)}
		c := classifier{mem: mem}
		ms := []procself.Mapping{m}
		labels := c.classify(ms)
		c.searchAnonymous(ms, labels, 1<<20) // the runtime accounts for 1 MiB of anonymous memory
		got := labels[0]
		covered := got.cBytes
		if covered == 0 && got.class == ClassCHeap {
			covered = uint64(size)
		}
		if got.class != ClassCHeap || covered != 64*chunk {
			t.Errorf("foreign %d KiB below 64 chunks: class %s, %d bytes of chunks; want c_heap, %d", foreign>>10, got.class, covered, 64*chunk)
		}
	}
}

// TestMallocSearchBounded: a mapping with no chunk is read no further than maxMallocHeadSearch.
func TestMallocSearchBounded(t *testing.T) {
	base, size := uintptr(0x7f0000000000), uintptr(maxMallocHeadSearch+8<<20)
	mem := &countingMemory{sparseMemory: newSparseMemory(base, size)}
	m := procself.Mapping{Start: base, End: base + size, Perms: procself.PermRead | procself.PermWrite, RssBytes: minMallocSearchRSS}
	c := classifier{mem: mem, search: true}
	if n := c.mallocMmapBytes(&m); n != 0 {
		t.Errorf("%d bytes of chunks in zeroed memory", n)
	}
	if mem.read > maxMallocHeadSearch+16 {
		t.Errorf("read %d bytes of a mapping without chunks: want at most %d", mem.read, maxMallocHeadSearch+16)
	}
}

type countingMemory struct {
	*sparseMemory
	read int
}

func (c *countingMemory) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.sparseMemory.ReadAt(p, off)
	c.read += n
	return n, err
}

// failingMemory fails every read the way syscall.Pread does, with n = -1.
type failingMemory struct{}

func (failingMemory) ReadAt(p []byte, off int64) (int, error) { return -1, io.ErrUnexpectedEOF }

// TestMallocSearchReadError: a read error (an unmapped page, a mapping gone since smaps) ends the
// search; it never indexes past the buffer.
func TestMallocSearchReadError(t *testing.T) {
	m := procself.Mapping{Start: 0x7f0000000000, End: 0x7f0000000000 + 16<<20, Perms: procself.PermRead | procself.PermWrite, RssBytes: 1 << 20}
	c := classifier{mem: failingMemory{}, search: true}
	if n := c.mallocMmapBytes(&m); n != 0 {
		t.Errorf("%d bytes of chunks read from failing memory", n)
	}
	c = classifier{mem: headerThenFailing{}, search: true}
	if n := c.mallocMmapBytes(&m); n != 0 {
		t.Errorf("%d bytes of chunks read from failing memory", n)
	}
}

// headerThenFailing answers the first 16-byte read with no header and fails every other.
type headerThenFailing struct{}

func (headerThenFailing) ReadAt(p []byte, off int64) (int, error) {
	if len(p) == 16 {
		clear(p)
		return 16, nil
	}
	return -1, io.ErrUnexpectedEOF
}

// TestMallocSearchOnlyWhenUnexplained: a mapping without a header at its start is searched only
// when the anonymous mappings hold more than the Go runtime accounts for.
func TestMallocSearchOnlyWhenUnexplained(t *testing.T) {
	base, size := uintptr(0x7f0000000000), uintptr(4<<20)
	mem := &countingMemory{sparseMemory: newSparseMemory(base, size)}
	ms := []procself.Mapping{{Start: base, End: base + size, Perms: procself.PermRead | procself.PermWrite, RssBytes: uint64(size)}}
	c := classifier{mem: mem}
	labels := c.classify(ms)
	c.searchAnonymous(ms, labels, uint64(size)) // the runtime says it has all of it mapped
	if mem.read > 16 {
		t.Errorf("read %d bytes of a mapping the Go runtime accounts for: want one header", mem.read)
	}
}

// TestGlibcHeapRun: the heaps of a glibc arena lie next to each other, and the kernel merges the
// read-write part of one with a whole heap beside it into a single mapping longer than
// HEAP_MAX_SIZE. Every byte of such a run is C heap, and so is the PROT_NONE tail of its last,
// partly used heap; a Go-arena-shaped mapping without MAP_NORESERVE (smaps flags known) is not.
func TestGlibcHeapRun(t *testing.T) {
	const heap = glibcHeapMaxBytes
	base := uintptr(0x7f0000000000) // 64 MiB-aligned
	rw := procself.PermRead | procself.PermWrite
	nr := procself.VmNoReserve | procself.VmRead | procself.VmWrite
	tests := []struct {
		name string
		ms   []procself.Mapping
		want []MappingClass
	}{{
		name: "full heap merged with the used part of the next (smaps)",
		ms: []procself.Mapping{
			{Start: base, End: base + heap + 24<<20, Perms: rw, VmFlags: nr, RssBytes: heap + 24<<20},
			{Start: base + heap + 24<<20, End: base + 2*heap, VmFlags: procself.VmNoReserve},
		},
		want: []MappingClass{ClassCHeap, ClassCHeap},
	}, {
		name: "the same from maps (no flags): the shape, with its PROT_NONE tail",
		ms: []procself.Mapping{
			{Start: base, End: base + heap + 24<<20, Perms: rw},
			{Start: base + heap + 24<<20, End: base + 2*heap},
		},
		want: []MappingClass{ClassCHeap, ClassCHeap},
	}, {
		name: "two full heaps, one mapping",
		ms:   []procself.Mapping{{Start: base, End: base + 2*heap, Perms: rw, VmFlags: nr, RssBytes: 2 * heap}},
		want: []MappingClass{ClassCHeap},
	}, {
		name: "three heaps, the last partly resident and partly used",
		ms: []procself.Mapping{
			{Start: base, End: base + 2*heap + 1<<20, Perms: rw, VmFlags: nr, RssBytes: heap + 3<<20},
			{Start: base + 2*heap + 1<<20, End: base + 3*heap, VmFlags: procself.VmNoReserve},
		},
		want: []MappingClass{ClassCHeap, ClassCHeap},
	}, {
		name: "aligned run without MAP_NORESERVE, flags known: not a glibc heap",
		ms:   []procself.Mapping{{Start: base, End: base + 2*heap, Perms: rw, VmFlags: procself.VmRead | procself.VmWrite, RssBytes: 1 << 20}},
		want: []MappingClass{ClassAnonymous},
	}, {
		name: "unaligned start: not a heap",
		ms:   []procself.Mapping{{Start: base + 4096, End: base + 4096 + 2*heap, Perms: rw, VmFlags: nr, RssBytes: 1 << 20}},
		want: []MappingClass{ClassAnonymous},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := classifier{}
			labels := c.classify(tt.ms)
			for i, l := range labels {
				if l.class != tt.want[i] {
					t.Errorf("mapping %d [%#x, %#x): class %s, want %s", i, tt.ms[i].Start, tt.ms[i].End, l.class, tt.want[i])
				}
			}
		})
	}
}
