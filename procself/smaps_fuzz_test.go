package procself

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fuzzSeedLimit keeps seeds small: the fuzzer mutates small inputs far better than megabytes, and
// minimizing each new interesting input (up to a minute, during which nothing else runs) is quick.
const fuzzSeedLimit = 4 << 10

// smapsSeeds are the recorded fixtures (cut at a line boundary near fuzzSeedLimit), the synthetic
// example and one instance of each error.
func smapsSeeds(f *testing.F) [][]byte {
	var seeds [][]byte
	for _, fx := range recordedFixtures {
		b := readSmapsFixture(f, fx.name)
		if len(b) > fuzzSeedLimit {
			b = b[:bytes.LastIndexByte(b[:fuzzSeedLimit], '\n')+1]
		}
		seeds = append(seeds, b)
	}
	seeds = append(seeds,
		[]byte(kernelDocExample),
		[]byte{},
		[]byte("Size: 4 kB\n"),
		[]byte("2000-1000 rw-p 00000000 00:00 0 \nSize: 4 kB\n"),
		[]byte("1000-2000 rw-p 00000000 00:00 0 \nRss: 18014398509481984 kB\n"),
		[]byte("1000-2000 rw-p 00000000 00:00 0 \n1000-2000 rw-p 00000000 00:00 0 \n"),
	)
	return seeds
}

// FuzzParseSmaps: adversarial bytes must never panic; rejected input gives a *ParseError naming a
// line of the input; accepted input satisfies what the parser itself promises (End > Start, sizes
// whole kB) and its headers survive a format-and-reparse round trip. Kernel invariants such as
// Rss <= Size are not asserted: random input need not obey them.
func FuzzParseSmaps(f *testing.F) {
	for _, s := range smapsSeeds(f) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := parseSmaps(b)
		lines := bytes.Count(b, []byte{'\n'}) + 1
		if err != nil {
			checkFuzzErr(t, err)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			if pe.Line < 1 || pe.Line > lines {
				t.Fatalf("error names line %d of %d: %v", pe.Line, lines, err)
			}
			if !IsPartial(err) {
				if ms != nil {
					t.Fatal("mappings returned with a whole-file error")
				}
				return
			}
		}
		if len(ms) > lines {
			t.Fatalf("%d mappings from %d lines", len(ms), lines)
		}
		for _, m := range ms {
			if m.End <= m.Start {
				t.Fatalf("accepted end %#x <= start %#x", m.End, m.Start)
			}
			for _, v := range []uint64{m.SizeBytes, m.RssBytes, m.PssBytes, m.SwapBytes, m.LockedBytes} {
				if v%1024 != 0 {
					t.Fatalf("size %d is not whole kB", v)
				}
			}
		}
		checkHeaderRoundTrip(t, ms)
	})
}

// FuzzParseMaps fuzzes the header parser alone, through maps (every line a header).
func FuzzParseMaps(f *testing.F) {
	for _, fx := range recordedFixtures {
		b, err := New(smapsFixtureRoot(fx.name)).Maps()
		if err != nil {
			f.Fatal(err)
		}
		for _, m := range b[:min(len(b), 40)] {
			f.Add([]byte(formatHeader(m)))
		}
	}
	f.Add([]byte("1000-2000 ---p 00000000 103:a0001 18446744073709551615 /x\\012y (deleted)\n"))
	f.Add([]byte("7f0000000000-7f0000001000 rw-p 00000000 00:00 0"))
	f.Add([]byte("10000000000000000-20000000000000000 rw-p 0 0:0 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ms, err := parseMaps(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || pe.Line < 1 {
				t.Fatalf("error %v is not a *ParseError with a line", err)
			}
			return
		}
		for _, m := range ms {
			if m.End <= m.Start {
				t.Fatalf("accepted end %#x <= start %#x", m.End, m.Start)
			}
			if m.SizeBytes != 0 || m.VmFlags != 0 {
				t.Fatal("maps produced smaps fields")
			}
		}
		checkHeaderRoundTrip(t, ms)
	})
}

// formatHeader prints a mapping's header the way the kernel does (show_vma_header_prefix).
func formatHeader(m Mapping) string {
	s := fmt.Sprintf("%08x-%08x %s %08x %02x:%02x %d ", m.Start, m.End, m.Perms, m.Offset, m.Dev.Major, m.Dev.Minor, m.Inode)
	if m.Path != "" {
		s += fmt.Sprintf("%*s", 73-len(s), "") + m.Path
	}
	return s
}

