package rssattr

import (
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/memdiag/memdiag/procself"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/rss")

// TestClassifyRecordedMappings classifies smaps recorded from real processes
// (procself/testdata/smaps) and compares every mapping's class with a golden file. The probe
// address given for each fixture is an address inside its Go heap, as a live probe object would
// be, so the arena locator runs on real layouts with randomized heap bases.
func TestClassifyRecordedMappings(t *testing.T) {
	for _, tc := range []struct {
		fixture string
		probe   uintptr
		wantGo  uint64 // committed arena bytes
	}{
		{"purego", 0x1bb79f000000 + 4096, 12 << 20},
		{"cgo", 0x2ac138800000 + 4096, 8 << 20},
		{"many", 0, 0},
	} {
		t.Run(tc.fixture, func(t *testing.T) {
			ms := readSmapsFixture(t, tc.fixture)
			if tc.probe == 0 {
				// The many-mappings fixture's heap: the first rw-p run in a 64 MiB-aligned frame.
				tc.probe = firstArenaLike(ms)
			}
			loc := locateArenas(ms, []uintptr{tc.probe})
			c := classifier{arenas: loc.arenas}
			labels := c.classify(ms)
			var sb strings.Builder
			counts := map[MappingClass]int{}
			for i, m := range ms {
				counts[labels[i].class]++
				if len(ms) > 200 {
					continue // summarised below: thousands of lines would hide a change
				}
				fmt.Fprintf(&sb, "%x-%x %s %-14s %s\n", m.Start, m.End, m.Perms, labels[i].class, labels[i].name)
			}
			for _, cl := range []MappingClass{ClassGoHeap, ClassGoRuntime, ClassThreadStack, ClassCHeap, ClassBinary,
				ClassSharedLibrary, ClassFileMapping, ClassSharedMemory, ClassKernel, ClassAnonymous, ClassOtherAnonymous} {
				fmt.Fprintf(&sb, "# %s: %d mappings\n", cl, counts[cl])
			}
			s := &Reading{Mappings: ms, MappingsHaveSizes: true}
			r := attribute(s, labels, &ArenaCheck{})
			for _, cat := range r.Categories {
				fmt.Fprintf(&sb, "# %s %d %s\n", cat.Name, cat.Bytes, cat.Method)
			}
			fmt.Fprintf(&sb, "# resident %d unexplained %d\n", r.ResidentBytes, r.UnexplainedBytes)
			got := sb.String()

			golden := filepath.Join("testdata", "rss", tc.fixture+".golden")
			if *update {
				if err := os.MkdirAll(filepath.Dir(golden), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if d := cmp.Diff(strings.Split(string(want), "\n"), strings.Split(got, "\n")); d != "" {
				t.Errorf("classes differ from %s (-want +got):\n%s", golden, d)
			}
			if tc.wantGo != 0 {
				ck := checkArenas(ms, loc.arenas, &Runtime{HeapFreeBytes: tc.wantGo})
				if !ck.OK {
					t.Errorf("arena committed %d bytes, want the recorded heap's %d", ck.CommittedBytes, tc.wantGo)
				}
			}
		})
	}
}

// firstArenaLike returns an address in the first read-write anonymous mapping that starts a
// 64 MiB-aligned frame or follows a PROT_NONE mapping that does: where a Go heap begins.
func firstArenaLike(ms []procself.Mapping) uintptr {
	for i, m := range ms {
		if !isArenaCandidate(&ms[i]) || !m.Perms.Writable() {
			continue
		}
		if m.Start%arenaBytes == 0 || i > 0 && ms[i-1].End == m.Start && ms[i-1].Start%arenaBytes == 0 && !ms[i-1].Perms.Readable() {
			return m.Start
		}
	}
	return 0
}

// readSmapsFixture parses a recorded smaps file through procself, gunzipping smaps.gz into a
// temporary root when the fixture is stored compressed.
func readSmapsFixture(t *testing.T, name string) []procself.Mapping {
	t.Helper()
	root := filepath.Join("..", "..", "procself", "testdata", "smaps", name)
	gz := filepath.Join(root, "proc", "self", "smaps.gz")
	if f, err := os.Open(gz); err == nil {
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(zr)
		if err != nil {
			t.Fatal(err)
		}
		root = t.TempDir()
		dir := filepath.Join(root, "proc", "4242")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink("4242", filepath.Join(root, "proc", "self")); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "smaps"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ms, err := procself.New(root).Smaps()
	if err != nil {
		t.Fatal(err)
	}
	return ms
}

func TestSplitProportional(t *testing.T) {
	for _, tc := range []struct {
		total   uint64
		weights []uint64
		want    []uint64
	}{
		{10, []uint64{1, 1, 1}, []uint64{4, 3, 3}},
		{0, []uint64{5, 5}, []uint64{0, 0}},
		{7, []uint64{0, 0}, []uint64{7, 0}},
		{1 << 40, []uint64{1 << 40, 1 << 40}, []uint64{1 << 39, 1 << 39}},
		{100, []uint64{3, 0, 1}, []uint64{75, 0, 25}},
	} {
		if d := cmp.Diff(tc.want, splitProportional(tc.total, tc.weights)); d != "" {
			t.Errorf("split(%d, %v) (-want +got):\n%s", tc.total, tc.weights, d)
		}
	}
}

// FuzzAttribute classifies random mapping lists and checks the invariants every attribution
// keeps: no panic, one table row per mapping, categories plus unexplained equal resident.
func FuzzAttribute(f *testing.F) {
	f.Add(uint64(1), uint16(20), uint64(64<<20), false)
	f.Add(uint64(42), uint16(300), uint64(0), true)
	f.Add(uint64(7), uint16(0), uint64(1<<30), true)
	f.Fuzz(func(t *testing.T, seed uint64, n uint16, resident uint64, withProbe bool) {
		rng := rand.New(rand.NewPCG(seed, seed>>32))
		ms := randomMappings(rng, int(n%2000))
		var probes []uintptr
		if withProbe && len(ms) > 0 {
			m := ms[rng.IntN(len(ms))]
			probes = append(probes, m.Start+uintptr(rng.Uint64N(uint64(m.End-m.Start))))
		}
		loc := locateArenas(ms, probes)
		c := classifier{arenas: loc.arenas, mem: randomMemory{rng}}
		labels := c.classify(ms)
		rt := Runtime{
			HeapObjectsBytes: rng.Uint64N(1 << 36), HeapUnusedBytes: rng.Uint64N(1 << 30), HeapFreeBytes: rng.Uint64N(1 << 32),
			HeapStacksBytes: rng.Uint64N(1 << 30), HeapReleasedBytes: rng.Uint64N(1 << 32), MetadataOtherBytes: rng.Uint64N(1 << 26),
			OSStacksBytes: rng.Uint64N(1 << 24),
		}
		rt.GoRuntimeBytes = rt.MetadataOtherBytes + rt.OSStacksBytes + rng.Uint64N(1<<24) // + other
		ck := checkArenas(ms, loc.arenas, &rt)
		s := &Reading{Mappings: ms, MappingsHaveSizes: true, Runtime: rt, ResidentBytes: resident % (1 << 42)}
		if resident%2 == 0 {
			s.StatmRead = true
		}
		r := attribute(s, labels, &ck)
		if len(r.Mappings) != len(ms) || len(r.Categories) != len(categoryNames) {
			t.Fatalf("%d rows for %d mappings, %d categories", len(r.Mappings), len(ms), len(r.Categories))
		}
		var sum int64
		for _, cat := range r.Categories {
			sum += int64(cat.Bytes)
		}
		if sum+r.UnexplainedBytes != int64(r.ResidentBytes) {
			t.Fatalf("categories %d + unexplained %d != resident %d", sum, r.UnexplainedBytes, r.ResidentBytes)
		}
		var smaps uint64
		for _, m := range ms {
			smaps += m.RssBytes
		}
		if uint64(sum) != smaps {
			t.Fatalf("categories sum to %d, smaps' resident bytes to %d", sum, smaps)
		}
	})
}

// randomMappings returns n sorted, non-overlapping mappings with the shapes the classifier looks
// for: 64 MiB-aligned runs, guard pages, named and file-backed mappings.
func randomMappings(rng *rand.Rand, n int) []procself.Mapping {
	paths := []string{"", "", "", "", "[heap]", "[stack]", "[vdso]", "[vvar]", "/usr/lib/libc.so.6", "/bin/app",
		"/dev/shm/x", "/memfd:y (deleted)", "[anon: Go: heap]", "[anon:glibc: malloc arena]", "/data/file", "[weird]",
		"/SYSV00000000 (deleted)", "[anon: Go: page summary]"}
	sizes := []uint64{4 << 10, 64 << 10, 1 << 20, 8 << 20, 32 << 20, 64 << 20}
	ms := make([]procself.Mapping, 0, n)
	addr := uint64(rng.Uint32()) << 12
	for range n {
		if rng.IntN(3) == 0 {
			addr += sizes[rng.IntN(len(sizes))]
		}
		if rng.IntN(4) == 0 {
			addr = (addr + arenaBytes - 1) &^ (arenaBytes - 1)
		}
		size := sizes[rng.IntN(len(sizes))]
		m := procself.Mapping{Start: uintptr(addr), End: uintptr(addr + size), Perms: procself.Perms(rng.IntN(16)),
			Path: paths[rng.IntN(len(paths))], SizeBytes: size}
		if strings.HasPrefix(m.Path, "/") {
			m.Inode = rng.Uint64N(1000) + 1
		}
		m.RssBytes = rng.Uint64N(size/4096+1) * 4096
		m.LazyFreeBytes = rng.Uint64N(size/4096+1) * 4096
		m.VmFlags = procself.VmFlags(rng.Uint64())
		ms = append(ms, m)
		addr += size
	}
	return ms
}

// randomMemory answers reads of process memory with malloc-like headers now and then.
type randomMemory struct{ rng *rand.Rand }

func (r randomMemory) ReadAt(p []byte, off int64) (int, error) {
	for i := range p {
		p[i] = 0
	}
	if len(p) >= 16 && r.rng.IntN(2) == 0 {
		size := uint64(r.rng.IntN(512)+1)*4096 | mallocIsMmapped
		for i := range 8 {
			p[8+i] = byte(size >> (8 * i))
		}
	}
	return len(p), nil
}
