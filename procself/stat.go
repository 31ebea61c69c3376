package procself

// stat has its own parser rather than procfs's Proc.Stat(): procfs slices data[r+2:] after the last
// ')' without checking the length, so a file cut right after the command name panics; it reads the
// fields with fmt.Fscan (slow, allocating, and it accepts signs and spaces the kernel never prints);
// and it drops the fields after cguest_time (start_data, end_data, start_brk) that locate the brk heap.

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"time"
)

// clockTicksPerSecond converts the tick counts in stat to time. The kernel reports them in USER_HZ,
// which is what sysconf(_SC_CLK_TCK) and the auxv entry AT_CLKTCK return; it is part of the ABI and is
// 100 on every architecture Go supports (procfs assumes the same). It is not the kernel's internal HZ.
const clockTicksPerSecond = 100

// Stat is /proc/<pid>/stat: the kernel's machine-readable process counters, with sizes in bytes and
// times both as raw ticks and as durations. Addresses (StartCode and the rest) read as 0 for a process
// the reader may not ptrace.
type Stat struct {
	PID   int    // process ID
	Comm  string // command name, as in Status.Name but unescaped (it may contain spaces and parentheses)
	State string // one letter, as in Status.State
	PPID  int    // parent process ID
	PGRP  int    // process group ID
	// Session is the session ID.
	Session int
	TTY     int  // controlling terminal device number, 0 if none
	TPGID   int  // foreground process group of the terminal, -1 if none
	Flags   uint // kernel PF_* flags

	MinorFaults uint64 // page faults served without I/O: first touch of anonymous memory, page cache hits
	// MinorFaultsChildren is minor faults of waited-for children.
	MinorFaultsChildren uint64
	// MajorFaults is page faults that read from disk or swap: each one is a stall.
	MajorFaults         uint64
	MajorFaultsChildren uint64 // major faults of waited-for children

	UTimeTicks  uint64 // user CPU time in clock ticks (1/100 s)
	STimeTicks  uint64 // system CPU time in clock ticks
	CUTimeTicks uint64 // user CPU time of waited-for children, in ticks
	CSTimeTicks uint64 // system CPU time of waited-for children, in ticks
	UTime       time.Duration
	STime       time.Duration
	CUTime      time.Duration
	CSTime      time.Duration

	Priority   int // scheduling priority as the kernel stores it (20 + nice for normal processes)
	Nice       int // nice value, -20 to 19
	NumThreads int // number of threads

	// StartTimeTicks is when the process started, in clock ticks after system boot.
	StartTimeTicks uint64
	// StartTime is StartTimeTicks as a duration after boot (add the boot time from /proc/stat for a
	// wall-clock time).
	StartTime time.Duration

	VSizeBytes uint64 // virtual size, as statm size
	// RSSBytes is resident pages × page size, as statm resident.
	RSSBytes uint64
	// RSSLimitBytes is the soft RLIMIT_RSS, which Linux does not enforce; valid unless
	// RSSLimitUnlimited.
	RSSLimitBytes     uint64
	RSSLimitUnlimited bool

	StartCode  uint64 // address above which program text can run
	EndCode    uint64 // address below which program text can run
	StartStack uint64 // address of the start (bottom) of the main thread's stack
	StartData  uint64 // address above which initialized and BSS data are placed (Linux 3.3+)
	EndData    uint64 // address below which initialized and BSS data are placed (Linux 3.3+)
	// StartBrk is where the brk heap (C malloc's main arena) begins; the current break is not in
	// stat (Linux 3.3+).
	StartBrk uint64

	Processor  int  // CPU the process last ran on
	RTPriority uint // real-time priority, 0 for normal processes
	Policy     uint // scheduling policy (SCHED_OTHER 0, SCHED_FIFO 1, SCHED_RR 2, SCHED_BATCH 3, SCHED_IDLE 5)
	// DelayAcctBlkIOTicks is time spent waiting for block I/O (including major faults), in clock
	// ticks; 0 unless delay accounting is enabled (delayacct boot option or sysctl).
	DelayAcctBlkIOTicks uint64
	DelayAcctBlkIO      time.Duration
	GuestTimeTicks      uint64 // time spent running a virtual CPU for a guest OS, in ticks
}

