package procself

import (
	"errors"
	iofs "io/fs"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/procfs"
)

const testPageSize = 4096

// smallStatm is testdata/proc-small/proc/4242/statm ("306792 8819 386 159 0 18411 0") in bytes; the
// status recorded with it agrees: VmSize 1227168 kB, VmRSS 35276 kB, RssFile 1544 kB, VmExe 636 kB,
// VmData + VmStk 73644 kB.
var smallStatm = Statm{
	SizeBytes:     306792 * testPageSize,
	ResidentBytes: 8819 * testPageSize,
	SharedBytes:   386 * testPageSize,
	TextBytes:     159 * testPageSize,
	DataBytes:     18411 * testPageSize,
}

func TestParseStatm(t *testing.T) {
	for _, tc := range []struct {
		name    string
		in      string
		want    Statm
		wantErr string   // substring of the error; "" for success
		fields  []string // a *FieldErrors naming these, with want kept
	}{
		{name: "recorded", in: "306792 8819 386 159 0 18411 0\n", want: smallStatm},
		{name: "no newline", in: "306792 8819 386 159 0 18411 0", want: smallStatm},
		{name: "lib and dt ignored", in: "1 1 1 1 7 1 9\n", want: Statm{4096, 4096, 4096, 4096, 4096}},
		{name: "empty", in: "", wantErr: "empty file"},
		{name: "only newline", in: "\n", wantErr: "truncated: 1 of 7 fields"},
		{name: "truncated", in: "306792 8819 38", wantErr: "truncated: 3 of 7 fields"},
		{name: "extra field", in: "1 2 3 4 5 6 7 8\n", wantErr: "unexpected text after 7 fields"},
		{name: "double space", in: "306792  8819 386 159 0 18411 0\n", wantErr: "unexpected text after 7 fields"},
		{name: "two newlines", in: "1 2 3 4 5 6 7\n\n", wantErr: "more than one line"},
		// A column that cannot be read is that column's error; the others are kept.
		{name: "hex", in: "306792 8819 0x386 159 0 18411 0\n", want: func() Statm { s := smallStatm; s.SharedBytes = 0; return s }(), wantErr: `shared (line 1): not a decimal number: "0x386"`, fields: []string{"shared"}},
		{name: "negative", in: "-1 8819 386 159 0 18411 0\n", want: func() Statm { s := smallStatm; s.SizeBytes = 0; return s }(), wantErr: "size (line 1)", fields: []string{"size"}},
		{name: "empty column", in: "306792  386 159 0 18411 0\n", want: Statm{SizeBytes: 306792 * testPageSize, SharedBytes: 386 * testPageSize, TextBytes: 159 * testPageSize, DataBytes: 18411 * testPageSize}, wantErr: "resident (line 1): empty", fields: []string{"resident"}},
		{name: "number overflow", in: "18446744073709551616 1 1 1 0 1 0\n", want: Statm{0, 4096, 4096, 4096, 4096}, wantErr: "size (line 1): not a decimal number", fields: []string{"size"}},
		{name: "bytes overflow", in: "18446744073709551615 1 1 1 0 1 0\n", want: Statm{0, 4096, 4096, 4096, 4096}, wantErr: "overflow 64 bits", fields: []string{"size"}},
		// procfs's fixture 26231/statm: shared = 2^64-1 pages.
		{name: "procfs 26231", in: "149919 12547 18446744073709551615 19864 0 14531 0\n", want: Statm{SizeBytes: 149919 * testPageSize, ResidentBytes: 12547 * testPageSize, TextBytes: 19864 * testPageSize, DataBytes: 14531 * testPageSize}, wantErr: "shared (line 1): 18446744073709551615 pages overflow", fields: []string{"shared"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatm([]byte(tc.in), testPageSize)
			checkParsed(t, got, err, tc.want, tc.wantErr, tc.fields...)
		})
	}
}

