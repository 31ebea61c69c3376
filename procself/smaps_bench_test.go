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

// BenchmarkReadSmapsSelfBytesReused only reads the bytes of /proc/self/smaps, into a buffer kept
// from one read to the next as a MappingsReader does: ReadSmapsSelfBytes without the garbage.
func BenchmarkReadSmapsSelfBytesReused(b *testing.B) {
	fs := New("")
	path := fs.ProcPath("smaps")
	benchSmapsSelf(b, func(b *testing.B) {
		buf := make([]byte, 0, smapsReaderInitialBytes)
		reads := 0
		for b.Loop() {
			var err error
			var n int
			if buf, n, err = readFileInto(path, buf, smapsReadChunk); err != nil {
				b.Fatal(err)
			}
			reads += n
		}
		b.ReportMetric(float64(reads)/float64(b.N), "reads/op")
	})
}

// BenchmarkSmapsReaderSelf reads and parses /proc/self/smaps with a warm MappingsReader, reusing
// the result: what the collector's full tier pays. It reports the reader's own split of each
// read into reading the file and parsing it, and parsing's share of the two, measured on the same
// reads.
func BenchmarkSmapsReaderSelf(b *testing.B) {
	fs := New("")
	benchSmapsSelf(b, func(b *testing.B) {
		r := fs.NewSmapsReader()
		ms, err := r.Read(nil)
		if err != nil {
			b.Fatal(err)
		}
		var readNs, parseNs float64
		for b.Loop() {
			if ms, err = r.Read(ms); err != nil {
				b.Fatal(err)
			}
			st := r.Stats()
			readNs += float64(st.ReadTime.Nanoseconds())
			parseNs += float64(st.ParseTime.Nanoseconds())
		}
		b.ReportMetric(readNs/float64(b.N), "read-ns/op")
		b.ReportMetric(parseNs/float64(b.N), "parse-ns/op")
		b.ReportMetric(100*parseNs/(readNs+parseNs), "parse-share-%")
	})
}
