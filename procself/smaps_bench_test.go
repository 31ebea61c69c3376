//go:build linux

package procself

import (
	"fmt"
	"os"
	"syscall"
	"testing"
)

// BenchmarkParseSmaps parses the recorded 5,029-mapping fixture from memory: the parser alone.
func BenchmarkParseSmaps(b *testing.B) {
	data := readSmapsFixture(b, "many")
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := parseSmaps(data); err != nil {
			b.Fatal(err)
		}
	}
}

// smapsSelfCases are the address-space shapes of the /proc/self/smaps benchmarks: extra mappings on
// top of the test binary's own (~30), and whether 1 GiB more is resident (the kernel's page-table
// walk, not our parsing, grows with resident memory).
var smapsSelfCases = []struct {
	extra    int
	resident bool
}{
	{10, false}, {1000, false}, {10000, false},
	{10, true}, {1000, true}, {10000, true},
}

// benchSmapsSelf runs body under each shape in smapsSelfCases, with the mappings created before and
// removed after.
func benchSmapsSelf(b *testing.B, body func(b *testing.B)) {
	for _, c := range smapsSelfCases {
		res := "small"
		if c.resident {
			res = "1GiB"
		}
		b.Run(fmt.Sprintf("mappings=+%d/resident=%s", c.extra, res), func(b *testing.B) {
			if c.resident && testing.Short() {
				b.Skip("touches 1 GiB; skipped in -short")
			}
			addMappings(b, c.extra)
			if c.resident {
				addResident(b, 1<<30)
			}
			ms, err := New("").Smaps()
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			body(b)
			b.ReportMetric(float64(len(ms)), "mappings")
		})
	}
}

// addMappings creates n adjacent one-page anonymous mappings with alternating protections so that
// the kernel cannot merge them into one area.
func addMappings(b *testing.B, n int) {
	page := os.Getpagesize()
	mem, err := syscall.Mmap(-1, 0, n*page, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { syscall.Munmap(mem) })
	for i := 0; i < n; i += 2 {
		if err := syscall.Mprotect(mem[i*page:(i+1)*page], syscall.PROT_READ); err != nil {
			b.Fatal(err)
		}
	}
}

// addResident maps size bytes and writes every page so that all of it is resident (THP is
// "madvise" on the measuring machine, so these are 4 KiB pages: the kernel walks every PTE).
func addResident(b *testing.B, size int) {
	mem, err := syscall.Mmap(-1, 0, size, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { syscall.Munmap(mem) })
	page := os.Getpagesize()
	for i := 0; i < size; i += page {
		mem[i] = 1
	}
}

// BenchmarkReadSmapsSelf reads and parses /proc/self/smaps: what FS.Smaps costs.
func BenchmarkReadSmapsSelf(b *testing.B) {
	fs := New("")
	benchSmapsSelf(b, func(b *testing.B) {
		for b.Loop() {
			if _, err := fs.Smaps(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkReadSmapsSelfBytes only reads the bytes of /proc/self/smaps: the kernel's share
// (page-table walk and formatting) plus the copy. ReadSmapsSelf minus this is our parsing.
func BenchmarkReadSmapsSelfBytes(b *testing.B) {
	fs := New("")
	path := fs.ProcPath("smaps")
	benchSmapsSelf(b, func(b *testing.B) {
		for b.Loop() {
			if _, err := fs.readFile(path); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkParseSmapsSelf parses bytes read once from /proc/self/smaps under the same shapes: the
// parse share measured directly rather than by subtraction.
func BenchmarkParseSmapsSelf(b *testing.B) {
	fs := New("")
	benchSmapsSelf(b, func(b *testing.B) {
		data, err := fs.readFile(fs.ProcPath("smaps"))
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(data)))
		for b.Loop() {
			if _, err := parseSmaps(data); err != nil {
				b.Fatal(err)
			}
		}
	})
}
