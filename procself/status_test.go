package procself

import (
	"errors"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// smallStatus is testdata/proc-small/proc/4242/status, kB figures × 1024.
var smallStatus = Status{
	Name: "rec", State: "S", TGID: 7974, PID: 7974, PPID: 1,
	NSPIDs: []int{7974}, FDSize: 256,
	VmPeakBytes: 1227168 << 10, VmSizeBytes: 1227168 << 10,
	VmHWMBytes: 35276 << 10, VmRSSBytes: 35276 << 10,
	RssAnonBytes: 33732 << 10, RssFileBytes: 1544 << 10,
	VmDataBytes: 73512 << 10, VmStkBytes: 132 << 10, VmExeBytes: 636 << 10, VmLibBytes: 8 << 10,
	VmPTEBytes: 152 << 10, THPEnabled: true, Threads: 5, CPUsAllowed: []int{0, 1},
	VoluntaryCtxtSwitches: 4, NonVoluntaryCtxtSwitches: 5,
}

func TestStatusFixtures(t *testing.T) {
	if !supported {
		t.Skip("no /proc on " + runtime.GOOS)
	}
	for _, tc := range []struct {
		root    string
		want    Status
		wantErr string   // the error text after the root
		fields  []string // the fields a *FieldErrors names; the rest of want is kept
	}{
		{root: "testdata/proc-small", want: smallStatus},
		{
			root: "testdata/proc-garbled", want: func() Status { s := smallStatus; s.VmRSSBytes = 0; return s }(),
			wantErr: `/proc/self/status: 1 unread field: VmRSS (line 23): not a kB size below 2^64 bytes: "35276 MB"`,
			fields:  []string{"VmRSS"},
		},
		{root: "testdata/proc-truncated", wantErr: "/proc/self/status:20: truncated: no Threads or voluntary_ctxt_switches line"},
		{root: "testdata/proc-empty-files", wantErr: "/proc/self/status: empty file"},
	} {
		t.Run(tc.root, func(t *testing.T) {
			got, err := New(tc.root).Status()
			checkFixtureErr(t, tc.root, err, tc.wantErr, tc.fields...)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("Status() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// checkFixtureErr checks that err is a *ParseError reading wantErr after the root, or nil if wantErr
// is "". With fields, err must be a *FieldErrors naming them; without, it must not be one.
func checkFixtureErr(t *testing.T, root string, err error, wantErr string, fields ...string) {
	t.Helper()
	if wantErr == "" {
		if err != nil {
			t.Fatal(err)
		}
		return
	}
	var pe *ParseError
	if !errors.As(err, &pe) {
		t.Fatalf("error %v is not a *ParseError", err)
	}
	if len(fields) > 0 {
		checkFieldErrors(t, err, "", fields...)
	} else if IsPartial(err) {
		t.Errorf("error %v is a *FieldErrors, want a whole-file error", err)
	}
	if got := strings.TrimPrefix(err.Error(), root); got != wantErr {
		t.Errorf("error = %q, want %q", got, wantErr)
	}
}

func TestParseStatus(t *testing.T) {
	base := "Name:\tx\nPid:\t1\nThreads:\t1\nvoluntary_ctxt_switches:\t0\n"
	minimal := Status{Name: "x", PID: 1, Threads: 1}
	for _, tc := range []struct {
		name, in, wantErr string
		want              Status
		fields            []string // a *FieldErrors naming these, with want kept
	}{
		{name: "minimal", in: base, want: minimal},
		{name: "name with colon and spaces", in: "Name:\ta: b\n" + base[len("Name:\tx\n"):], want: Status{Name: "a: b", PID: 1, Threads: 1}},
		{name: "unknown keys skipped", in: base + "Future_field:\twhatever 12\n", want: Status{Name: "x", PID: 1, Threads: 1}},
		{name: "cpu ranges", in: base + "Cpus_allowed_list:\t0-2,5,7-8\n", want: Status{Name: "x", PID: 1, Threads: 1, CPUsAllowed: []int{0, 1, 2, 5, 7, 8}}},
		// IDs are unsigned 32-bit: user namespaces' nobody (4294967294) and the invalid ID
		// (4294967295) are readings, not errors.
		{
			name: "uids at and above 2^31", in: base + "Uid:\t2147483648\t4294967294\t4294967295\t65534\nGid:\t4294967294\t4294967294\t4294967294\t4294967294\n",
			want: Status{Name: "x", PID: 1, Threads: 1, UIDs: [4]uint32{1 << 31, 4294967294, 4294967295, 65534}, GIDs: [4]uint32{4294967294, 4294967294, 4294967294, 4294967294}},
		},
		// A bad field is that field's error: the rest is kept, VmRSS included.
		{
			name: "uid beyond 32 bits", in: base + "Uid:\t4294967296\t0\t0\t0\nVmRSS:\t12 kB\n",
			want: Status{Name: "x", PID: 1, Threads: 1, VmRSSBytes: 12 << 10}, wantErr: `Uid (line 5): not a decimal number below 2^32: "4294967296"`, fields: []string{"Uid"},
		},
		{name: "five uids", in: base + "Uid:\t0\t0\t0\t0\t0\n", want: minimal, wantErr: "Uid (line 5): want 4 IDs, have 5", fields: []string{"Uid"}},
		{name: "kB overflow", in: base + "VmRSS:\t18014398509481984 kB\n", want: minimal, wantErr: "VmRSS (line 5): not a kB size", fields: []string{"VmRSS"}},
		{name: "no unit", in: base + "VmRSS:\t12\n", want: minimal, wantErr: "VmRSS (line 5): not a kB size", fields: []string{"VmRSS"}},
		{name: "two bad fields", in: base + "PPid:\t-1\nVmRSS:\t12\nVmSwap:\t4 kB\n", want: Status{Name: "x", PID: 1, Threads: 1, VmSwapBytes: 4 << 10}, wantErr: "2 unread fields", fields: []string{"PPid", "VmRSS"}},
		{name: "huge cpu range", in: base + "Cpus_allowed_list:\t0-18446744073709551615\n", want: minimal, wantErr: "more than 65536 CPUs", fields: []string{"Cpus_allowed_list"}},
		{name: "reversed cpu range", in: base + "Cpus_allowed_list:\t3-1\n", want: minimal, wantErr: `bad range "3-1"`, fields: []string{"Cpus_allowed_list"}},
		{name: "no colon", in: base + "garbage\n", wantErr: `:5: no colon in "garbage"`},
		{name: "not status", in: "Foo:\t1\n", wantErr: "not a status file"},
		{name: "empty", in: "", wantErr: "empty file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatus([]byte(tc.in))
			checkParsed(t, got, err, tc.want, tc.wantErr, tc.fields...)
		})
	}
}

func FuzzParseStatus(f *testing.F) {
	if b, err := os.ReadFile("testdata/proc-small/proc/4242/status"); err == nil {
		f.Add(b)
	}
	f.Add([]byte("Name:\tx\nPid:\t1\nUid:\t0\t0\t0\t0\t0\nThreads:\t1\nvoluntary_ctxt_switches:\t0\n"))
	f.Add([]byte("Name:\tx\nPid:\t1\nCpus_allowed_list:\t0-4294967295\nThreads:\t1\nvoluntary_ctxt_switches:\t0\n"))
	f.Add([]byte("Name:\tx\nPid:\t1\nUid:\t4294967294\t0\t0\t0\nVmRSS:\t1 MB\nThreads:\t1\nvoluntary_ctxt_switches:\t0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseStatus(b)
		if err != nil {
			checkFuzzErr(t, err)
			if !IsPartial(err) {
				if diff := cmp.Diff(Status{}, s); diff != "" {
					t.Fatalf("whole-file error %v with a non-zero value:\n%s", err, diff)
				}
				return
			}
		}
		if len(s.CPUsAllowed) > maxCPUsAllowed {
			t.Fatalf("%d CPUs, above the bound", len(s.CPUsAllowed))
		}
	})
}
