package procself

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// SyscallState is what a task was doing when /proc/<pid>/syscall (or task/<tid>/syscall) was read.
type SyscallState int

const (
	// SyscallRunning: the task was on a CPU (another one than the reader's), so the kernel cannot say;
	// the file reads "running". A thread reading its own file sees instead the read(2) it is making.
	SyscallRunning SyscallState = iota + 1
	// SyscallNone: the task was blocked but not in a system call (e.g. preempted in user space, or
	// stopped by a signal); the file reads "-1 sp pc".
	SyscallNone
	// SyscallBlocked: the task was blocked inside system call Number; the file reads
	// "nr arg1 ... arg6 sp pc".
	SyscallBlocked
)

func (s SyscallState) String() string {
	switch s {
	case SyscallRunning:
		return "running"
	case SyscallNone:
		return "not in a syscall"
	case SyscallBlocked:
		return "in a syscall"
	}
	return "unknown"
}

// Syscall is the content of /proc/<pid>/syscall: the system call a blocked task is in, with its
// arguments. For a process (/proc/<pid>/syscall) it describes the thread-group leader, the main
// thread, which in a Go program is rarely the one doing the interesting work; per-thread values come
// from [FS.Threads].
type Syscall struct {
	State          SyscallState // running, blocked outside a syscall, or blocked in one
	Number         int64        // the architecture's syscall number; -1 unless State is SyscallBlocked
	Args           [6]uint64    // the six argument registers as raw words; zero unless State is SyscallBlocked
	StackPointer   uint64       // user stack pointer; zero when State is SyscallRunning
	ProgramCounter uint64       // user program counter; zero when State is SyscallRunning
}

// Syscall reads /proc/<pid>/syscall. The file needs ptrace-attach permission over the process: for
// another user's process the error wraps fs.ErrPermission (EACCES at open or EPERM at read).
func (fs FS) Syscall() (Syscall, error) {
	return fs.readSyscall(fs.ProcPath("syscall"))
}

func (fs FS) readSyscall(path string) (Syscall, error) {
	b, err := fs.readFile(path)
	if err != nil {
		return Syscall{}, err
	}
	s, err := parseSyscall(b)
	return s, withFile(err, path)
}

// parseSyscall parses one syscall file as fs/proc/base.c proc_pid_syscall writes it: "running", or a
// decimal syscall number followed by 0x-prefixed hex words (two when the number is negative, eight
// otherwise).
func parseSyscall(b []byte) (Syscall, error) {
	line, rest, _ := bytes.Cut(b, []byte("\n"))
	if len(bytes.TrimSpace(rest)) != 0 {
		return Syscall{}, &ParseError{Line: 2, Msg: "unexpected second line"}
	}
	f := strings.Fields(string(line))
	if len(f) == 0 {
		return Syscall{}, &ParseError{Line: 1, Msg: "empty"}
	}
	if len(f) == 1 && f[0] == "running" {
		return Syscall{State: SyscallRunning, Number: -1}, nil
	}
	nr, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil {
		return Syscall{}, &ParseError{Line: 1, Msg: fmt.Sprintf("syscall number %q", f[0]), Err: err}
	}
	want := 9
	if nr < 0 {
		want = 3
	}
	if len(f) != want {
		return Syscall{}, &ParseError{Line: 1, Msg: fmt.Sprintf("%d fields for syscall number %d, want %d", len(f), nr, want)}
	}
	// The words are the arguments (blocked in a syscall only), then sp and pc; one that is not
	// hex is that word's error, and the others are kept.
	names := []string{"arg1", "arg2", "arg3", "arg4", "arg5", "arg6", "sp", "pc"}
	if nr < 0 {
		names = names[6:]
	}
	var bad fieldErrs
	words := make([]uint64, len(f)-1)
	for i, s := range f[1:] {
		h, ok := strings.CutPrefix(s, "0x")
		if !ok || h == "" {
			bad.add(1, names[i], fmt.Sprintf("field %d %q is not 0x-prefixed hex", i+2, s))
			continue
		}
		v, err := strconv.ParseUint(h, 16, 64)
		if err != nil {
			bad.add(1, names[i], fmt.Sprintf("field %d %q: %v", i+2, s, err))
			continue
		}
		words[i] = v
	}
	s := Syscall{Number: nr, StackPointer: words[len(words)-2], ProgramCounter: words[len(words)-1]}
	if nr < 0 {
		s.State = SyscallNone
		s.Number = -1
		return s, bad.err()
	}
	s.State = SyscallBlocked
	copy(s.Args[:], words)
	return s, bad.err()
}