// checkHeaderRoundTrip formats each accepted header as the kernel would and parses it back: the
// parser must read exactly what it was given, whatever odd spellings it accepted on the way in.
func checkHeaderRoundTrip(t *testing.T, ms []Mapping) {
	t.Helper()
	if len(ms) == 0 {
		return
	}
	var buf bytes.Buffer
	for _, m := range ms {
		buf.WriteString(formatHeader(m))
		buf.WriteByte('\n')
	}
	back, err := parseMaps(buf.Bytes())
	if err != nil {
		t.Fatalf("reformatted headers do not parse: %v\n%s", err, buf.Bytes())
	}
	// == on the slices first: cmp.Diff is slow enough to dominate a fuzz execution.
	if want := headersOnly(ms); !slices.Equal(want, back) {
		diff := cmp.Diff(want, back)
		t.Fatalf("header round trip (-parsed +reparsed):\n%s", diff)
	}
}

// FuzzParseSmapsFastPath: the fixed-width fast path and the general path must agree on every input,
// mappings and errors alike. The fast path only skips work the general path would do; it must never
// accept, reject or read anything differently.
func FuzzParseSmapsFastPath(f *testing.F) {
	for _, s := range smapsSeeds(f) {
		f.Add(s)
	}
	for _, s := range fastPathEdgeCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkFastMatchesGeneral(t, b)
	})
}

// fastPathEdgeCases are entries whose lines are near misses of the fixed-width layout.
var fastPathEdgeCases = []string{
	// A value of 10^8 kB widens the line past its column.
	"1000-2000 rw-p 00000000 00:00 0 \nSize:           100000000 kB\nRss:            99999999 kB\nVmFlags: rd \n",
	// All spaces, a digit between spaces, a sign, a hex digit in the number.
	"1000-2000 rw-p 00000000 00:00 0 \nSize:                    kB\nRss:              1 2 kB\nPss:            -      1 kB\nSwap:           0000000a kB\n",
	// Keys out of order, repeated, unknown, lowercase; a tab in the padding; THPeligible widened.
	"1000-2000 rw-p 00000000 00:00 0 \nRss:                   8 kB\nSize:                  4 kB\nRss:                  12 kB\nrss:                   4 kB\nPss:\t                  4 kB\nNew_Key:               1 kB\nTHPeligible:    123456789\nProtectionKey:         7\nVmFlags: rd wr zz \n",
	// VmFlags without the trailing space, with odd tokens, and empty. The fast path expects a key
	// only once an earlier entry has shown what follows what, so each case follows a first entry.
	"1000-2000 rw-p 00000000 00:00 0 \nSize:                  4 kB\nVmFlags: rd \n" +
		"2000-3000 rw-p 00000000 00:00 0 \nSize:                  4 kB\nVmFlags: rd wr\n" +
		"3000-4000 rw-p 00000000 00:00 0 \nSize:                  4 kB\nVmFlags: rd x\n" +
		"4000-5000 rw-p 00000000 00:00 0 \nSize:                  4 kB\nVmFlags: rd wrx \n" +
		"5000-6000 rw-p 00000000 00:00 0 \nSize:                  4 kB\nVmFlags: \n" +
		"6000-7000 rw-p 00000000 00:00 0 \nSize:                  4 kB\nVmFlags: zz \n",
	// A short line of the right key, and a line that ends the file without a newline.
	"1000-2000 rw-p 00000000 00:00 0 \nSize:      4 kB\nRss:                   4 kB",
}

// checkFastMatchesGeneral parses b as smaps with and without the fast path and fails on any
// difference in the mappings or the error.
func checkFastMatchesGeneral(t *testing.T, b []byte) {
	t.Helper()
	fast, errFast := parseMappingsInto(nil, b, true, true)
	general, errGeneral := parseMappingsInto(nil, b, true, false)
	if (errFast == nil) != (errGeneral == nil) {
		t.Fatalf("fast path error %v, general path error %v", errFast, errGeneral)
	}
	if errFast != nil {
		var pf, pg *ParseError
		if !errors.As(errFast, &pf) || !errors.As(errGeneral, &pg) || *pf != *pg {
			t.Fatalf("fast path error %#v, general path error %#v", errFast, errGeneral)
		}
	}
	if !slices.Equal(fast, general) {
		t.Fatalf("fast and general paths differ (-fast +general):\n%s", cmp.Diff(fast, general))
	}
}
