package procself

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/go-cmp/cmp"
)

// smapsFixtureRoot is the FS root of a recorded fixture (see testdata/README.md).
func smapsFixtureRoot(name string) string { return filepath.Join("testdata", "smaps", name) }

// readSmapsFixture returns a recorded smaps file, gunzipping smaps.gz (the thousands-of-mappings
// fixture is stored compressed).
func readSmapsFixture(tb testing.TB, name string) []byte {
	tb.Helper()
	p := filepath.Join(smapsFixtureRoot(name), "proc", "self", "smaps")
	b, err := os.ReadFile(p)
	if err == nil {
		return b
	}
	f, err := os.Open(p + ".gz")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	b, err = io.ReadAll(zr)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// recordedFixtures are the smaps files recorded from real processes on Linux 6.18 x86-64, with how
// many mappings each holds.
var recordedFixtures = []struct {
	name     string
	mappings int
}{
	{"purego", 30},
	{"cgo", 80},
	{"paths", 35},
	{"many", 5029},
}

// checkKernelInvariants asserts what the kernel guarantees for every smaps entry it prints
// (fs/proc/task_mmu.c): the size is the address range, the resident split into shared/private
// clean/dirty sums to Rss, proportional shares never exceed what they are shares of.
func checkKernelInvariants(t *testing.T, ms []Mapping, recorded bool) {
	t.Helper()
	for i, m := range ms {
		where := func(format string, args ...any) {
			t.Helper()
			t.Errorf("mapping %d (%x-%x %s): "+format, append([]any{i, m.Start, m.End, m.Path}, args...)...)
		}
		if m.End <= m.Start {
			where("end not above start")
		}
		if i > 0 && m.Start < ms[i-1].End {
			where("overlaps or precedes the previous mapping")
		}
		if m.SizeBytes != uint64(m.End-m.Start) {
			where("SizeBytes %d != End-Start %d", m.SizeBytes, m.End-m.Start)
		}
		if m.RssBytes > m.SizeBytes {
			where("RssBytes %d > SizeBytes %d", m.RssBytes, m.SizeBytes)
		}
		if m.PssBytes > m.RssBytes {
			where("PssBytes %d > RssBytes %d", m.PssBytes, m.RssBytes)
		}
		if sum := m.SharedCleanBytes + m.SharedDirtyBytes + m.PrivateCleanBytes + m.PrivateDirtyBytes; sum != m.RssBytes {
			where("shared+private %d != RssBytes %d", sum, m.RssBytes)
		}
		if m.AnonymousBytes > m.RssBytes || m.ReferencedBytes > m.RssBytes {
			where("Anonymous %d or Referenced %d > Rss %d", m.AnonymousBytes, m.ReferencedBytes, m.RssBytes)
		}
		if m.KernelPageSizeBytes == 0 || m.MMUPageSizeBytes == 0 {
			where("no page size")
		}
		if m.VmFlags&VmRead != 0 != m.Perms.Readable() || m.VmFlags&VmWrite != 0 != m.Perms.Writable() ||
			m.VmFlags&VmExec != 0 != m.Perms.Executable() {
			where("VmFlags %q disagree with perms %s", m.VmFlags, m.Perms)
		}
		if m.UnknownKeys != 0 && recorded {
			// Fixtures were recorded on a kernel whose keys we all know; a live newer kernel may
			// print more, which is allowed.
			where("%d unknown keys: this kernel prints fields Mapping does not carry", m.UnknownKeys)
		}
	}
}

func TestParseSmapsRecorded(t *testing.T) {
	for _, fx := range recordedFixtures {
		t.Run(fx.name, func(t *testing.T) {
			ms, err := parseSmaps(readSmapsFixture(t, fx.name))
			if err != nil {
				t.Fatal(err)
			}
			if len(ms) != fx.mappings {
				t.Errorf("got %d mappings, want %d", len(ms), fx.mappings)
			}
			checkKernelInvariants(t, ms, true)

			// maps was read right after smaps from the same process: its headers are smaps's.
			maps, err := New(smapsFixtureRoot(fx.name)).Maps()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(headersOnly(ms), maps); diff != "" {
				t.Errorf("smaps headers differ from maps (-smaps +maps):\n%s", diff)
			}
		})
	}
}

// headersOnly drops the smaps sizes, leaving what maps carries.
func headersOnly(ms []Mapping) []Mapping {
	out := make([]Mapping, len(ms))
	for i, m := range ms {
		out[i] = Mapping{Start: m.Start, End: m.End, Perms: m.Perms, Offset: m.Offset, Dev: m.Dev, Inode: m.Inode, Path: m.Path}
	}
	return out
}

// TestSmapsRecordedDetails pins whole mappings of the recorded fixtures, field by field.
func TestSmapsRecordedDetails(t *testing.T) {
	const kB = 1024
	ms, err := New(smapsFixtureRoot("paths")).Smaps()
	if err != nil {
		t.Fatal(err)
	}
	byPath := map[string]Mapping{}
	for _, m := range ms {
		byPath[m.Path] = m
	}
	shmFlags := VmRead | VmWrite | VmShared | VmMayRead | VmMayWrite | VmMayExec | VmMayShare
	roFlags := VmRead | VmShared | VmMayRead | VmMayWrite | VmMayExec | VmMayShare
	tests := []Mapping{{
		Start: 0x7fe5812e6000, End: 0x7fe5812f6000, Perms: PermRead | PermWrite | PermShared,
		Dev: Dev{0, 1}, Path: "/SYSV00000000 (deleted)",
		SizeBytes: 64 * kB, KernelPageSizeBytes: 4 * kB, MMUPageSizeBytes: 4 * kB, RssBytes: 4 * kB,
		PssBytes: 4 * kB, PssDirtyBytes: 4 * kB, PrivateDirtyBytes: 4 * kB, ReferencedBytes: 4 * kB,
		VmFlags: shmFlags,
	}, {
		Start: 0x7fe5812f6000, End: 0x7fe5812fa000, Perms: PermRead | PermWrite | PermShared,
		Dev: Dev{0, 1}, Inode: 24, Path: "/memfd:memdiag-fixture (deleted)",
		SizeBytes: 16 * kB, KernelPageSizeBytes: 4 * kB, MMUPageSizeBytes: 4 * kB, RssBytes: 4 * kB,
		PssBytes: 4 * kB, PssDirtyBytes: 4 * kB, PrivateDirtyBytes: 4 * kB, ReferencedBytes: 4 * kB,
		VmFlags: shmFlags,
	}, {
		Start: 0x7fe5812fa000, End: 0x7fe5812fc000, Perms: PermRead | PermShared,
		Dev: Dev{0xfe, 0}, Inode: 9980062, Path: "/tmp/smapsfix/two  spaces and trailing ",
		SizeBytes: 8 * kB, KernelPageSizeBytes: 4 * kB, MMUPageSizeBytes: 4 * kB, VmFlags: roFlags,
	}, {
		Start: 0x7fe5812fc000, End: 0x7fe5812fe000, Perms: PermRead | PermShared,
		Dev: Dev{0xfe, 0}, Inode: 9980052, Path: "/tmp/smapsfix/unlinked.dat (deleted)",
		SizeBytes: 8 * kB, KernelPageSizeBytes: 4 * kB, MMUPageSizeBytes: 4 * kB, VmFlags: roFlags,
	}}
	for _, want := range tests {
		t.Run(want.Path, func(t *testing.T) {
			if diff := cmp.Diff(want, byPath[want.Path]); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	t.Run("cgo libc segments share one path string", func(t *testing.T) {
		ms, err := parseSmaps(readSmapsFixture(t, "cgo"))
		if err != nil {
			t.Fatal(err)
		}
		var libc []string
		for _, m := range ms {
			if strings.HasSuffix(m.Path, "/libc.so.6") {
				libc = append(libc, m.Path)
			}
		}
		if len(libc) < 2 {
			t.Fatalf("found %d libc mappings", len(libc))
		}
		for _, p := range libc[1:] {
			if unsafe.StringData(p) != unsafe.StringData(libc[0]) {
				t.Errorf("libc path not interned")
			}
		}
	})
}

// kernelDocExample is the example entry of Documentation/filesystems/proc.rst, extended with the
// lines a recorded fixture cannot show on this machine: ProtectionKey (x86 pkeys), the
// smaps_rollup-only Pss_* keys, a named anonymous mapping, a key and a VmFlags code from a future
// kernel, and no newline at the end.
const kernelDocExample = `08048000-080bc000 r-xp 00000000 03:02 13130                              /bin/bash
Size:               1084 kB
KernelPageSize:        4 kB
MMUPageSize:           4 kB
Rss:                 892 kB
Pss:                 374 kB
Pss_Dirty:             0 kB
Shared_Clean:        892 kB
Shared_Dirty:          0 kB
Private_Clean:         0 kB
Private_Dirty:         0 kB
Referenced:          892 kB
Anonymous:             0 kB
KSM:                   0 kB
LazyFree:              0 kB
AnonHugePages:         0 kB
ShmemPmdMapped:        0 kB
FilePmdMapped:         0 kB
Shared_Hugetlb:        0 kB
Private_Hugetlb:       0 kB
Swap:                  0 kB
SwapPss:               0 kB
Locked:                0 kB
THPeligible:           0
VmFlags: rd ex mr mw me dw
c000000000-c004000000 rw-p 00000000 00:00 0                              [anon: Go: heap]
Size:              65536 kB
Rss:                2048 kB
Pss:                2048 kB
Pss_Anon:           2048 kB
Pss_File:              0 kB
Pss_Shmem:             0 kB
Private_Dirty:      2048 kB
Anonymous:          2048 kB
AnonHugePages:      2048 kB
Swap:                 12 kB
SwapPss:               8 kB
Locked:                4 kB
Future_Key:          123 kB
THPeligible:           1
ProtectionKey:         3
VmFlags: rd wr mr mw me ac sd zz hg
7ffd1000-7ffd2000 r--p 00000000 00:00 0 
Size: 4 kB
VmFlags: rd mr`

func TestParseSmapsSynthetic(t *testing.T) {
	const kB = 1024
	want := []Mapping{{
		Start: 0x08048000, End: 0x080bc000, Perms: PermRead | PermExecute, Dev: Dev{3, 2}, Inode: 13130,
		Path: "/bin/bash", SizeBytes: 1084 * kB, KernelPageSizeBytes: 4 * kB, MMUPageSizeBytes: 4 * kB,
		RssBytes: 892 * kB, PssBytes: 374 * kB, SharedCleanBytes: 892 * kB, ReferencedBytes: 892 * kB,
		VmFlags: VmRead | VmExec | VmMayRead | VmMayWrite | VmMayExec | VmDenyWrite,
	}, {
		Start: 0xc000000000, End: 0xc004000000, Perms: PermRead | PermWrite, Path: "[anon: Go: heap]",
		SizeBytes: 65536 * kB, RssBytes: 2048 * kB, PssBytes: 2048 * kB, PssAnonBytes: 2048 * kB,
		PrivateDirtyBytes: 2048 * kB, AnonymousBytes: 2048 * kB, AnonHugePagesBytes: 2048 * kB,
		SwapBytes: 12 * kB, SwapPssBytes: 8 * kB, LockedBytes: 4 * kB, THPEligible: true, ProtectionKey: 3,
		VmFlags:     VmRead | VmWrite | VmMayRead | VmMayWrite | VmMayExec | VmAccount | VmSoftDirty | VmHugePage,
		UnknownKeys: 2, // Future_Key and zz
	}, {
		Start: 0x7ffd1000, End: 0x7ffd2000, Perms: PermRead, SizeBytes: 4 * kB, VmFlags: VmRead | VmMayRead,
	}}
	got, err := parseSmaps([]byte(kernelDocExample))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		line string
		want Mapping
	}{
		{"7f0000000000-7f0000001000 rw-p 00000000 00:00 0 ", Mapping{Start: 0x7f0000000000, End: 0x7f0000001000, Perms: PermRead | PermWrite}},
		{"7f0000000000-7f0000001000 rw-p 00000000 00:00 0", Mapping{Start: 0x7f0000000000, End: 0x7f0000001000, Perms: PermRead | PermWrite}},
		{"00400000-00401000 r-xs 0000a000 fd:1f 42    /a b", Mapping{Start: 0x400000, End: 0x401000, Perms: PermRead | PermExecute | PermShared, Offset: 0xa000, Dev: Dev{0xfd, 0x1f}, Inode: 42, Path: "/a b"}},
		{"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]", Mapping{Start: 0xffffffffff600000, End: 0xffffffffff601000, Perms: PermExecute, Path: "[vsyscall]"}},
		{"1000-2000 ---p 00000000 103:a0001 18446744073709551615 /x\\012y (deleted)", Mapping{Start: 0x1000, End: 0x2000, Dev: Dev{0x103, 0xa0001}, Inode: 1<<64 - 1, Path: "/x\\012y (deleted)"}},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := parseMaps([]byte(tt.line + "\n"))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([]Mapping{tt.want}, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if got[0].Perms.String() != tt.line[strings.IndexByte(tt.line, ' ')+1:][:4] {
				t.Errorf("Perms.String() = %q", got[0].Perms)
			}
		})
	}
}

func TestParseSmapsErrors(t *testing.T) {
	const hdr = "1000-2000 rw-p 00000000 00:00 0 \n"
	tests := []struct {
		name, in string
		line     int
		msg      string // a substring of the message
	}{
		{"field before header", "Size: 4 kB\n" + hdr, 1, "before any mapping header"},
		{"end below start", "2000-1000 rw-p 00000000 00:00 0 \nSize: 4 kB\n", 1, "end address not above start"},
		{"empty range", "2000-2000 rw-p 00000000 00:00 0 \nSize: 0 kB\n", 1, "end address not above start"},
		{"no dash", "1000 2000 rw-p 00000000 00:00 0\n", 1, "bad start address"},
		{"17 hex digits", "10000000000000000-20000000000000000 rw-p 0 0:0 0\n", 1, "bad start address"},
		{"bad perms", "1000-2000 rwzp 00000000 00:00 0\n", 1, "bad permissions"},
		{"short perms", "1000-2000 rw 00000000 00:00 0\n", 1, "bad permissions"},
		{"bad offset", "1000-2000 rw-p 0000g000 00:00 0\n", 1, "bad offset"},
		{"bad device", "1000-2000 rw-p 00000000 0000 0\n", 1, "bad device"},
		{"device overflow", "1000-2000 rw-p 00000000 100000000:00 0\n", 1, "bad device"},
		{"bad inode", "1000-2000 rw-p 00000000 00:00 12x4\n", 1, "bad inode"},
		{"inode overflow", "1000-2000 rw-p 00000000 00:00 18446744073709551616\n", 1, "bad inode"},
		{"truncated header", "1000-2000 rw-p 000", 1, "bad offset"},
		{"cut after a complete mapping", hdr + "Size: 4 kB\nVmFlags: rd\n" + hdr + "Size: 4 kB\n", 5, "truncated: the last mapping has no VmFlags line"},
		{"no colon", hdr + "Size 4 kB\n", 2, "key: value"},
		{"blank line", hdr + "Size: 4 kB\n\n", 3, "key: value"},
		{"header without fields", hdr + hdr + "Size: 4 kB\n", 1, "no smaps fields"},
		{"last header without fields", hdr + "Size: 4 kB\n" + hdr, 3, "no smaps fields"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := parseSmaps([]byte(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v, %v; want a *ParseError", ms, err)
			}
			if pe.Line != tt.line || !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("got line %d %q; want line %d containing %q", pe.Line, pe.Msg, tt.line, tt.msg)
			}
			if ms != nil {
				t.Errorf("got mappings with an error")
			}
		})
	}

	// A value that cannot be read is that field's error: the mapping is kept with the field zero.
	fieldTests := []struct {
		name, in string
		field    string
		line     int
		msg      string
	}{
		{"garbled number", hdr + "Size:   4x kB\nRss: 4 kB\n", "Size", 2, "bad number"},
		{"garbage in padding", hdr + "Size: x 4 kB\nRss: 4 kB\n", "Size", 2, "bad number"},
		{"missing number", hdr + "Size:   kB\nRss: 4 kB\n", "Size", 2, "bad number"},
		{"missing value", hdr + "Size:\nRss: 4 kB\n", "Size", 2, `want a size in "kB"`},
		{"missing unit", hdr + "Size:   4\nRss: 4 kB\n", "Size", 2, `want a size in "kB"`},
		{"wrong unit", hdr + "Rss:   4 MB\nSize: 4 kB\n", "Rss", 2, `want a size in "kB"`},
		{"size overflow", hdr + "Rss: 18014398509481984 kB\nSize: 4 kB\n", "Rss", 2, "overflows"},
		{"bad THPeligible", hdr + "THPeligible: yes\nSize: 4 kB\nRss: 4 kB\n", "THPeligible", 2, "bad number"},
		{"bad ProtectionKey", hdr + "ProtectionKey: 99999999999\nSize: 4 kB\nRss: 4 kB\n", "ProtectionKey", 2, "out of range"},
	}
	for _, tt := range fieldTests {
		t.Run(tt.name, func(t *testing.T) {
			ms, err := parseSmaps([]byte(tt.in))
			checkFieldErrors(t, err, "mapping 1000-2000: ", tt.field)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %v does not say %q", err, tt.msg)
			}
			var fe *FieldErrors
			if errors.As(err, &fe) && fe.Errs[0].Line != tt.line {
				t.Errorf("error on line %d, want %d", fe.Errs[0].Line, tt.line)
			}
			if len(ms) != 1 || ms[0].Start != 0x1000 {
				t.Fatalf("got %+v, want the mapping kept", ms)
			}
			want := uint64(4096)
			if tt.field == "Size" {
				want = 0
			}
			if ms[0].SizeBytes != want {
				t.Errorf("SizeBytes = %d, want %d", ms[0].SizeBytes, want)
			}
		})
	}

	t.Run("maps rejects smaps", func(t *testing.T) {
		_, err := parseMaps([]byte(hdr + "Size: 4 kB\n"))
		var pe *ParseError
		if !errors.As(err, &pe) || pe.Line != 2 {
			t.Errorf("got %v; want a *ParseError on line 2", err)
		}
	})
	t.Run("long line is cut in the message", func(t *testing.T) {
		_, err := parseSmaps([]byte(hdr + "Size: " + strings.Repeat("9", 1<<20) + "\n"))
		if err == nil || len(err.Error()) > 300 {
			t.Errorf("got %d-byte error", len(err.Error()))
		}
	})
}

