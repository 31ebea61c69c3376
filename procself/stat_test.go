package procself

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// smallStat is testdata/proc-small/proc/4242/stat, numbered as in proc_pid_stat(5).
var smallStat = Stat{
	PID: 7974, Comm: "rec", State: "S", PPID: 1, PGRP: 7971, Session: 5602, TTY: 0, TPGID: -1,
	Flags: 4194304, MinorFaults: 8604,
	STimeTicks: 1, STime: 10 * time.Millisecond,
	Priority: 20, NumThreads: 5,
	StartTimeTicks: 45315, StartTime: 453150 * time.Millisecond,
	VSizeBytes: 1256620032, RSSBytes: 8802 * testPageSize, RSSLimitUnlimited: true,
	StartCode: 4194304, EndCode: 4845553, StartStack: 140726463299200,
	StartData: 5742592, EndData: 5785568, StartBrk: 123228160,
	Processor: 1,
}

func TestStatFixtures(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	if os.Getpagesize() != testPageSize {
		t.Skipf("fixtures were recorded with %d-byte pages", testPageSize)
	}
	for _, tc := range []struct {
		root, wantErr string
		want          Stat
	}{
		{root: "testdata/proc-small", want: smallStat},
		{root: "testdata/proc-garbled", wantErr: `/proc/self/stat:1: field 10: not a decimal number: "-8604"`},
		{root: "testdata/proc-truncated", wantErr: "/proc/self/stat:1: truncated: 3 fields, want at least 44"},
		{root: "testdata/proc-empty-files", wantErr: "/proc/self/stat: empty file"},
	} {
		t.Run(tc.root, func(t *testing.T) {
			got, err := New(tc.root).Stat()
			checkFixtureErr(t, tc.root, err, tc.wantErr)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Stat() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	tail := " S 1 2 3 0 -1 0 10 11 12 13 100 200 0 0 20 0 1 0 5 4096 3 1048576 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 7 0 0"
	for _, tc := range []struct {
		name, in, wantErr string
		want              Stat
	}{
		{name: "parentheses and spaces in comm", in: "42 (a) (b c)" + tail + "\n", want: Stat{
			PID: 42, Comm: "a) (b c", State: "S", PPID: 1, PGRP: 2, Session: 3, TPGID: -1,
			MinorFaults: 10, MinorFaultsChildren: 11, MajorFaults: 12, MajorFaultsChildren: 13,
			UTimeTicks: 100, STimeTicks: 200, UTime: time.Second, STime: 2 * time.Second,
			Priority: 20, NumThreads: 1, StartTimeTicks: 5, StartTime: 50 * time.Millisecond,
			VSizeBytes: 4096, RSSBytes: 3 * testPageSize, RSSLimitBytes: 1048576,
			DelayAcctBlkIOTicks: 7, DelayAcctBlkIO: 70 * time.Millisecond,
		}},
		{name: "cut after comm", in: "42 (x)", wantErr: "truncated after the command name"},
		{name: "no comm", in: "42 x S 1", wantErr: "no command name"},
		{name: "reversed parentheses", in: "42 )x( S", wantErr: "no command name"},
		{name: "two-letter state", in: "42 (x) SS" + tail[2:], wantErr: "field 3 (state)"},
		{name: "huge ticks saturate", in: "42 (x)" + strings.Replace(tail, " 100 200 ", " 18446744073709551615 200 ", 1), want: Stat{
			PID: 42, Comm: "x", State: "S", PPID: 1, PGRP: 2, Session: 3, TPGID: -1,
			MinorFaults: 10, MinorFaultsChildren: 11, MajorFaults: 12, MajorFaultsChildren: 13,
			UTimeTicks: 1<<64 - 1, STimeTicks: 200, UTime: 1<<63 - 1, STime: 2 * time.Second,
			Priority: 20, NumThreads: 1, StartTimeTicks: 5, StartTime: 50 * time.Millisecond,
			VSizeBytes: 4096, RSSBytes: 3 * testPageSize, RSSLimitBytes: 1048576,
			DelayAcctBlkIOTicks: 7, DelayAcctBlkIO: 70 * time.Millisecond,
		}},
		{name: "empty", in: "", wantErr: "empty file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.in), testPageSize)
			checkParsed(t, got, err, tc.want, tc.wantErr)
		})
	}
}

func FuzzParseStat(f *testing.F) {
	if b, err := os.ReadFile("testdata/proc-small/proc/4242/stat"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("1 (x)"))
	f.Add([]byte("1 ) (x"))
	f.Add([]byte("42 (a) (b c) S 1 2 3 0 -1 0 10 11 12 13 100 200 0 0 20 0 1 0 5 4096 3 1048576 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 7 0 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseStat(b, testPageSize)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			return
		}
		if s.RSSBytes%testPageSize != 0 || s.UTime < 0 || s.StartTime < 0 {
			t.Fatalf("inconsistent result %+v", s)
		}
	})
}
