package procself

import (
	"bytes"
	"errors"
	"fmt"
	iofs "io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/procfs"
)

// DefaultMaxThreads is the bound [FS.Threads] applies when given none: each thread costs four small
// file reads, and a process with runaway thread creation is exactly the one whose diagnosis must
// stay cheap.
const DefaultMaxThreads = 10000

// Thread is one OS thread (task) of the process, from /proc/<pid>/task/<tid>/.
type Thread struct {
	TID       int    // thread ID; the main thread's TID is the process ID
	Name      string // comm: the thread name, at most 15 bytes (Go threads inherit the program's)
	State     string // the kernel's one-letter state: R, S, D, T, t, Z, X, I, P, W or K
	StateName string // State in words, e.g. "sleeping"; "unknown" for letters not listed above

	UserTicks      uint64        // utime: time on CPU in user mode, in clock ticks (USER_HZ, 100 a second)
	SystemTicks    uint64        // stime: time on CPU in the kernel, in clock ticks
	UserTime       time.Duration // UserTicks as a duration
	SystemTime     time.Duration // SystemTicks as a duration
	MinorFaults    uint64        // page faults served without I/O (first touch of anonymous memory, page cache hits)
	MajorFaults    uint64        // page faults that waited for I/O (file or swap reads)
	Processor      int           // the CPU the thread last ran on
	Priority       int           // kernel priority as stat reports it: 20+nice for normal threads, negative for real-time
	Nice           int           // nice value, -20 (favoured) to 19
	StartTicks     uint64        // when the thread started, in clock ticks after boot
	StartAfterBoot time.Duration // StartTicks as a duration after boot

	// WChan is the kernel function the thread sleeps in (e.g. "futex_do_wait", "do_epoll_wait");
	// empty while it runs or when the kernel hides it ("0" without ptrace access).
	WChan    string
	WChanErr error // why WChan could not be read, nil when it was

	// Stack is the kernel stack from task/<tid>/stack, innermost first, e.g.
	// "futex_do_wait+0x46/0x90". It is readable by root only (CAP_SYS_ADMIN), so it is usually
	// empty with StackErr wrapping fs.ErrPermission.
	Stack    []string
	StackErr error // why Stack could not be read, nil when it was

	Syscall    Syscall // the system call the thread is blocked in, see [Syscall]
	SyscallErr error   // why Syscall could not be read (needs ptrace access), nil when it was
}

// Threads is the result of [FS.Threads]: the threads read, and whether there were more.
type Threads struct {
	Threads   []Thread // in ascending TID order; threads that exited while being read are left out
	Listed    int      // how many threads task/ listed
	Truncated bool     // Listed exceeded the bound and only the lowest TIDs were read
}

// Threads reads at most max threads of the process (max <= 0 means [DefaultMaxThreads]), lowest
// TIDs first. Files a thread may refuse (wchan, stack, syscall) are reported per thread in its ...Err
// fields; only a failure to list task/ or a malformed stat fails the call. Threads that exit between
// listing and reading are skipped. Each thread costs four file reads (~10-20 µs), so this belongs
// on the full tier, not the periodic path.
func (fs FS) Threads(max int) (Threads, error) {
	if max <= 0 {
		max = DefaultMaxThreads
	}
	if !supported {
		return Threads{}, fmt.Errorf("%s: %w", fs.ProcPath("task"), errUnsupported)
	}
	p, err := fs.procfs()
	if err != nil {
		return Threads{}, err
	}
	procDir := filepath.Join(fs.root, "proc")
	pfs, err := procfs.NewFS(procDir)
	if err != nil {
		return Threads{}, fmt.Errorf("procfs: %w", err)
	}
	tasks, err := pfs.AllThreads(p.PID)
	if err != nil {
		return Threads{}, err
	}
	slices.SortFunc(tasks, func(a, b procfs.Proc) int { return a.PID - b.PID })
	l := Threads{Listed: len(tasks)}
	if len(tasks) > max {
		tasks, l.Truncated = tasks[:max], true
	}
	taskDir := filepath.Join(procDir, strconv.Itoa(p.PID), "task")
	for _, task := range tasks {
		t, err := fs.readThread(task, filepath.Join(taskDir, strconv.Itoa(task.PID)))
		if err != nil {
			if exited(err) {
				continue
			}
			return Threads{}, err
		}
		l.Threads = append(l.Threads, t)
	}
	return l, nil
}