// TestSmapsFixtureErrors reads broken fixtures through FS so that the error names file and line.
func TestSmapsFixtureErrors(t *testing.T) {
	tests := []struct {
		name string
		line int
		msg  string
	}{
		{"truncated", 41, "truncated: the last mapping has no VmFlags line"},
		{"badrange", 1, "end address not above start"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := New(smapsFixtureRoot(tt.name))
			_, err := fs.Smaps()
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("got %v; want a *ParseError", err)
			}
			if pe.File != fs.ProcPath("smaps") || pe.Line != tt.line || !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("got %s:%d %q; want %s:%d containing %q", pe.File, pe.Line, pe.Msg, fs.ProcPath("smaps"), tt.line, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), fs.ProcPath("smaps")+":") {
				t.Errorf("error %q does not start with file:line", err)
			}
		})
	}

	t.Run("garbled", func(t *testing.T) {
		// One digit turned into x: that field of that mapping is unread, the other 29 mappings
		// and the mapping's other fields are readings.
		fs := New(smapsFixtureRoot("garbled"))
		ms, err := fs.Smaps()
		checkFieldErrors(t, err, `mapping 579000-584000: bad number: "Private_Clean:         x kB"`, "Private_Clean")
		var fe *FieldErrors
		if errors.As(err, &fe) && (fe.File != fs.ProcPath("smaps") || fe.Errs[0].Line != 60) {
			t.Errorf("error %v, want %s line 60", err, fs.ProcPath("smaps"))
		}
		clean, cerr := New(smapsFixtureRoot("purego")).Smaps()
		if cerr != nil {
			t.Fatal(cerr)
		}
		if len(ms) != len(clean) {
			t.Fatalf("%d mappings, want %d", len(ms), len(clean))
		}
		// The garbled value was a 0, so the unread field's zero equals the clean reading and
		// every mapping must come back exactly as from the clean file.
		for i := range ms {
			if ms[i] != clean[i] {
				t.Errorf("mapping %d: %+v, clean %+v", i, ms[i], clean[i])
			}
		}
	})
	t.Run("empty", func(t *testing.T) {
		// A kernel thread's smaps is empty.
		ms, err := New(smapsFixtureRoot("empty")).Smaps()
		if err != nil || len(ms) != 0 {
			t.Errorf("got %v, %v; want no mappings and no error", ms, err)
		}
	})
	t.Run("missing", func(t *testing.T) {
		_, err := New(smapsFixtureRoot("nonexistent")).Smaps()
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v; want os.ErrNotExist", err)
		}
	})
}

