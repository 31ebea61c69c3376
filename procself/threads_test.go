package procself

import (
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Kernel stacks recorded from the Go process in testdata/threads/multi (see testdata/README.md).
var (
	stackNanosleep = []string{"hrtimer_nanosleep+0x74/0xf0", "__x64_sys_nanosleep+0x9d/0xe0",
		"do_syscall_64+0x71/0x280", "entry_SYSCALL_64_after_hwframe+0x76/0x7e"}
	stackPipeRead = []string{"anon_pipe_read+0x366/0x410", "vfs_read+0x32c/0x360", "ksys_read+0xba/0xe0",
		"do_syscall_64+0x71/0x280", "entry_SYSCALL_64_after_hwframe+0x76/0x7e"}
	stackFutex = []string{"futex_do_wait+0x46/0x90", "__futex_wait+0x8a/0x100", "futex_wait+0x67/0x120",
		"do_futex+0xfd/0x250", "__x64_sys_futex+0x112/0x210", "do_syscall_64+0x71/0x280",
		"entry_SYSCALL_64_after_hwframe+0x76/0x7e"}
	stackEpoll = []string{"do_epoll_wait+0x548/0x5a0", "do_compat_epoll_pwait.part.0+0xe/0x80",
		"__x64_sys_epoll_pwait+0x7a/0x140", "do_syscall_64+0x71/0x280",
		"entry_SYSCALL_64_after_hwframe+0x76/0x7e"}
)

// sleepingThread is a thread of the recorded process parked in the kernel; the recording shows no
// user time, priority 20 and nice 0 for all of them.
func sleepingThread(tid int, name string, sysTicks, minflt uint64, cpu int, startTicks uint64,
	wchan string, stack []string, sc Syscall) Thread {
	return Thread{
		TID: tid, Name: name, State: "S", StateName: "sleeping",
		SystemTicks: sysTicks, SystemTime: time.Duration(sysTicks) * 10 * time.Millisecond,
		MinorFaults: minflt, Processor: cpu, Priority: 20,
		StartTicks: startTicks, StartAfterBoot: time.Duration(startTicks) * 10 * time.Millisecond,
		WChan: wchan, Stack: stack, Syscall: sc,
	}
}

func blocked(nr int64, sp, pc uint64, args ...uint64) Syscall {
	s := Syscall{State: SyscallBlocked, Number: nr, StackPointer: sp, ProgramCounter: pc}
	copy(s.Args[:], args)
	return s
}

var recordedThreads = []Thread{
	{
		// The main thread, spinning in user space when recorded: no wchan, no stack, "running".
		TID: 9269, Name: "spinner", State: "R", StateName: "running",
		UserTicks: 652, SystemTicks: 2, UserTime: 6520 * time.Millisecond, SystemTime: 20 * time.Millisecond,
		MinorFaults: 293, Processor: 1, Priority: 20,
		StartTicks: 48145, StartAfterBoot: 481450 * time.Millisecond,
		Syscall: Syscall{State: SyscallRunning, Number: -1},
	},
	sleepingThread(9271, "rec", 2, 5, 1, 48146, "hrtimer_nanosleep", stackNanosleep,
		blocked(35, 0x1795f7757f00, 0x480cd7, 0x1795f7757f00, 0, 0, 0, 0x1795f7800780, 0xa)),
	sleepingThread(9272, "sleeper", 0, 2, 0, 48146, "hrtimer_nanosleep", stackNanosleep,
		blocked(35, 0x1795f7765648, 0x40866e, 0x1795f7765798)),
	sleepingThread(9273, "pipe-reader", 0, 3, 0, 48146, "anon_pipe_read", stackPipeRead,
		blocked(0, 0x1795f7764e10, 0x40866e, 5, 0x1795f7764f40, 0x40)),
	sleepingThread(9274, "rec", 0, 1, 0, 48146, "futex_do_wait", stackFutex,
		blocked(202, 0x1795f7837ef0, 0x4812a3, 0x5a5138, 0x80)),
	sleepingThread(9275, "rec", 0, 1, 0, 48146, "do_epoll_wait", stackEpoll,
		blocked(281, 0x1795f78336a8, 0x40866e, 7, 0x1795f783373c, 0x80, 0x36ee7f)),
	sleepingThread(9276, "rec", 0, 1, 1, 48147, "futex_do_wait", stackFutex,
		blocked(202, 0x1795f7843e78, 0x4812a3, 0x1795f7825160, 0x80)),
	sleepingThread(9277, "rec", 0, 1, 1, 48147, "futex_do_wait", stackFutex,
		blocked(202, 0x1795f7847cd0, 0x4812a3, 0x1795f7824960, 0x80)),
}

// equateErrorsOrText is cmpopts.EquateErrors extended to errors that are equal in text: a
// *ParseError built in a test is a different pointer from the parser's.
var equateErrorsOrText = cmp.FilterValues(func(x, y any) bool {
	_, xe := x.(error)
	_, ye := y.(error)
	return xe && ye
}, cmp.Comparer(func(x, y any) bool {
	xe, ye := x.(error), y.(error)
	return errors.Is(xe, ye) || errors.Is(ye, xe) || xe.Error() == ye.Error()
}))

func TestThreadsFixtures(t *testing.T) {
	if !supported {
		t.Skip("no /proc")
	}
	partial := "testdata/threads/partial/proc/9269/task/"
	// Error fields are compared with errors.Is: a sentinel in want matches any error wrapping it.
	tests := []struct {
		name string
		root string
		max  int
		want Threads
	}{
		{name: "recorded", root: "testdata/threads/multi", want: Threads{Threads: recordedThreads, Listed: 8}},
		{
			name: "bounded", root: "testdata/threads/multi", max: 3,
			want: Threads{Threads: recordedThreads[:3], Listed: 8, Truncated: true},
		},
		{
			// 9273 lacks wchan and stack (as on a kernel without CONFIG_STACKTRACE); 9274 has no stat,
			// as if it exited after the listing; 9275's stack and syscall were garbled by hand.
			name: "partial", root: "testdata/threads/partial",
			want: Threads{Listed: 4, Threads: []Thread{
				recordedThreads[2],
				func() Thread {
					th := recordedThreads[3]
					th.WChan, th.WChanErr = "", iofs.ErrNotExist
					th.Stack, th.StackErr = nil, iofs.ErrNotExist
					return th
				}(),
				func() Thread {
					th := recordedThreads[5]
					th.Stack, th.StackErr = nil, &ParseError{File: partial + "9275/stack", Line: 1,
						Msg: `frame "do_epoll_wait+0x548/0x5a0" is not "[<address>] symbol"`}
					th.Syscall, th.SyscallErr = Syscall{}, &ParseError{File: partial + "9275/syscall", Line: 1,
						Msg: "2 fields for syscall number 202, want 9"}
					return th
				}(),
			}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := New(tt.root).Threads(tt.max)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, equateErrorsOrText); diff != "" {
				t.Errorf("Threads(%d) mismatch (-want +got):\n%s", tt.max, diff)
			}
		})
	}
}

