package procself

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func rlimUnlimited(unit string) Limit {
	return Limit{SoftUnlimited: true, HardUnlimited: true, Unit: unit}
}

// smallLimits is testdata/proc-small/proc/4242/limits.
var smallLimits = Limits{
	CPUTime:          rlimUnlimited("seconds"),
	FileSize:         rlimUnlimited("bytes"),
	DataSize:         rlimUnlimited("bytes"),
	StackSize:        Limit{Soft: 8388608, HardUnlimited: true, Unit: "bytes"},
	CoreFileSize:     Limit{Soft: 0, HardUnlimited: true, Unit: "bytes"},
	ResidentSet:      rlimUnlimited("bytes"),
	Processes:        Limit{Soft: 96365, Hard: 96365, Unit: "processes"},
	OpenFiles:        Limit{Soft: 20000, Hard: 20000, Unit: "files"},
	LockedMemory:     Limit{Soft: 8388608, Hard: 8388608, Unit: "bytes"},
	AddressSpace:     rlimUnlimited("bytes"),
	FileLocks:        rlimUnlimited("locks"),
	PendingSignals:   Limit{Soft: 96365, Hard: 96365, Unit: "signals"},
	MsgqueueSize:     Limit{Soft: 819200, Hard: 819200, Unit: "bytes"},
	NicePriority:     Limit{},
	RealtimePriority: Limit{},
	RealtimeTimeout:  rlimUnlimited("us"),
}

func TestLimitsFixtures(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	for _, tc := range []struct {
		root, wantErr string
		want          Limits
	}{
		{root: "testdata/proc-small", want: smallLimits},
		{root: "testdata/proc-garbled", wantErr: `/proc/self/limits:9: Max open files: hard limit not a number or unlimited: "lots"`},
		{root: "testdata/proc-truncated", wantErr: "/proc/self/limits:8: Max processes: want soft, hard and unit columns, have 0"},
		{root: "testdata/proc-empty-files", wantErr: "/proc/self/limits: empty file"},
	} {
		t.Run(tc.root, func(t *testing.T) {
			got, err := New(tc.root).Limits()
			checkFixtureErr(t, tc.root, err, tc.wantErr)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Limits() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	small, err := os.ReadFile("testdata/proc-small/proc/4242/limits")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(small), "\n")
	for _, tc := range []struct{ name, in, wantErr string }{
		{name: "missing resource", in: strings.Join(append(lines[:9:9], lines[10:]...), ""), wantErr: `truncated: no "Max locked memory" line`},
		{name: "repeated resource", in: string(small) + lines[9], wantErr: ":18: Max locked memory: repeated"},
		{name: "bad header", in: "Lim\n", wantErr: ":1: not a limits file"},
		{name: "no columns", in: lines[0] + "Max cpu time\n", wantErr: ":2: no columns"},
		{name: "too many columns", in: lines[0] + "Max cpu time  1 2 s x\n", wantErr: ":2: Max cpu time: want soft, hard and unit columns, have 4"},
		{name: "negative soft", in: lines[0] + "Max cpu time  -1 2 s\n", wantErr: `:2: Max cpu time: soft limit not a number or unlimited: "-1"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseLimits([]byte(tc.in))
			var pe *ParseError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error = %v, want a *ParseError containing %q", err, tc.wantErr)
			}
		})
	}
	t.Run("unknown resource skipped", func(t *testing.T) {
		got, err := parseLimits([]byte(string(small) + "Max future thing          1                    2                    things    \n"))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(smallLimits, got); diff != "" {
			t.Errorf("mismatch (-want +got):\n%s", diff)
		}
	})
}

func FuzzParseLimits(f *testing.F) {
	if b, err := os.ReadFile("testdata/proc-small/proc/4242/limits"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("Limit  Soft Limit  Hard Limit  Units\nMax cpu time  unlimited  unlimited  seconds\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := parseLimits(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		for i := range limitNames {
			if lim := l.byIndex(i); (lim.SoftUnlimited && lim.Soft != 0) || (lim.HardUnlimited && lim.Hard != 0) {
				t.Fatalf("%s: unlimited with a number: %+v", limitNames[i], lim)
			}
		}
	})
}
