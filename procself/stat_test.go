package procself

import (
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
		fields        []string
	}{
		{root: "testdata/proc-small", want: smallStat},
		{
			root: "testdata/proc-garbled", want: func() Stat { s := smallStat; s.MinorFaults = 0; return s }(),
			wantErr: `/proc/self/stat: 1 unread field: minflt (line 1): field 10: negative (-8604) where the kernel counts up from 0`,
			fields:  []string{"minflt"},
		},
		{root: "testdata/proc-truncated", wantErr: "/proc/self/stat:1: truncated: 3 fields, want at least 44"},
		{root: "testdata/proc-empty-files", wantErr: "/proc/self/stat: empty file"},
	} {
		t.Run(tc.root, func(t *testing.T) {
			got, err := New(tc.root).Stat()
			checkFixtureErr(t, tc.root, err, tc.wantErr, tc.fields...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Stat() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	tail := " S 1 2 3 0 -1 0 10 11 12 13 100 200 0 0 20 0 1 0 5 4096 3 1048576 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 7 0 0"
	base := Stat{
		PID: 42, Comm: "x", State: "S", PPID: 1, PGRP: 2, Session: 3, TPGID: -1,
		MinorFaults: 10, MinorFaultsChildren: 11, MajorFaults: 12, MajorFaultsChildren: 13,
		UTimeTicks: 100, STimeTicks: 200, UTime: time.Second, STime: 2 * time.Second,
		Priority: 20, NumThreads: 1, StartTimeTicks: 5, StartTime: 50 * time.Millisecond,
		VSizeBytes: 4096, RSSBytes: 3 * testPageSize, RSSLimitBytes: 1048576,
		DelayAcctBlkIOTicks: 7, DelayAcctBlkIO: 70 * time.Millisecond,
	}
	with := func(f func(*Stat)) Stat { s := base; f(&s); return s }
	for _, tc := range []struct {
		name, in, wantErr string
		want              Stat
		fields            []string
	}{
		{name: "parentheses and spaces in comm", in: "42 (a) (b c)" + tail + "\n", want: with(func(s *Stat) { s.Comm = "a) (b c" })},
		{name: "cut after comm", in: "42 (x)", wantErr: "truncated after the command name"},
		{name: "no comm", in: "42 x S 1", wantErr: "no command name"},
		{name: "reversed parentheses", in: "42 )x( S", wantErr: "no command name"},
		{name: "two-letter state", in: "42 (x) SS" + tail[2:], want: with(func(s *Stat) { s.State = "" }), wantErr: "state (line 1): field 3: want one letter", fields: []string{"state"}},
		// The kernel prints cutime and cstime as signed clock_t; procfs's fixture 26232 has
		// -2^63 and 2^63-1. A negative CPU time is that field's error, the rest is kept.
		{
			name: "negative cutime", in: "42 (x)" + strings.Replace(tail, " 100 200 0 0 ", " 100 200 -9223372036854775808 9223372036854775807 ", 1),
			want: with(func(s *Stat) { s.CSTimeTicks, s.CSTime = 1<<63-1, 1<<63-1 }), wantErr: "cutime (line 1): field 16: negative", fields: []string{"cutime"},
		},
		{
			name: "processor beyond 32 bits", in: "42 (x)" + strings.Replace(tail, " 17 0 0 0 7 ", " 17 9223372036854775807 0 0 7 ", 1),
			want: base, wantErr: "processor (line 1): field 39: 9223372036854775807 does not fit 32 bits", fields: []string{"processor"},
		},
		{
			name: "rss pages overflow and a bad ppid", in: "42 (x)" + strings.Replace(strings.Replace(tail, " 4096 3 ", " 4096 18446744073709551615 ", 1), " S 1 ", " S x ", 1),
			want: with(func(s *Stat) { s.RSSBytes, s.PPID = 0, 0 }), wantErr: "2 unread fields", fields: []string{"ppid", "rss"},
		},
		{name: "huge ticks saturate", in: "42 (x)" + strings.Replace(tail, " 100 200 ", " 18446744073709551615 200 ", 1), want: with(func(s *Stat) {
			s.UTimeTicks, s.UTime = 1<<64-1, 1<<63-1
		})},
		{name: "empty", in: "", wantErr: "empty file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStat([]byte(tc.in), testPageSize)
			checkParsed(t, got, err, tc.want, tc.wantErr, tc.fields...)
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
	f.Add([]byte("33 (ata_sff) S 2 0 0 0 -1 69238880 0 0 0 0 0 0 -9223372036854775808 9223372036854775807 0 -20 1 0 5 0 0 18446744073709551615 0 0 0 0 0 0 0 2147483647 0 18446744073709551615 0 0 -9223372036854775808 9223372036854775807 0 0 0 0 0 0 0 0 0 0 0 0 0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseStat(b, testPageSize)
		if err != nil {
			checkFuzzErr(t, err)
			if !IsPartial(err) {
				if s != (Stat{}) {
					t.Fatalf("whole-file error %v with a non-zero value %+v", err, s)
				}
				return
			}
		}
		if s.RSSBytes%testPageSize != 0 || s.UTime < 0 || s.StartTime < 0 {
			t.Fatalf("inconsistent result %+v", s)
		}
	})
}
