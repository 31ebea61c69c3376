package procself

// status has its own parser rather than procfs's Proc.NewStatus(): procfs's ProcStatus has no State,
// PPid, Threads, FDSize or THP_enabled, reports errors without the file or line, and indexes a fixed
// [4] array with however many Uid/Gid columns the file has, which panics on a malformed line. procfs
// does convert the kB fields to bytes (proc_status.go multiplies by 1024), so the units agree; this
// parser keeps that convention and checks the multiplication for overflow.

import (
	"bytes"
	"fmt"
	"math"
)

// Status is /proc/<pid>/status: the kernel's human-readable summary of the process, with every size
// in bytes (the file prints kB). Fields the running kernel does not print are zero: RssAnon, RssFile
// and RssShmem appeared in Linux 4.5, HugetlbPages in 4.4, THP_enabled in 5.0; kernel threads have
// no Vm* lines at all.
//
// Reading it costs 50–90 µs, mostly formatting; it does not walk page tables, so the cost does not
// grow with memory.
type Status struct {
	Name  string // the command name (comm), at most 15 bytes, escaped by the kernel
	State string // one letter: R running, S sleeping, D disk sleep, T stopped, t traced, Z zombie, X dead, I idle
	TGID  int    // thread group ID, the process ID as userspace knows it
	PID   int    // ID of the thread the file was read for (equal to TGID for /proc/<pid>)
	PPID  int    // parent process ID; 0 if the parent is outside this PID namespace
	// TracerPID is the process tracing this one (a debugger, strace), 0 if none.
	TracerPID int
	UIDs      [4]int // real, effective, saved set and filesystem user IDs
	GIDs      [4]int // real, effective, saved set and filesystem group IDs
	// NSPIDs is the process ID in each nested PID namespace, outermost first (Linux 4.1+); the last
	// is the ID inside the process's own namespace (its container).
	NSPIDs []int
	// FDSize is the number of slots allocated in the file descriptor table, not the number of open
	// descriptors; it grows in powers of two and never shrinks.
	FDSize int

	VmPeakBytes uint64 // peak virtual size
	VmSizeBytes uint64 // current virtual size (statm size)
	VmLckBytes  uint64 // mlock()ed memory
	VmPinBytes  uint64 // pinned memory (RDMA, io_uring buffers): cannot be moved or swapped
	VmHWMBytes  uint64 // peak resident set ("high water mark") since exec or the last reset
	VmRSSBytes  uint64 // resident set: RssAnon + RssFile + RssShmem (statm resident)
	// RssAnonBytes is resident anonymous memory: the Go heap, stacks, C malloc, private writable
	// pages. This is usually the figure that grows in a leak.
	RssAnonBytes  uint64
	RssFileBytes  uint64 // resident file-backed pages: the binary, shared libraries, mmapped files
	RssShmemBytes uint64 // resident shmem: SysV/POSIX shared memory, shared anonymous mappings, tmpfs, memfd
	VmDataBytes   uint64 // virtual size of private writable non-stack mappings (statm data minus VmStk)
	VmStkBytes    uint64 // virtual size of the main thread's stack mapping
	VmExeBytes    uint64 // virtual size of the executable's code (statm text)
	VmLibBytes    uint64 // virtual size of shared library code
	// VmPTEBytes is memory used by page tables, which the kernel spends on the process's behalf and
	// which counts toward its cgroup but not toward its RSS.
	VmPTEBytes uint64
	// VmSwapBytes is anonymous memory swapped out (shmem swap is not included).
	VmSwapBytes uint64
	// HugetlbPagesBytes is memory in hugetlbfs pages, which is not counted in VmRSS.
	HugetlbPagesBytes uint64
	// THPEnabled is false when transparent huge pages are disabled for this process by prctl
	// (PR_SET_THP_DISABLE); it says nothing about the system-wide setting.
	THPEnabled bool

	Threads int // number of threads in the process
	// CPUsAllowed lists the CPUs the process may run on (Cpus_allowed_list), sorted; GOMAXPROCS
	// defaults to its length.
	CPUsAllowed []int

	VoluntaryCtxtSwitches    uint64 // switches because the process blocked (I/O, locks, sleep)
	NonVoluntaryCtxtSwitches uint64 // switches because its time slice ended: CPU contention
}