func TestVmFlagsString(t *testing.T) {
	if got, want := vmFlagsEnd, VmFlags(1)<<(len(vmFlagCodes)/2); got != want {
		t.Fatalf("%d flag constants, %d codes", bitLen(got)-1, len(vmFlagCodes)/2)
	}
	for i := 0; i < len(vmFlagCodes)/2; i++ {
		code := vmFlagCodes[2*i : 2*i+2]
		if f := vmFlag([]byte(code)); f != 1<<i || f.String() != code {
			t.Errorf("code %q: flag %b, String %q", code, f, f.String())
		}
	}
	if s := (VmRead | VmWrite | VmAccount).String(); s != "rd wr ac" {
		t.Errorf("String() = %q", s)
	}
	if VmFlags(0).String() != "" || vmFlag([]byte("zz")) != 0 || vmFlag([]byte("r")) != 0 {
		t.Error("unknown codes must map to no flag")
	}
}

func bitLen(f VmFlags) int {
	n := 0
	for ; f != 0; f >>= 1 {
		n++
	}
	return n
}

var smapsSink *int

// TestSmapsSelf reads the real /proc/self/smaps and finds what must be there: the mapping holding a
// live heap object and the executable's text.
func TestSmapsSelf(t *testing.T) {
	if runtime.GOOS != "linux" {
		_, err := New("").Smaps()
		if !errors.Is(err, errUnsupported) {
			t.Errorf("got %v; want errUnsupported", err)
		}
		t.Skip("no /proc off Linux")
	}
	x := new(int)
	smapsSink = x // escapes: x is on the Go heap
	heapAddr := uintptr(unsafe.Pointer(x))
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	textAddr := reflect.ValueOf(bitLen).Pointer() // a function's entry PC, in the binary's text

	for _, read := range []struct {
		name string
		f    func() ([]Mapping, error)
	}{{"smaps", New("").Smaps}, {"maps", New("").Maps}} {
		t.Run(read.name, func(t *testing.T) {
			ms, err := read.f()
			if err != nil {
				t.Fatal(err)
			}
			if read.name == "smaps" {
				checkKernelInvariants(t, ms, false)
			}
			var heap, text *Mapping
			for i := range ms {
				if ms[i].Contains(heapAddr) {
					heap = &ms[i]
				}
				if ms[i].Path == exe && ms[i].Perms.Executable() {
					text = &ms[i]
				}
			}
			if heap == nil {
				t.Errorf("no mapping contains heap object at %#x", heapAddr)
			} else if !heap.Perms.Readable() || !heap.Perms.Writable() || !heap.Perms.Private() {
				t.Errorf("heap object in %s mapping %q", heap.Perms, heap.Path)
			} else if read.name == "smaps" && heap.RssBytes == 0 {
				t.Errorf("heap mapping has no resident pages")
			}
			if text == nil {
				t.Errorf("no executable mapping of %s", exe)
			}
			var textFound bool
			for i := range ms {
				textFound = textFound || ms[i].Contains(textAddr) && ms[i].Path == exe && ms[i].Perms.Executable()
			}
			if !textFound {
				t.Errorf("code address %#x is not in a mapping of %s", textAddr, exe)
			}
		})
	}
}