// exited reports whether err means the thread went away: its directory is gone (ENOENT) or the
// kernel found no task behind an open file (ESRCH).
func exited(err error) bool {
	return errors.Is(err, iofs.ErrNotExist) || errors.Is(err, syscall.ESRCH)
}

// readThread converts procfs's stat and wchan of one task into a Thread and adds the stack and
// syscall files, which procfs does not read. The name comes from stat rather than the comm file: it
// is the same kernel field, exact (procfs trims comm's whitespace), and one read fewer per thread.
// Durations use ticksToDuration from stat.go, which assumes USER_HZ = 100 like procfs does.
func (fs FS) readThread(task procfs.Proc, dir string) (Thread, error) {
	statPath := filepath.Join(dir, "stat")
	st, err := procfsStat(task)
	if err != nil {
		var pe *iofs.PathError
		if errors.As(err, &pe) {
			return Thread{}, err
		}
		return Thread{}, &ParseError{File: statPath, Line: 1, Msg: "malformed stat", Err: err}
	}
	t := Thread{
		TID:            task.PID,
		Name:           st.Comm,
		State:          st.State,
		StateName:      threadStateName(st.State),
		UserTicks:      uint64(st.UTime),
		SystemTicks:    uint64(st.STime),
		UserTime:       ticksToDuration(uint64(st.UTime)),
		SystemTime:     ticksToDuration(uint64(st.STime)),
		MinorFaults:    uint64(st.MinFlt),
		MajorFaults:    uint64(st.MajFlt),
		Processor:      int(st.Processor),
		Priority:       st.Priority,
		Nice:           st.Nice,
		StartTicks:     st.Starttime,
		StartAfterBoot: ticksToDuration(st.Starttime),
	}
	t.WChan, t.WChanErr = task.Wchan()
	if t.WChanErr != nil {
		t.WChanErr = fmt.Errorf("%s: %w", filepath.Join(dir, "wchan"), t.WChanErr)
	}
	t.Stack, t.StackErr = fs.readStack(filepath.Join(dir, "stack"))
	t.Syscall, t.SyscallErr = fs.readSyscall(filepath.Join(dir, "syscall"))
	return t, nil
}

// procfsStat is task.Stat made safe: procfs v0.23.0 slices past the end of a stat file that ends
// right after the ")" of the name, a state the kernel never writes but a corrupt fixture can, and
// this package promises not to panic on any input.
func procfsStat(task procfs.Proc) (st procfs.ProcStat, err error) {
	defer func() {
		if r := recover(); r != nil {
			st, err = procfs.ProcStat{}, fmt.Errorf("procfs panicked: %v", r)
		}
	}()
	return task.Stat()
}

// threadStateName spells out the state letters of fs/proc/array.c task_state_array.
func threadStateName(s string) string {
	switch s {
	case "R":
		return "running"
	case "S":
		return "sleeping"
	case "D":
		return "disk sleep"
	case "T":
		return "stopped"
	case "t":
		return "tracing stop"
	case "X", "x":
		return "dead"
	case "Z":
		return "zombie"
	case "P":
		return "parked"
	case "I":
		return "idle"
	case "W":
		return "waking"
	case "K":
		return "wakekill"
	}
	return "unknown"
}

func (fs FS) readStack(path string) ([]string, error) {
	b, err := fs.readFile(path)
	if err != nil {
		return nil, err
	}
	s, err := parseThreadStack(b)
	return s, withFile(err, path)
}

// parseThreadStack parses a task's kernel stack as proc_pid_stack writes it, one "[<addr>] symbol"
// line per frame. The address is zero unless kptr_restrict allows it, so only the symbol is kept.
// A running task has no frames: the file is empty.
func parseThreadStack(b []byte) ([]string, error) {
	var frames []string
	for i, line := range bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n")) {
		if len(line) == 0 && len(b) <= 1 {
			break
		}
		rest, ok := bytes.CutPrefix(line, []byte("[<"))
		addr, sym, ok2 := bytes.Cut(rest, []byte(">] "))
		if !ok || !ok2 || len(addr) == 0 || len(bytes.TrimSpace(sym)) == 0 {
			return nil, &ParseError{Line: i + 1, Msg: fmt.Sprintf("frame %q is not \"[<address>] symbol\"", line)}
		}
		if _, err := strconv.ParseUint(string(addr), 16, 64); err != nil {
			return nil, &ParseError{Line: i + 1, Msg: fmt.Sprintf("frame address %q", addr), Err: err}
		}
		frames = append(frames, strings.TrimSpace(string(sym)))
	}
	return frames, nil
}
