package rssattr

import (
	"runtime"
	"testing"
	"unsafe"

	"github.com/memdiag/memdiag/procself"
)

// TestClassifyMappingsAgreesWithProbes classifies the recorded smaps fixtures from outside (no
// probes) and compares every mapping's class with what the probe-based locator gives: the
// 64 MiB-aligned heuristic must find the same arenas the probes prove. It runs again on the same
// mappings with maps' information only (no sizes, no VmFlags).
func TestClassifyMappingsAgreesWithProbes(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		probe   uintptr
	}{
		{"purego", 0x1bb79f000000 + 4096},
		{"cgo", 0x2ac138800000 + 4096},
		{"many", 0},
	} {
		ms := readSmapsFixture(t, tc.fixture)
		if tc.probe == 0 {
			tc.probe = firstArenaLike(ms)
		}
		loc := locateArenas(ms, []uintptr{tc.probe})
		want := (&classifier{arenas: loc.arenas}).classify(ms)

		asMaps := make([]procself.Mapping, len(ms))
		for i, m := range ms {
			asMaps[i] = procself.Mapping{Start: m.Start, End: m.End, Perms: m.Perms, Offset: m.Offset, Dev: m.Dev, Inode: m.Inode, Path: m.Path}
		}
		for _, in := range []struct {
			name string
			ms   []procself.Mapping
		}{{"smaps", ms}, {"maps", asMaps}} {
			t.Run(tc.fixture+"/"+in.name, func(t *testing.T) {
				got := ClassifyMappings(in.ms, ExternalProcess{GoProgram: true})
				if got.ArenasFoundBy != ArenasAligned {
					t.Errorf("arenas found by %q, want %q", got.ArenasFoundBy, ArenasAligned)
				}
				if got.HaveSizes != (in.name == "smaps") {
					t.Errorf("HaveSizes = %v for %s", got.HaveSizes, in.name)
				}
				bad := 0
				for i, m := range got.Mappings {
					if w := want[i].class; m.Class != w {
						if bad++; bad <= 5 {
							t.Errorf("%x-%x %s: class %s, the probes say %s", m.Start, m.End, m.Perms, m.Class, w)
						}
					}
				}
				var rss uint64
				var n int
				for _, s := range got.Classes {
					rss += s.RssBytes
					n += s.Mappings
				}
				if rss != got.ResidentBytes || n != len(ms) {
					t.Errorf("class sums hold %d bytes in %d mappings, want %d in %d", rss, n, got.ResidentBytes, len(ms))
				}
			})
		}
	}
}

// TestClassifyMappingsNotGo: a program that is not Go gets no Go heap from the aligned shapes
// (they could be any runtime's), and its unnamed anonymous memory is other_anonymous.
func TestClassifyMappingsNotGo(t *testing.T) {
	ms := readSmapsFixture(t, "purego")
	got := ClassifyMappings(ms, ExternalProcess{})
	if got.ArenasFoundBy != ArenasNone || len(got.Arenas) != 0 {
		t.Errorf("arenas %v found by %q in a program said not to be Go", got.Arenas, got.ArenasFoundBy)
	}
	for _, m := range got.Mappings {
		if m.Class == ClassGoHeap || m.Class == ClassAnonymous {
			t.Errorf("%x-%x: class %s", m.Start, m.End, m.Class)
		}
	}
}

// TestClassifyMappingsKernelNames: where the kernel shows Go's names they alone locate the heap.
func TestClassifyMappingsKernelNames(t *testing.T) {
	const a = 0x7f0000000000
	ms := []procself.Mapping{
		{Start: a, End: a + 4<<20, Perms: procself.PermRead | procself.PermWrite, Path: "[anon: Go: heap]", RssBytes: 1 << 20},
		{Start: a + 4<<20, End: a + 64<<20, Path: "[anon: Go: heap reservation]"},
		{Start: a + 64<<20, End: a + 65<<20, Perms: procself.PermRead | procself.PermWrite, Path: "[anon: Go: page summary]", RssBytes: 4096},
	}
	got := ClassifyMappings(ms, ExternalProcess{GoProgram: true})
	if got.ArenasFoundBy != ArenasNamedByKernel {
		t.Errorf("found by %q", got.ArenasFoundBy)
	}
	for i, want := range []MappingClass{ClassGoHeap, ClassGoHeap, ClassGoRuntime} {
		if got.Mappings[i].Class != want {
			t.Errorf("mapping %d: %s, want %s", i, got.Mappings[i].Class, want)
		}
	}
	if got.Classes[0].Class != ClassGoHeap || got.Classes[0].RssBytes != 1<<20 {
		t.Errorf("largest class %+v, want go_heap with 1 MiB", got.Classes[0])
	}
}

// TestClassifyMappingsSelf classifies this test process from outside: the heuristic finds an
// arena holding a live heap object.
func TestClassifyMappingsSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs /proc")
	}
	obj := make([]byte, 1<<20)
	obj[0] = 1
	ms, err := procself.New("/").Smaps()
	if err != nil {
		t.Fatal(err)
	}
	exe, _, _ := procself.New("/").Exe()
	got := ClassifyMappings(ms, ExternalProcess{Exe: exe, GoProgram: true})
	addr := uintptr(unsafe.Pointer(unsafe.SliceData(obj)))
	found := false
	for _, m := range got.Mappings {
		if m.Start <= addr && addr < m.End {
			found = m.Class == ClassGoHeap
			if !found {
				t.Errorf("a live heap object lies in %x-%x %s, classed %s", m.Start, m.End, m.Perms, m.Class)
			}
		}
	}
	if !found {
		t.Errorf("no go_heap mapping holds a live heap object (arenas %v by %s)", got.Arenas, got.ArenasFoundBy)
	}
	runtime.KeepAlive(obj)
	binary := false
	for _, s := range got.Classes {
		binary = binary || s.Class == ClassBinary && s.RssBytes > 0
	}
	if !binary {
		t.Errorf("no resident binary mapping: %+v", got.Classes)
	}
}