// Stat reads /proc/<pid>/stat.
func (fs FS) Stat() (Stat, error) {
	path := fs.ProcPath("stat")
	b, err := fs.readFile(path)
	if err != nil {
		return Stat{}, err
	}
	s, err := parseStat(b, uint64(os.Getpagesize()))
	return s, withFile(err, path)
}

// statMinFields is the number of fields after the command name that every supported kernel prints:
// state (field 3) through cguest_time (field 44), present since Linux 2.6.24.
const statMinFields = 44 - 2

// statFieldNames names the fields of stat as proc_pid_stat(5) does, by their 1-based number; the
// names are what a *ParseError's Field says.
var statFieldNames = [...]string{
	1: "pid", 2: "comm", 3: "state", 4: "ppid", 5: "pgrp", 6: "session", 7: "tty_nr", 8: "tpgid",
	9: "flags", 10: "minflt", 11: "cminflt", 12: "majflt", 13: "cmajflt", 14: "utime", 15: "stime",
	16: "cutime", 17: "cstime", 18: "priority", 19: "nice", 20: "num_threads", 21: "itrealvalue",
	22: "starttime", 23: "vsize", 24: "rss", 25: "rsslim", 26: "startcode", 27: "endcode",
	28: "startstack", 29: "kstkesp", 30: "kstkeip", 31: "signal", 32: "blocked", 33: "sigignore",
	34: "sigcatch", 35: "wchan", 36: "nswap", 37: "cnswap", 38: "exit_signal", 39: "processor",
	40: "rt_priority", 41: "policy", 42: "delayacct_blkio_ticks", 43: "guest_time",
	44: "cguest_time", 45: "start_data", 46: "end_data", 47: "start_brk", 48: "arg_start",
	49: "arg_end", 50: "env_start", 51: "env_end", 52: "exit_code",
}