// TestParseSmapsAllocs holds the parser to its budget: the result slice plus one string per distinct
// pathname run, nothing per line.
func TestParseSmapsAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	b := readSmapsFixture(t, "many")
	ms, err := parseSmaps(b)
	if err != nil {
		t.Fatal(err)
	}
	if cap(ms) < len(ms) || cap(ms) > len(ms)+len(ms)/10 {
		t.Errorf("cap %d for %d mappings: the estimate is off by more than 10%%", cap(ms), len(ms))
	}
	paths := 0
	for i := range ms {
		if ms[i].Path != "" && (i == 0 || ms[i].Path != ms[i-1].Path) {
			paths++
		}
	}
	allocs := testing.AllocsPerRun(5, func() { parseSmaps(b) })
	if max := float64(1 + paths); allocs > max {
		t.Errorf("%v allocations for %d mappings with %d path runs; budget %v", allocs, len(ms), paths, max)
	}
	t.Logf("%v allocations for %d mappings", allocs, len(ms))
}

// TestParseSmapsTrailingData checks that the parser takes the bytes it is given and nothing else
// (the FS layer owns reading).
func TestParseSmapsTrailingData(t *testing.T) {
	b := readSmapsFixture(t, "purego")
	a, err := parseSmaps(b)
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseSmaps(bytes.TrimSuffix(b, []byte("\n")))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, c); diff != "" {
		t.Errorf("final newline changes the result:\n%s", diff)
	}
}