// Status reads /proc/<pid>/status.
func (fs FS) Status() (Status, error) {
	path := fs.ProcPath("status")
	b, err := fs.readFile(path)
	if err != nil {
		return Status{}, err
	}
	s, err := parseStatus(b)
	return s, withFile(err, path)
}

// maxCPUsAllowed bounds the CPU list a status file may expand to; Linux's own limit (NR_CPUS) is 8192.
const maxCPUsAllowed = 1 << 16

// parseStatus parses the "Key:\tvalue" lines of status. Unknown keys are skipped, so new kernels parse;
// a known key with a malformed value is an error naming its line.
func parseStatus(b []byte) (Status, error) {
	if len(b) == 0 {
		return Status{}, &ParseError{Msg: "empty file"}
	}
	var (
		s                     Status
		sawName, sawPID       bool
		lineNo                int
		bad                   = func(msg string) error { return &ParseError{Line: lineNo, Msg: msg} }
		kb                    = func(dst *uint64, key, val []byte) error { return statusKB(dst, key, val, lineNo) }
		num                   = func(dst *int, key, val []byte) error { return statusInt(dst, key, val, lineNo) }
		ctxtSwitches, threads bool
	)
	for len(b) > 0 {
		lineNo++
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if len(line) == 0 {
			continue
		}
		key, val, ok := splitProcKeyValue(line)
		if !ok {
			return Status{}, bad(fmt.Sprintf("no colon in %q", truncateForError(line)))
		}
		var err error
		switch string(key) {
		case "Name":
			s.Name, sawName = string(val), true
		case "State":
			if len(val) == 0 {
				return Status{}, bad("State: empty")
			}
			s.State = string(val[:1])
		case "Tgid":
			err = num(&s.TGID, key, val)
		case "Pid":
			err, sawPID = num(&s.PID, key, val), true
		case "PPid":
			err = num(&s.PPID, key, val)
		case "TracerPid":
			err = num(&s.TracerPID, key, val)
		case "Uid":
			err = statusIDs(&s.UIDs, key, val, lineNo)
		case "Gid":
			err = statusIDs(&s.GIDs, key, val, lineNo)
		case "NSpid":
			s.NSPIDs, err = statusIntList(key, val, lineNo)
		case "FDSize":
			err = num(&s.FDSize, key, val)
		case "VmPeak":
			err = kb(&s.VmPeakBytes, key, val)
		case "VmSize":
			err = kb(&s.VmSizeBytes, key, val)
		case "VmLck":
			err = kb(&s.VmLckBytes, key, val)
		case "VmPin":
			err = kb(&s.VmPinBytes, key, val)
		case "VmHWM":
			err = kb(&s.VmHWMBytes, key, val)
		case "VmRSS":
			err = kb(&s.VmRSSBytes, key, val)
		case "RssAnon":
			err = kb(&s.RssAnonBytes, key, val)
		case "RssFile":
			err = kb(&s.RssFileBytes, key, val)
		case "RssShmem":
			err = kb(&s.RssShmemBytes, key, val)
		case "VmData":
			err = kb(&s.VmDataBytes, key, val)
		case "VmStk":
			err = kb(&s.VmStkBytes, key, val)
		case "VmExe":
			err = kb(&s.VmExeBytes, key, val)
		case "VmLib":
			err = kb(&s.VmLibBytes, key, val)
		case "VmPTE":
			err = kb(&s.VmPTEBytes, key, val)
		case "VmSwap":
			err = kb(&s.VmSwapBytes, key, val)
		case "HugetlbPages":
			err = kb(&s.HugetlbPagesBytes, key, val)
		case "THP_enabled":
			var v int
			err = num(&v, key, val)
			s.THPEnabled = v != 0
		case "Threads":
			err, threads = num(&s.Threads, key, val), true
		case "Cpus_allowed_list":
			s.CPUsAllowed, err = parseCPUList(val)
			if err != nil {
				err = bad(fmt.Sprintf("Cpus_allowed_list: %v", err))
			}
		case "voluntary_ctxt_switches":
			err, ctxtSwitches = statusUint(&s.VoluntaryCtxtSwitches, key, val, lineNo), true
		case "nonvoluntary_ctxt_switches":
			err = statusUint(&s.NonVoluntaryCtxtSwitches, key, val, lineNo)
		}
		if err != nil {
			return Status{}, err
		}
	}
	// Name and Pid open every status file; a file without them is not one (or was cut short before
	// anything useful). Threads and the context switch counts come last: without them it was cut.
	switch {
	case !sawName || !sawPID:
		return Status{}, &ParseError{Msg: "not a status file: no Name or Pid line"}
	case !threads || !ctxtSwitches:
		return Status{}, &ParseError{Line: lineNo, Msg: "truncated: no Threads or voluntary_ctxt_switches line"}
	}
	return s, nil
}

