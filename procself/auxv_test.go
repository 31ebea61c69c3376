package procself

import (
	"encoding/binary"
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// Fixture roots: proc/self links to the recorded process's pid directory (see testdata/README.md).
const (
	auxvGoStatic   = "testdata/auxv/go-static/proc/9269/auxv"   // a statically linked Go program
	auxvCatDynamic = "testdata/auxv/cat-dynamic/proc/9908/auxv" // /usr/bin/cat, a dynamic PIE
)

// auxvPairs encodes (type, value) pairs the way the kernel lays them out, for synthetic cases.
func auxvPairs(order binary.ByteOrder, wordSize int, kv ...uint64) []byte {
	var b []byte
	for _, v := range kv {
		w := make([]byte, wordSize)
		if wordSize == 4 {
			order.PutUint32(w, uint32(v))
		} else {
			order.PutUint64(w, v)
		}
		b = append(b, w...)
	}
	return b
}

// wantParseError fails unless err is a *ParseError naming file (when file is not empty) and line.
func wantParseError(t *testing.T, err error, file string, line int) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v (%T) is not a *ParseError", err, err)
	}
	if file != "" && pe.File != file {
		t.Errorf("ParseError.File = %q, want %q (error: %v)", pe.File, file, err)
	}
	if pe.Line != line {
		t.Errorf("ParseError.Line = %d, want %d (error: %v)", pe.Line, line, err)
	}
}

func TestParseAuxvRecorded(t *testing.T) {
	// Both processes ran on the same x86_64 VM: same hwcap, page size and vDSO layout; the Go binary
	// is static (no AT_BASE), cat is a PIE loaded by ld.so.
	common := func(a Auxv) Auxv {
		a.WordSizeBytes = 8
		a.PageSizeBytes = 4096
		a.ClockTicksPerSecond = 100
		a.HWCap = 0x1f8bfbff
		a.HWCap2 = 0x2
		a.PhentBytes = 56
		a.MinSigStkSzBytes = 0x2eb0
		return a
	}
	entries := func(ehdr, phdr, phnum, base, entry, random, execfn, platform uint64) []AuxvEntry {
		return []AuxvEntry{
			{0x21, "AT_SYSINFO_EHDR", ehdr}, {0x33, "AT_MINSIGSTKSZ", 0x2eb0}, {0x10, "AT_HWCAP", 0x1f8bfbff},
			{0x6, "AT_PAGESZ", 0x1000}, {0x11, "AT_CLKTCK", 0x64}, {0x3, "AT_PHDR", phdr},
			{0x4, "AT_PHENT", 0x38}, {0x5, "AT_PHNUM", phnum}, {0x7, "AT_BASE", base}, {0x8, "AT_FLAGS", 0},
			{0x9, "AT_ENTRY", entry}, {0xb, "AT_UID", 0}, {0xc, "AT_EUID", 0}, {0xd, "AT_GID", 0},
			{0xe, "AT_EGID", 0}, {0x17, "AT_SECURE", 0}, {0x19, "AT_RANDOM", random}, {0x1a, "AT_HWCAP2", 0x2},
			{0x1f, "AT_EXECFN", execfn}, {0xf, "AT_PLATFORM", platform},
			{0x1b, "AT_RSEQ_FEATURE_SIZE", 0x1c}, {0x1c, "AT_RSEQ_ALIGN", 0x20},
		}
	}
	tests := []struct {
		file string
		want Auxv
	}{
		{auxvGoStatic, common(Auxv{
			PlatformAddr: 0x7ffd64b33839, ExecFnAddr: 0x7ffd64b34ff2, RandomAddr: 0x7ffd64b33829,
			Entry: 0x480b20, Phdr: 0x400040, Phnum: 6, SysinfoEhdr: 0x7fea6091d000,
			Entries: entries(0x7fea6091d000, 0x400040, 6, 0, 0x480b20, 0x7ffd64b33829, 0x7ffd64b34ff2, 0x7ffd64b33839),
		})},
		{auxvCatDynamic, common(Auxv{
			PlatformAddr: 0x7fffbbe176f9, ExecFnAddr: 0x7fffbbe18feb, RandomAddr: 0x7fffbbe176e9,
			Entry: 0x55f6a8706130, Base: 0x7f2dc6a75000, Phdr: 0x55f6a8703040, Phnum: 13,
			SysinfoEhdr: 0x7f2dc6a73000,
			Entries: entries(0x7f2dc6a73000, 0x55f6a8703040, 13, 0x7f2dc6a75000, 0x55f6a8706130,
				0x7fffbbe176e9, 0x7fffbbe18feb, 0x7fffbbe176f9),
		})},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(tt.file)))), func(t *testing.T) {
			b, err := os.ReadFile(tt.file)
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseAuxv(b, binary.LittleEndian, 8)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("parseAuxv(%s) mismatch (-want +got):\n%s", tt.file, diff)
			}
		})
	}
}

