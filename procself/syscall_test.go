package procself

import (
	"errors"
	iofs "io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestReadSyscallFixtures(t *testing.T) {
	if !supported {
		t.Skip("no /proc")
	}
	tests := []struct {
		file     string
		want     Syscall
		wantLine int    // the *ParseError's line when the file is malformed; 0 for success
		field    string // the one unread word when only a word is malformed; want holds the rest
	}{
		// Recorded from the threads of one Go process (testdata/README.md).
		{file: "running", want: Syscall{State: SyscallRunning, Number: -1}},
		{file: "blocked-read", want: Syscall{State: SyscallBlocked, Number: 0,
			Args:         [6]uint64{0x5, 0x1795f7764f40, 0x40},
			StackPointer: 0x1795f7764e10, ProgramCounter: 0x40866e}},
		{file: "blocked-futex", want: Syscall{State: SyscallBlocked, Number: 202,
			Args:         [6]uint64{0x5a5138, 0x80},
			StackPointer: 0x1795f7837ef0, ProgramCounter: 0x4812a3}},
		{file: "stopped-spinner", want: Syscall{State: SyscallNone, Number: -1,
			StackPointer: 0x1795f7765f50, ProgramCounter: 0x49ed90}},
		// Hand-edited copies of the above.
		{file: "garbled-empty", wantLine: 1},
		{file: "garbled-two-lines", wantLine: 2},
		{file: "garbled-short", wantLine: 1},
		{file: "garbled-name", wantLine: 1},
		// A malformed word is that word's error; the state, number and other words are kept.
		{file: "garbled-no-0x", field: "arg1", want: Syscall{State: SyscallBlocked, Number: 202,
			Args:         [6]uint64{0, 0x80},
			StackPointer: 0x1795f7837ef0, ProgramCounter: 0x4812a3}},
		{file: "garbled-overflow", field: "pc", want: Syscall{State: SyscallBlocked, Number: 0,
			Args:         [6]uint64{0x5, 0x1795f7764f40, 0x40},
			StackPointer: 0x1795f7764e10}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata/syscall", tt.file)
			got, err := New("").readSyscall(path)
			if tt.wantLine != 0 {
				wantParseError(t, err, path, tt.wantLine)
				if IsPartial(err) {
					t.Errorf("error %v is a *FieldErrors, want a whole-file error", err)
				}
				return
			}
			if tt.field != "" {
				checkFieldErrors(t, err, path+": 1 unread field: "+tt.field+" (line 1)", tt.field)
				err = nil
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", path, diff)
			}
		})
	}
}

func TestSyscallStateString(t *testing.T) {
	for s, want := range map[SyscallState]string{
		SyscallRunning: "running", SyscallNone: "not in a syscall", SyscallBlocked: "in a syscall", 0: "unknown",
	} {
		if got := s.String(); got != want {
			t.Errorf("SyscallState(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}

// TestSyscallSelf reads the main thread's file: whatever it is doing, the file must parse.
func TestSyscallSelf(t *testing.T) {
	s, err := New("").Syscall()
	if !supported {
		if !errors.Is(err, errUnsupported) {
			t.Fatalf("Syscall off Linux: %v, want errUnsupported", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if s.State < SyscallRunning || s.State > SyscallBlocked {
		t.Errorf("State = %d", s.State)
	}
}

// TestSyscallPermission checks the reason a refused read carries. Root bypasses file modes, so it
// runs only as an ordinary user; FS.Threads's real-process test covers the readable path.
func TestSyscallPermission(t *testing.T) {
	if !supported || os.Geteuid() == 0 {
		t.Skip("needs Linux and a non-root user")
	}
	path := filepath.Join(t.TempDir(), "syscall")
	if err := os.WriteFile(path, []byte("running\n"), 0o000); err != nil {
		t.Fatal(err)
	}
	_, err := New("").readSyscall(path)
	if !errors.Is(err, iofs.ErrPermission) {
		t.Fatalf("error %v, want one wrapping fs.ErrPermission", err)
	}
}

func FuzzParseSyscall(f *testing.F) {
	entries, err := os.ReadDir("testdata/syscall")
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join("testdata/syscall", e.Name()))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := parseSyscall(b)
		if err != nil {
			checkFuzzErr(t, err)
			if !IsPartial(err) {
				if s != (Syscall{}) {
					t.Fatalf("whole-file error %v with a non-zero value", err)
				}
				return
			}
		}
		if s.State == SyscallBlocked && s.Number < 0 || s.State != SyscallBlocked && s.Number != -1 {
			t.Fatalf("state %v with number %d", s.State, s.Number)
		}
	})
}