// TestParseSmapsFastMatchesGeneral runs the fast-path differential check (FuzzParseSmapsFastPath)
// over the whole recorded fixtures, too large to be fuzz seeds, over each fixture with one line
// at a time widened past the kernel's column, and over the edge cases.
func TestParseSmapsFastMatchesGeneral(t *testing.T) {
	for _, fx := range recordedFixtures {
		t.Run(fx.name, func(t *testing.T) {
			checkFastMatchesGeneral(t, readSmapsFixture(t, fx.name))
		})
	}
	t.Run("widened", func(t *testing.T) {
		b := readSmapsFixture(t, "cgo")
		lines := bytes.SplitAfter(b, []byte("\n"))
		for i, l := range lines {
			if len(l) != sizeLineLen {
				continue
			}
			// The kernel's width is a minimum: a value of 10^8 kB or more pushes " kB" right.
			wide := slices.Concat(lines[:i:i], [][]byte{[]byte(string(l[:keyColumnLen]) + "123456789 kB\n")}, lines[i+1:])
			checkFastMatchesGeneral(t, bytes.Join(wide, nil))
		}
	})
	for i, s := range fastPathEdgeCases {
		t.Run(fmt.Sprintf("edge%d", i), func(t *testing.T) { checkFastMatchesGeneral(t, []byte(s)) })
	}
}