// splitProcKeyValue splits a "Key:\tvalue" line of status or smaps_rollup, trimming the spaces and
// tabs the kernel pads values with.
func splitProcKeyValue(line []byte) (key, val []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i < 0 {
		return nil, nil, false
	}
	return line[:i], bytes.Trim(line[i+1:], " \t"), true
}

// statusKB parses "1234 kB" into bytes.
func statusKB(dst *uint64, key, val []byte, line int) error {
	n, ok := kBValueBytes(val)
	if !ok {
		return &ParseError{Line: line, Msg: fmt.Sprintf("%s: not a kB size: %q", key, truncateForError(val))}
	}
	*dst = n
	return nil
}

// kBValueBytes parses a "<decimal> kB" value into bytes; false if malformed or the bytes overflow.
func kBValueBytes(val []byte) (uint64, bool) {
	num, ok := bytes.CutSuffix(val, []byte(" kB"))
	if !ok {
		return 0, false
	}
	n, ok := parseDecimalBytes(bytes.TrimLeft(num, " "))
	if !ok || n > math.MaxUint64/1024 {
		return 0, false
	}
	return n * 1024, true
}

func statusUint(dst *uint64, key, val []byte, line int) error {
	n, ok := parseDecimalBytes(val)
	if !ok {
		return &ParseError{Line: line, Msg: fmt.Sprintf("%s: not a decimal number: %q", key, truncateForError(val))}
	}
	*dst = n
	return nil
}

func statusInt(dst *int, key, val []byte, line int) error {
	n, ok := parseDecimalBytes(val)
	if !ok || n > math.MaxInt32 {
		return &ParseError{Line: line, Msg: fmt.Sprintf("%s: not a decimal number below 2^31: %q", key, truncateForError(val))}
	}
	*dst = int(n)
	return nil
}

// statusIDs parses the four tab-separated IDs of a Uid or Gid line.
func statusIDs(dst *[4]int, key, val []byte, line int) error {
	ids, err := statusIntList(key, val, line)
	if err != nil {
		return err
	}
	if len(ids) != 4 {
		return &ParseError{Line: line, Msg: fmt.Sprintf("%s: want 4 IDs, have %d", key, len(ids))}
	}
	copy(dst[:], ids)
	return nil
}

// statusIntList parses whitespace-separated non-negative integers (NSpid, Uid, Gid). IDs are 32-bit.
func statusIntList(key, val []byte, line int) ([]int, error) {
	fields := bytes.Fields(val)
	if len(fields) == 0 {
		return nil, &ParseError{Line: line, Msg: fmt.Sprintf("%s: empty", key)}
	}
	out := make([]int, len(fields))
	for i, f := range fields {
		if err := statusInt(&out[i], key, f, line); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// parseCPUList parses a kernel CPU list such as "0-3,8,10-11".
func parseCPUList(val []byte) ([]int, error) {
	if len(val) == 0 {
		return nil, fmt.Errorf("empty")
	}
	var cpus []int
	for r := range bytes.SplitSeq(val, []byte(",")) {
		lo, hi, isRange := bytes.Cut(r, []byte("-"))
		first, ok1 := parseDecimalBytes(lo)
		last, ok2 := first, true
		if isRange {
			last, ok2 = parseDecimalBytes(hi)
		}
		if !ok1 || !ok2 || last < first {
			return nil, fmt.Errorf("bad range %q", truncateForError(r))
		}
		if last >= maxCPUsAllowed || len(cpus)+int(last-first) >= maxCPUsAllowed {
			return nil, fmt.Errorf("more than %d CPUs", maxCPUsAllowed)
		}
		for c := first; c <= last; c++ {
			cpus = append(cpus, int(c))
		}
	}
	return cpus, nil
}
