package procself

import (
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestLatencyFixtures(t *testing.T) {
	if !supported {
		t.Skip("no /proc")
	}
	// The kernel that recorded the other fixtures has no CONFIG_LATENCYTOP, so these are written in
	// the format of kernel/latencytop.c lstats_show_proc (see testdata/README.md).
	tests := []struct {
		root     string
		want     Latency
		wantLine int // the *ParseError's line when the file is malformed; 0 for success
	}{
		{root: "disabled", want: Latency{Version: "v0.1"}},
		{root: "records", want: Latency{Version: "v0.1", Records: []LatencyRecord{
			{Count: 12, Total: 153043 * time.Microsecond, Max: 50012 * time.Microsecond, Backtrace: []string{
				"futex_wait_queue", "futex_wait", "do_futex", "__x64_sys_futex", "do_syscall_64",
				"entry_SYSCALL_64_after_hwframe"}},
			{Count: 3, Total: 4021 * time.Microsecond, Max: 2010 * time.Microsecond, Backtrace: []string{
				"hrtimer_nanosleep", "common_nsleep", "__x64_sys_clock_nanosleep", "do_syscall_64",
				"entry_SYSCALL_64_after_hwframe"}},
		}}},
		{root: "garbled-empty", wantLine: 1},
		{root: "garbled-count", wantLine: 3},
		{root: "garbled-short", wantLine: 2},
		{root: "garbled-blank-line", wantLine: 2},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			root := filepath.Join("testdata/latency", tt.root)
			got, err := New(root).Latency()
			if tt.wantLine != 0 {
				wantParseError(t, err, filepath.Join(root, "proc/self/latency"), tt.wantLine)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Latency() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLatencyAbsent(t *testing.T) {
	if !supported {
		t.Skip("no /proc")
	}
	t.Run("kernel without CONFIG_LATENCYTOP", func(t *testing.T) {
		_, err := New("testdata/latency/absent").Latency()
		if !errors.Is(err, ErrAbsent) || !errors.Is(err, iofs.ErrNotExist) {
			t.Fatalf("error %v, want ErrAbsent and fs.ErrNotExist", err)
		}
	})
	t.Run("process gone", func(t *testing.T) {
		_, err := ForPID("testdata/latency/absent", 99999).Latency()
		if errors.Is(err, ErrAbsent) || !errors.Is(err, iofs.ErrNotExist) {
			t.Fatalf("error %v, want fs.ErrNotExist without ErrAbsent", err)
		}
	})
}

// TestLatencySelf accepts both kernels: without CONFIG_LATENCYTOP (most, including the one these
// tests were written on) the error must say so; with it the file must parse.
func TestLatencySelf(t *testing.T) {
	l, err := New("").Latency()
	switch {
	case !supported:
		if !errors.Is(err, errUnsupported) {
			t.Fatalf("Latency off Linux: %v, want errUnsupported", err)
		}
	case errors.Is(err, ErrAbsent):
		t.Logf("this kernel has no latency file: %v", err)
	case err != nil:
		t.Fatal(err)
	default:
		t.Logf("latency: version %s, %d records", l.Version, len(l.Records))
	}
}

func FuzzParseLatency(f *testing.F) {
	roots, err := os.ReadDir("testdata/latency")
	if err != nil {
		f.Fatal(err)
	}
	for _, r := range roots {
		b, err := os.ReadFile(filepath.Join("testdata/latency", r.Name(), "proc/4242/latency"))
		if errors.Is(err, iofs.ErrNotExist) {
			continue
		}
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseLatency(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			return
		}
		for _, r := range l.Records {
			if r.Count < 0 || r.Total < 0 || r.Max < 0 || len(r.Backtrace) == 0 {
				t.Fatalf("bad record %+v", r)
			}
		}
	})
}