func TestThreadsMalformedStat(t *testing.T) {
	if !supported {
		t.Skip("no /proc")
	}
	for _, root := range []string{"testdata/threads/garbled-stat", "testdata/threads/cut-after-comm"} {
		t.Run(filepath.Base(root), func(t *testing.T) {
			_, err := New(root).Threads(0)
			wantParseError(t, err, filepath.Join(root, "proc/9269/task/9272/stat"), 1)
		})
	}
}

func TestThreadsUnsupported(t *testing.T) {
	if supported {
		t.Skip("this system has /proc")
	}
	_, err := New("").Threads(0)
	if !errors.Is(err, errUnsupported) {
		t.Fatalf("Threads off Linux: %v, want errUnsupported", err)
	}
}

func TestThreadStateName(t *testing.T) {
	for s, want := range map[string]string{"R": "running", "S": "sleeping", "D": "disk sleep", "Z": "zombie",
		"T": "stopped", "t": "tracing stop", "I": "idle", "X": "dead", "?": "unknown"} {
		if got := threadStateName(s); got != want {
			t.Errorf("threadStateName(%q) = %q, want %q", s, got, want)
		}
	}
}

func FuzzParseThreadStack(f *testing.F) {
	files, err := filepath.Glob("testdata/threads/*/proc/9269/task/*/stack")
	if err != nil {
		f.Fatal(err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(""))
	f.Add([]byte("[<ffffffff81234567>] schedule+0x2e/0xa0\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		frames, err := parseThreadStack(b)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v (%T) is not a *ParseError", err, err)
			}
			return
		}
		for _, fr := range frames {
			if strings.TrimSpace(fr) == "" {
				t.Fatalf("empty frame from %q", b)
			}
		}
	})
}