func TestStatmFixtures(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	if os.Getpagesize() != testPageSize {
		t.Skipf("fixtures were recorded with %d-byte pages; this system has %d", testPageSize, os.Getpagesize())
	}
	for _, tc := range []struct {
		root    string
		want    Statm
		wantErr string // the whole error text, with the root prefix removed
		fields  []string
	}{
		{root: "testdata/proc-small", want: smallStatm},
		{
			root: "testdata/proc-garbled", want: func() Statm { s := smallStatm; s.SharedBytes = 0; return s }(),
			wantErr: `/proc/self/statm: 1 unread field: shared (line 1): not a decimal number: "0x386"`, fields: []string{"shared"},
		},
		{root: "testdata/proc-truncated", wantErr: "/proc/self/statm:1: truncated: 3 of 7 fields"},
		{root: "testdata/proc-empty-files", wantErr: "/proc/self/statm: empty file"},
	} {
		t.Run(tc.root, func(t *testing.T) {
			fs := New(tc.root)
			oneShot, err := fs.Statm()
			r, oerr := fs.NewStatmReader()
			if oerr != nil {
				t.Fatal(oerr)
			}
			defer r.Close()
			kept, kerr := r.Read()
			for _, e := range []error{err, kerr} {
				if tc.wantErr == "" {
					if e != nil {
						t.Fatal(e)
					}
					continue
				}
				checkFixtureErr(t, tc.root, e, tc.wantErr, tc.fields...)
			}
			if diff := cmp.Diff(tc.want, oneShot); diff != "" {
				t.Errorf("Statm() mismatch (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tc.want, kept); diff != "" {
				t.Errorf("StatmReader.Read() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestStatmReaderClose(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	r, err := New("testdata/proc-small").NewStatmReader()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if _, err := r.Read(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Read after Close = %v, want os.ErrClosed", err)
	}
}

// TestStatmReaderConcurrent is for -race: Read from several goroutines and a Close racing them.
func TestStatmReaderConcurrent(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	r, err := New("").NewStatmReader()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 100 {
				if _, err := r.Read(); err != nil && !errors.Is(err, os.ErrClosed) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Go(func() { r.Close() })
	wg.Wait()
}

func TestStatmReaderAllocs(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	r, err := New("").NewStatmReader()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if _, err := r.Read(); err != nil { // warm up
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() {
		if _, err := r.Read(); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Errorf("StatmReader.Read allocates %v times per call, want 0", n)
	}
	b := []byte("306792 8819 386 159 0 18411 0\n")
	if n := testing.AllocsPerRun(100, func() { _, _ = parseStatm(b, testPageSize) }); n != 0 {
		t.Errorf("parseStatm allocates %v times per call, want 0", n)
	}
}

// TestMissingRoot: a root with no /proc gives, from every reader, an error that names the missing path
// and wraps fs.ErrNotExist.
func TestMissingRoot(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	fs := New("testdata/proc-missing")
	for name, read := range map[string]func() error{
		"Statm":          func() error { _, err := fs.Statm(); return err },
		"NewStatmReader": func() error { _, err := fs.NewStatmReader(); return err },
		"Status":         func() error { _, err := fs.Status(); return err },
		"Stat":           func() error { _, err := fs.Stat(); return err },
		"Limits":         func() error { _, err := fs.Limits(); return err },
		"SmapsRollup":    func() error { _, err := fs.SmapsRollup(); return err },
		"FDs":            func() error { _, err := fs.FDs(0); return err },
		"Identity":       func() error { _, err := fs.Identity(); return err },
		"Cmdline":        func() error { _, err := fs.Cmdline(); return err },
		"Comm":           func() error { _, err := fs.Comm(); return err },
		"Cwd":            func() error { _, err := fs.Cwd(); return err },
		"Exe":            func() error { _, _, err := fs.Exe(); return err },
		"ProcessRoot":    func() error { _, err := fs.ProcessRoot(); return err },
		"Wchan":          func() error { _, err := fs.Wchan(); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := read()
			if !errors.Is(err, iofs.ErrNotExist) {
				t.Fatalf("error = %v, want one wrapping fs.ErrNotExist", err)
			}
			if !strings.Contains(err.Error(), "testdata/proc-missing/proc") {
				t.Errorf("error %q does not name the missing path", err)
			}
		})
	}
}

// TestUnsupported: off Linux every reader fails with errUnsupported.
func TestUnsupported(t *testing.T) {
	if supported {
		t.Skip("/proc is supported here")
	}
	fs := New("")
	for name, read := range map[string]func() error{
		"Statm":       func() error { _, err := fs.Statm(); return err },
		"Status":      func() error { _, err := fs.Status(); return err },
		"Stat":        func() error { _, err := fs.Stat(); return err },
		"Limits":      func() error { _, err := fs.Limits(); return err },
		"SmapsRollup": func() error { _, err := fs.SmapsRollup(); return err },
		"FDs":         func() error { _, err := fs.FDs(0); return err },
		"Identity":    func() error { _, err := fs.Identity(); return err },
	} {
		if err := read(); !errors.Is(err, errors.ErrUnsupported) {
			t.Errorf("%s error = %v, want errors.ErrUnsupported", name, err)
		}
	}
}

// TestRealProcSelf checks the readers against each other and the runtime on the live /proc/self.
func TestRealProcSelf(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	fs := New("")
	statm, err := fs.Statm()
	if err != nil {
		t.Fatal(err)
	}
	status, err := fs.Status()
	if err != nil {
		t.Fatal(err)
	}
	if statm.ResidentBytes == 0 {
		t.Error("statm resident is 0")
	}
	if d := float64(statm.ResidentBytes) - float64(status.VmRSSBytes); d > 0.1*float64(status.VmRSSBytes) || -d > 0.1*float64(status.VmRSSBytes) {
		t.Errorf("statm resident %d and status VmRSS %d differ by more than 10%%", statm.ResidentBytes, status.VmRSSBytes)
	}
	if status.PID != os.Getpid() || status.Threads < 1 {
		t.Errorf("status PID %d Threads %d, want PID %d and at least one thread", status.PID, status.Threads, os.Getpid())
	}

	stat, err := fs.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if stat.PID != os.Getpid() || stat.PPID != os.Getppid() || stat.RSSBytes == 0 || stat.VSizeBytes < stat.RSSBytes {
		t.Errorf("stat = %+v, want this process with nonzero RSS within its virtual size", stat)
	}

	exe, deleted, err := fs.Exe()
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := os.Executable(); exe != want || deleted {
		t.Errorf("Exe() = %q, deleted %v; want %q", exe, deleted, want)
	}
	if cwd, _ := os.Getwd(); mustString(t)(fs.Cwd()) != cwd {
		t.Errorf("Cwd() differs from os.Getwd() %q", cwd)
	}
	id, err := fs.Identity()
	if err != nil {
		t.Fatal(err)
	}
	if len(id.Cmdline) != len(os.Args) || id.Cmdline[0] != os.Args[0] {
		t.Errorf("Cmdline has %d arguments starting %q, want os.Args (%d starting %q)", len(id.Cmdline), id.Cmdline[0], len(os.Args), os.Args[0])
	}

	fds, err := fs.FDs(0)
	if err != nil {
		t.Fatal(err)
	}
	if fds.Count < 3 || len(fds.Targets) < 3 {
		t.Errorf("FDs count %d with %d targets, want at least stdin, stdout and stderr", fds.Count, len(fds.Targets))
	}

	limits, err := fs.Limits()
	if err != nil {
		t.Fatal(err)
	}
	nofile := limits.OpenFiles
	if nofile.SoftUnlimited || (!nofile.HardUnlimited && nofile.Soft > nofile.Hard) || nofile.Unit != "files" {
		t.Errorf("NOFILE limit %+v, want soft <= hard in files", nofile)
	}

	rollup, err := fs.SmapsRollup()
	if err != nil {
		t.Fatal(err)
	}
	if rollup.RssBytes == 0 || rollup.PssBytes > rollup.RssBytes {
		t.Errorf("smaps_rollup Rss %d Pss %d, want 0 < Pss <= Rss", rollup.RssBytes, rollup.PssBytes)
	}
}

func mustString(t *testing.T) func(string, error) string {
	return func(s string, err error) string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func FuzzParseStatm(f *testing.F) {
	for _, s := range []string{
		"306792 8819 386 159 0 18411 0\n",
		"306792 8819 38",
		"",
		"18446744073709551615 1 1 1 0 1 0\n",
		"1 2 3 4 5 6 7 8\n",
		"0 0 0 0 0 0 0",
	} {
		f.Add([]byte(s))
	}
	f.Add([]byte("149919 12547 18446744073709551615 19864 0 14531 0\n"))
	f.Add([]byte("1 x 3 4 5 6 7\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := parseStatm(b, testPageSize)
		want, bad, ok := referenceStatm(string(b))
		if !ok {
			if err == nil || IsPartial(err) {
				t.Fatalf("parseStatm(%q) error = %v; the reference parser says the line is not a statm line", b, err)
			}
			checkFuzzErr(t, err)
			if got != (Statm{}) {
				t.Fatalf("parseStatm(%q) = %+v with a whole-file error", b, got)
			}
			return
		}
		if len(bad) == 0 && err != nil {
			t.Fatalf("parseStatm(%q) error = %v; the reference parser read every column", b, err)
		}
		if len(bad) > 0 {
			var fe *FieldErrors
			if !errors.As(err, &fe) || !slices.Equal(fe.Fields(), bad) {
				t.Fatalf("parseStatm(%q) error = %v; the reference parser could not read %q", b, err, bad)
			}
			checkFuzzErr(t, err)
		}
		if got != want {
			t.Fatalf("parseStatm(%q) = %+v, reference %+v", b, got, want)
		}
	})
}

// referenceStatm is a slow, obviously correct statm parser to check parseStatm against: ok is
// false when the text is not seven space-separated columns on one line; bad names the columns that
// are not decimal page counts whose bytes fit 64 bits (zero in the result).
func referenceStatm(s string) (st Statm, bad []string, ok bool) {
	s = strings.TrimSuffix(s, "\n")
	fields := strings.Split(s, " ")
	if s == "" || len(fields) != 7 || strings.Contains(s, "\n") {
		return Statm{}, nil, false
	}
	var v [7]uint64
	for i, f := range fields {
		n, err := strconv.ParseUint(f, 10, 64)
		if f == "" || strings.TrimLeft(f, "0123456789") != "" || err != nil || n > (1<<64-1)/testPageSize {
			bad = append(bad, statmFieldNames[i])
			continue
		}
		v[i] = n * testPageSize
	}
	return Statm{v[0], v[1], v[2], v[3], v[5]}, bad, true
}

// The three benchmarks compare the reads the Monitor could make every tick:
//
//	go test -run='^$' -bench='Statm' -benchtime=2s ./procself/
func BenchmarkStatmReaderRead(b *testing.B) {
	r, err := New("").NewStatmReader()
	if err != nil {
		b.Skip(err)
	}
	defer r.Close()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Read(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkStatmOneShot(b *testing.B) {
	fs := New("")
	if !supported {
		b.Skip(errUnsupported)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := fs.Statm(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProcfsStatm(b *testing.B) {
	p, err := procfs.Self()
	if err != nil {
		b.Skip(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Statm(); err != nil {
			b.Fatal(err)
		}
	}
}