// parseStat parses the single line of stat: "pid (comm) state ppid ...", numbered as in proc_pid_stat(5).
// A field that is malformed or out of range is that field's error: it stays zero, the others are
// kept, and the error is a *FieldErrors naming it (procfs's fixture prints cutime as -2^63, which
// the kernel's signed clock_t allows and a CPU time cannot be). A line without the command name in
// parentheses, or with fewer than the 44 fields every supported kernel prints, fails whole.
func parseStat(b []byte, pageSize uint64) (Stat, error) {
	if len(b) == 0 {
		return Stat{}, &ParseError{Msg: "empty file"}
	}
	b = bytes.TrimSuffix(b, []byte("\n"))
	whole := func(format string, a ...any) error { return &ParseError{Line: 1, Msg: fmt.Sprintf(format, a...)} }

	// The command name may contain spaces and parentheses, so it runs from the first '(' to the last ')'.
	l, r := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
	if l < 1 || r < l {
		return Stat{}, whole("no command name in parentheses")
	}
	var (
		s   Stat
		bad fieldErrs
	)
	if pid, ok := parseDecimal(bytes.TrimSuffix(b[:l], []byte(" "))); !ok || pid > math.MaxInt32 {
		bad.add(1, "pid", fmt.Sprintf("not a decimal number below 2^31: %q", errorText(b[:l])))
	} else {
		s.PID = int(pid)
	}
	s.Comm = string(b[l+1 : r])
	rest, ok := bytes.CutPrefix(b[r+1:], []byte(" "))
	if !ok {
		return Stat{}, whole("truncated after the command name")
	}
	fields := bytes.Split(rest, []byte(" "))
	if len(fields) < statMinFields {
		return Stat{}, whole("truncated: %d fields, want at least %d", len(fields)+2, statMinFields+2)
	}

	// field returns proc_pid_stat(5) field n (1-based; 3 is state) as an unsigned number, 0 when
	// the kernel did not print it (fields 45 on need Linux 3.3) or it is malformed (then noted).
	field := func(n int) uint64 {
		if n-3 >= len(fields) {
			return 0
		}
		f := fields[n-3]
		v, ok := parseDecimal(f)
		if !ok {
			msg := fmt.Sprintf("field %d: not a decimal number: %q", n, errorText(f))
			if _, num := parseDecimal(bytes.TrimPrefix(f, []byte("-"))); num && len(f) > 1 && f[0] == '-' {
				msg = fmt.Sprintf("field %d: negative (%s) where the kernel counts up from 0", n, errorText(f))
			}
			bad.add(1, statFieldNames[n], msg)
		}
		return v
	}
	// signed returns field n as a signed 32-bit number (the kernel prints tty, tpgid -1, priority and
	// nice so).
	signed := func(n int) int {
		f := fields[n-3]
		neg := len(f) > 0 && f[0] == '-'
		if neg {
			f = f[1:]
		}
		v, ok := parseDecimal(f)
		if !ok || v > math.MaxInt32 {
			bad.add(1, statFieldNames[n], fmt.Sprintf("field %d: not a 32-bit decimal number: %q", n, errorText(fields[n-3])))
			return 0
		}
		if neg {
			return -int(v)
		}
		return int(v)
	}
	small := func(n int) int {
		v := field(n)
		if v > math.MaxInt32 {
			bad.add(1, statFieldNames[n], fmt.Sprintf("field %d: %d does not fit 32 bits", n, v))
			return 0
		}
		return int(v)
	}

	if len(fields[0]) != 1 {
		bad.add(1, "state", fmt.Sprintf("field 3: want one letter, have %q", errorText(fields[0])))
	} else {
		s.State = string(fields[0])
	}
	s.PPID = small(4)
	s.PGRP = small(5)
	s.Session = small(6)
	s.TTY = signed(7)
	s.TPGID = signed(8)
	s.Flags = uint(field(9))
	s.MinorFaults = field(10)
	s.MinorFaultsChildren = field(11)
	s.MajorFaults = field(12)
	s.MajorFaultsChildren = field(13)
	s.UTimeTicks = field(14)
	s.STimeTicks = field(15)
	s.CUTimeTicks = field(16)
	s.CSTimeTicks = field(17)
	s.Priority = signed(18)
	s.Nice = signed(19)
	s.NumThreads = small(20)
	s.StartTimeTicks = field(22)
	s.VSizeBytes = field(23)
	rssPages := field(24)
	before := len(bad)
	rsslim := field(25)
	rsslimBad := len(bad) - before
	s.StartCode = field(26)
	s.EndCode = field(27)
	s.StartStack = field(28)
	s.Processor = small(39)
	s.RTPriority = uint(field(40))
	s.Policy = uint(field(41))
	s.DelayAcctBlkIOTicks = field(42)
	s.GuestTimeTicks = field(43)
	s.StartData = field(45)
	s.EndData = field(46)
	s.StartBrk = field(47)
	if rssPages > math.MaxUint64/pageSize {
		bad.add(1, "rss", fmt.Sprintf("field 24: %d pages overflow 64 bits of bytes", rssPages))
	} else {
		s.RSSBytes = rssPages * pageSize
	}
	// RLIM_INFINITY prints as the largest unsigned long; report it as a flag, not as a number.
	if rsslimBad == 0 && rsslim == math.MaxUint64 {
		s.RSSLimitUnlimited = true
	} else {
		s.RSSLimitBytes = rsslim
	}
	s.UTime = ticksToDuration(s.UTimeTicks)
	s.STime = ticksToDuration(s.STimeTicks)
	s.CUTime = ticksToDuration(s.CUTimeTicks)
	s.CSTime = ticksToDuration(s.CSTimeTicks)
	s.StartTime = ticksToDuration(s.StartTimeTicks)
	s.DelayAcctBlkIO = ticksToDuration(s.DelayAcctBlkIOTicks)
	return s, bad.err()
}

// ticksToDuration converts USER_HZ ticks to a duration, saturating instead of wrapping (2^63 ns is
// 292 years, so saturation means a corrupt file, not a long-lived process).
func ticksToDuration(ticks uint64) time.Duration {
	const tick = time.Second / clockTicksPerSecond
	if ticks > uint64(math.MaxInt64/tick) {
		return math.MaxInt64
	}
	return time.Duration(ticks) * tick
}