// TestRightAligned8 compares the word-at-a-time "%8u" reader with a byte-at-a-time one on every
// width of number and on random bytes drawn from the characters around the digits and the space.
func TestRightAligned8(t *testing.T) {
	ref := func(b []byte) (uint64, bool) {
		i := 0
		for i < len(b) && b[i] == ' ' {
			i++
		}
		if i == len(b) {
			return 0, false
		}
		var v uint64
		for ; i < len(b); i++ {
			if b[i] < '0' || b[i] > '9' {
				return 0, false
			}
			v = v*10 + uint64(b[i]-'0')
		}
		return v, true
	}
	check := func(b []byte) {
		t.Helper()
		wantV, wantOK := ref(b)
		gotV, gotOK := rightAligned8(binary.LittleEndian.Uint64(b))
		if gotV != wantV || gotOK != wantOK {
			t.Fatalf("%q: got %d, %v; want %d, %v", b, gotV, gotOK, wantV, wantOK)
		}
	}
	for _, v := range []uint64{0, 1, 9, 10, 99, 100, 4096, 1234567, 9999999, 10000000, 12345678, 99999999} {
		check(fmt.Appendf(nil, "%8d", v))
		check(fmt.Appendf(nil, "%08d", v))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		check(fmt.Appendf(nil, "%8d", rng.Uint64N(100000000)))
	}
	const alphabet = "      0123456789/:@`\x00\x19\x1f\x21\x2f\x3a\x3f\x40\x7f\x80\xb0\xf9\xfa\xff"
	b := make([]byte, 8)
	for range 200000 {
		pad := rng.IntN(9)
		for i := range b {
			switch {
			case i < pad && rng.IntN(8) != 0:
				b[i] = ' '
			case rng.IntN(6) != 0:
				b[i] = '0' + byte(rng.IntN(10))
			default:
				b[i] = alphabet[rng.IntN(len(alphabet))]
			}
		}
		check(b)
	}
}

