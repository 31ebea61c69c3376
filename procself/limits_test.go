package procself

import (
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
		fields        []string
	}{
		{root: "testdata/proc-small", want: smallLimits},
		{
			root: "testdata/proc-garbled", want: func() Limits { l := smallLimits; l.OpenFiles = Limit{}; return l }(),
			wantErr: `/proc/self/limits: 1 unread field: Max open files (line 9): hard limit not a number or unlimited: "lots"`, fields: []string{"Max open files"},
		},
		{root: "testdata/proc-truncated", wantErr: `/proc/self/limits:8: truncated: no "Max open files" line`},
		{root: "testdata/proc-empty-files", wantErr: "/proc/self/limits: empty file"},
	} {
		t.Run(tc.root, func(t *testing.T) {
			got, err := New(tc.root).Limits()
			checkFixtureErr(t, tc.root, err, tc.wantErr, tc.fields...)
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
	without := func(f func(*Limits)) Limits { l := smallLimits; f(&l); return l }
	for _, tc := range []struct {
		name, in, wantErr string
		want              Limits
		fields            []string // a *FieldErrors naming these rows, with want kept
	}{
		{name: "missing resource", in: strings.Join(append(lines[:9:9], lines[10:]...), ""), wantErr: `truncated: no "Max locked memory" line`},
		{name: "bad header", in: "Lim\n", wantErr: ":1: not a limits file"},
		{name: "no columns", in: lines[0] + "Max cpu time\n", wantErr: ":2: no columns"},
		{name: "repeated resource", in: string(small) + lines[9], want: smallLimits, wantErr: "Max locked memory (line 18): repeated", fields: []string{"Max locked memory"}},
		{
			name: "too many columns", in: lines[0] + "Max cpu time              1 2 s x\n" + strings.Join(lines[2:], ""),
			want: without(func(l *Limits) { l.CPUTime = Limit{} }), wantErr: "Max cpu time (line 2): want soft, hard and unit columns, have 4", fields: []string{"Max cpu time"},
		},
		{
			name: "negative soft and a bad hard", in: lines[0] + "Max cpu time              -1 2 s\n" + strings.Join(lines[2:8], "") + "Max open files            20000                20000x               files\n" + strings.Join(lines[9:], ""),
			want: without(func(l *Limits) { l.CPUTime, l.OpenFiles = Limit{}, Limit{} }), wantErr: `soft limit not a number or unlimited: "-1"`, fields: []string{"Max cpu time", "Max open files"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseLimits([]byte(tc.in))
			checkParsed(t, got, err, tc.want, tc.wantErr, tc.fields...)
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
			checkFuzzErr(t, err)
			if !IsPartial(err) {
				if l != (Limits{}) {
					t.Fatalf("whole-file error %v with a non-zero value", err)
				}
				return
			}
		}
		for i := range limitNames {
			if lim := l.byIndex(i); (lim.SoftUnlimited && lim.Soft != 0) || (lim.HardUnlimited && lim.Hard != 0) {
				t.Fatalf("%s: unlimited with a number: %+v", limitNames[i], lim)
			}
		}
	})
}