func TestParseAuxvSynthetic(t *testing.T) {
	tests := []struct {
		name     string
		b        []byte
		order    binary.ByteOrder
		wordSize int
		want     Auxv
		wantErr  string // substring of the *ParseError message; empty for success
	}{
		{
			// arm64 has the amd64 layout (little-endian 8-byte words); 32-bit big-endian (e.g. mips,
			// ppc) exercises the other two parameters.
			name: "32-bit big-endian", order: binary.BigEndian, wordSize: 4,
			b: auxvPairs(binary.BigEndian, 4, atPagesz, 65536, atClkTck, 100, atSecure, 1, 99, 7, atNull, 0),
			want: Auxv{WordSizeBytes: 4, PageSizeBytes: 65536, ClockTicksPerSecond: 100, Secure: true,
				Entries: []AuxvEntry{{atPagesz, "AT_PAGESZ", 65536}, {atClkTck, "AT_CLKTCK", 100},
					{atSecure, "AT_SECURE", 1}, {99, "", 7}}},
		},
		{
			name: "only terminator", order: binary.LittleEndian, wordSize: 8,
			b: auxvPairs(binary.LittleEndian, 8, atNull, 0), want: Auxv{WordSizeBytes: 8},
		},
		{name: "empty", order: binary.LittleEndian, wordSize: 8, wantErr: "empty auxiliary vector"},
		{
			name: "odd length", order: binary.LittleEndian, wordSize: 8,
			b: auxvPairs(binary.LittleEndian, 8, atPagesz, 4096, atNull, 0)[:29], wantErr: "truncated",
		},
		{
			name: "no terminator", order: binary.LittleEndian, wordSize: 8,
			b: auxvPairs(binary.LittleEndian, 8, atPagesz, 4096, atClkTck, 100), wantErr: "no AT_NULL terminator",
		},
		{
			name: "data after terminator", order: binary.LittleEndian, wordSize: 8,
			b: auxvPairs(binary.LittleEndian, 8, atNull, 0, atPagesz, 4096), wantErr: "after the AT_NULL terminator",
		},
		{
			name: "bad word size", order: binary.LittleEndian, wordSize: 2,
			b: []byte{0, 0, 0, 0}, wantErr: "word size 2",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseAuxv(tt.b, tt.order, tt.wordSize)
			if tt.wantErr != "" {
				wantParseError(t, err, "", 0)
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %q does not say %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmpopts.EquateErrors()); diff != "" {
				t.Errorf("parseAuxv mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// TestAuxvTruncatedFixture checks that a cut-off file is reported with its path.
func TestAuxvTruncatedFixture(t *testing.T) {
	if !supported {
		t.Skip("no /proc")
	}
	root := "testdata/auxv/truncated"
	_, err := New(root).Auxv()
	wantParseError(t, err, filepath.Join(root, "proc/self/auxv"), 0)
}

// TestAuxvFixtureRoot reads through FS: a fixture root has no mem file, so the strings stay empty
// and StringsErr says why.
func TestAuxvFixtureRoot(t *testing.T) {
	if !supported {
		t.Skip("no /proc")
	}
	got, err := New("testdata/auxv/go-static").Auxv()
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(got.StringsErr, iofs.ErrNotExist) {
		t.Errorf("StringsErr = %v, want one wrapping fs.ErrNotExist (no mem file in a fixture)", got.StringsErr)
	}
	if got.Platform != "" || got.ExecFn != "" || got.PlatformAddr == 0 {
		t.Errorf("Platform %q ExecFn %q PlatformAddr %#x: want empty strings with the address kept",
			got.Platform, got.ExecFn, got.PlatformAddr)
	}
}

func TestAuxvSelf(t *testing.T) {
	if !supported {
		_, err := New("").Auxv()
		if !errors.Is(err, errUnsupported) {
			t.Fatalf("Auxv off Linux: %v, want errUnsupported", err)
		}
		return
	}
	a, err := New("").Auxv()
	if err != nil {
		t.Fatal(err)
	}
	if a.PageSizeBytes != uint64(os.Getpagesize()) {
		t.Errorf("PageSizeBytes = %d, os.Getpagesize() = %d", a.PageSizeBytes, os.Getpagesize())
	}
	if a.ClockTicksPerSecond != clockTicksPerSecond {
		t.Errorf("ClockTicksPerSecond = %d, want USER_HZ %d", a.ClockTicksPerSecond, clockTicksPerSecond)
	}
	if a.Entry == 0 || a.RandomAddr == 0 || a.Phdr == 0 || a.SysinfoEhdr == 0 {
		t.Errorf("zero address in %+v", a)
	}
	if a.StringsErr != nil {
		t.Fatalf("StringsErr = %v: the process can read its own mem file", a.StringsErr)
	}
	wantPlatform := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	if wantPlatform != "" && a.Platform != wantPlatform {
		t.Errorf("Platform = %q on %s, want %q", a.Platform, runtime.GOARCH, wantPlatform)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// AT_EXECFN is the path given to execve, which may be relative; its base name is the binary's.
	if filepath.Base(a.ExecFn) != filepath.Base(exe) {
		t.Errorf("ExecFn = %q, executable %q", a.ExecFn, exe)
	}
}

func FuzzParseAuxv(f *testing.F) {
	for _, file := range []string{auxvGoStatic, auxvCatDynamic, "testdata/auxv/truncated/proc/4242/auxv"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false, false)
	}
	f.Add(auxvPairs(binary.BigEndian, 4, atPagesz, 4096, atNull, 0), true, true)
	f.Fuzz(func(t *testing.T, b []byte, big, word4 bool) {
		var order binary.ByteOrder = binary.LittleEndian
		if big {
			order = binary.BigEndian
		}
		wordSize := 8
		if word4 {
			wordSize = 4
		}
		a, err := parseAuxv(b, order, wordSize)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			return
		}
		if len(b) != (len(a.Entries)+1)*2*wordSize {
			t.Fatalf("%d entries from %d bytes", len(a.Entries), len(b))
		}
	})
}