// TestKeyColumns pins the fast path's tables to smapsKeys and the kernel's line widths.
func TestKeyColumns(t *testing.T) {
	for i, k := range smapsKeys {
		if int(k.kind) != i {
			t.Fatalf("smapsKeys[%d] is kind %d: the index must be the kind", i, k.kind)
		}
	}
	for i := range keyColumns {
		var col [keyColumnLen]byte
		binary.LittleEndian.PutUint64(col[:], keyColumns[i][0])
		binary.LittleEndian.PutUint64(col[8:], keyColumns[i][1])
		if want := fmt.Sprintf("%-16s", smapsKeys[i].name+":"); string(col[:]) != want {
			t.Errorf("column %q, want %q", col, want)
		}
	}
	if got := fmt.Sprintf("%-16s%8d kB\n", "Rss:", 4); len(got) != sizeLineLen {
		t.Errorf("size line %q is %d bytes, want %d", got, len(got), sizeLineLen)
	}
}

// TestMappingsReader reads the recorded fixtures through a reader twice, reusing the result, and
// checks that it agrees with the one-shot readers, reuses its buffers and reports its costs.
func TestMappingsReader(t *testing.T) {
	for _, fx := range recordedFixtures {
		t.Run(fx.name, func(t *testing.T) {
			fs := New(smapsFixtureRoot(fx.name))
			if fx.name == "many" {
				// Stored gzipped; put the plain file under a temporary root.
				dir := t.TempDir()
				if err := os.MkdirAll(filepath.Join(dir, "proc", "self"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, "proc", "self", "smaps"), readSmapsFixture(t, fx.name), 0o644); err != nil {
					t.Fatal(err)
				}
				fs = New(dir)
			}
			want, err := fs.Smaps()
			if err != nil {
				t.Fatal(err)
			}
			r := fs.NewSmapsReader()
			first, err := r.Read(nil)
			if err != nil {
				t.Fatal(err)
			}
			st := r.Stats()
			if st.Bytes == 0 || st.Syscalls == 0 || st.ReadTime <= 0 || st.ParseTime <= 0 {
				t.Errorf("stats %+v", st)
			}
			if diff := cmp.Diff(want, first); diff != "" {
				t.Fatalf("reader differs from Smaps (-Smaps +reader):\n%s", diff)
			}
			snapshot := slices.Clone(first)
			again, err := r.Read(first)
			if err != nil {
				t.Fatal(err)
			}
			if len(again) > 0 && &again[0] != &first[0] {
				t.Errorf("second Read did not reuse dst")
			}
			if diff := cmp.Diff(snapshot, again); diff != "" {
				t.Errorf("second Read differs (-first +second):\n%s", diff)
			}
			if !raceEnabled {
				paths := 0
				for i := range again {
					if again[i].Path != "" && (i == 0 || again[i].Path != again[i-1].Path) {
						paths++
					}
				}
				// Opening the file costs a few objects (*os.File, its name); the buffers none.
				allocs := testing.AllocsPerRun(5, func() { r.Read(again) })
				if max := float64(paths + 6); allocs > max {
					t.Errorf("%v allocations per warm Read with %d path runs; budget %v", allocs, paths, max)
				}
			}

			if _, err := os.Stat(fs.ProcPath("maps")); err == nil {
				maps, err := fs.NewMapsReader().Read(nil)
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(headersOnly(want), maps); diff != "" {
					t.Errorf("NewMapsReader differs from smaps headers:\n%s", diff)
				}
			}
		})
	}
	t.Run("errors", func(t *testing.T) {
		_, err := New(smapsFixtureRoot("nonexistent")).NewSmapsReader().Read(nil)
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("got %v; want os.ErrNotExist", err)
		}
		fs := New(smapsFixtureRoot("garbled"))
		ms, err := fs.NewSmapsReader().Read(nil)
		var pe *ParseError
		if !errors.As(err, &pe) || pe.File != fs.ProcPath("smaps") || pe.Line != 60 || !IsPartial(err) || len(ms) == 0 {
			t.Errorf("got %d mappings, %v; want them with a *FieldErrors at %s:60", len(ms), err, fs.ProcPath("smaps"))
		}
	})
}
