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
	// UIDs are the real, effective, saved set and filesystem user IDs: unsigned 32-bit, so the
	// user-namespace IDs at and above 2^31 (4294967294, 4294967295) read as themselves.
	UIDs [4]uint32
	GIDs [4]uint32 // real, effective, saved set and filesystem group IDs, as UIDs
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
	return s, withFile(err, path) // a *FieldErrors comes with every other field filled
}

// maxCPUsAllowed bounds the CPU list a status file may expand to; Linux's own limit (NR_CPUS) is 8192.
const maxCPUsAllowed = 1 << 16

// parseStatus parses the "Key:\tvalue" lines of status. Unknown keys are skipped, so new kernels parse.
// A known key with a malformed or out-of-range value is that field's error: the field stays zero, the
// rest is kept, and the error is a *FieldErrors naming each such key and its line. A file without
// Name and Pid, or cut before its last lines, fails whole.
func parseStatus(b []byte) (Status, error) {
	if len(b) == 0 {
		return Status{}, &ParseError{Msg: "empty file"}
	}
	var (
		s                     Status
		sawName, sawPID       bool
		lineNo                int
		bad                   fieldErrs
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
			return Status{}, &ParseError{Line: lineNo, Msg: fmt.Sprintf("no colon in %q", errorText(line))}
		}
		var msg string
		switch string(key) {
		case "Name":
			s.Name, sawName = string(val), true
		case "State":
			if len(val) == 0 {
				msg = "empty"
			} else {
				s.State = string(val[:1])
			}
		case "Tgid":
			msg = statusInt(&s.TGID, val)
		case "Pid":
			msg, sawPID = statusInt(&s.PID, val), true
		case "PPid":
			msg = statusInt(&s.PPID, val)
		case "TracerPid":
			msg = statusInt(&s.TracerPID, val)
		case "Uid":
			msg = statusIDs(&s.UIDs, val)
		case "Gid":
			msg = statusIDs(&s.GIDs, val)
		case "NSpid":
			s.NSPIDs, msg = statusIntList(val)
		case "FDSize":
			msg = statusInt(&s.FDSize, val)
		case "VmPeak":
			msg = statusKB(&s.VmPeakBytes, val)
		case "VmSize":
			msg = statusKB(&s.VmSizeBytes, val)
		case "VmLck":
			msg = statusKB(&s.VmLckBytes, val)
		case "VmPin":
			msg = statusKB(&s.VmPinBytes, val)
		case "VmHWM":
			msg = statusKB(&s.VmHWMBytes, val)
		case "VmRSS":
			msg = statusKB(&s.VmRSSBytes, val)
		case "RssAnon":
			msg = statusKB(&s.RssAnonBytes, val)
		case "RssFile":
			msg = statusKB(&s.RssFileBytes, val)
		case "RssShmem":
			msg = statusKB(&s.RssShmemBytes, val)
		case "VmData":
			msg = statusKB(&s.VmDataBytes, val)
		case "VmStk":
			msg = statusKB(&s.VmStkBytes, val)
		case "VmExe":
			msg = statusKB(&s.VmExeBytes, val)
		case "VmLib":
			msg = statusKB(&s.VmLibBytes, val)
		case "VmPTE":
			msg = statusKB(&s.VmPTEBytes, val)
		case "VmSwap":
			msg = statusKB(&s.VmSwapBytes, val)
		case "HugetlbPages":
			msg = statusKB(&s.HugetlbPagesBytes, val)
		case "THP_enabled":
			var v int
			msg = statusInt(&v, val)
			s.THPEnabled = msg == "" && v != 0
		case "Threads":
			msg, threads = statusInt(&s.Threads, val), true
		case "Cpus_allowed_list":
			cpus, err := parseCPUList(val)
			if err != nil {
				msg = err.Error()
			}
			s.CPUsAllowed = cpus
		case "voluntary_ctxt_switches":
			msg, ctxtSwitches = statusUint(&s.VoluntaryCtxtSwitches, val), true
		case "nonvoluntary_ctxt_switches":
			msg = statusUint(&s.NonVoluntaryCtxtSwitches, val)
		}
		if msg != "" {
			bad.add(lineNo, string(key), msg)
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
	return s, bad.err()
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

// statusKB parses "1234 kB" into bytes; the message says what is wrong, "" if nothing.
func statusKB(dst *uint64, val []byte) string {
	n, msg := parseKB(val)
	if msg != "" {
		return fmt.Sprintf("not a kB size below 2^64 bytes: %q", errorText(val))
	}
	*dst = n
	return ""
}

func statusUint(dst *uint64, val []byte) string {
	n, ok := parseDecimal(val)
	if !ok {
		return fmt.Sprintf("not a decimal number: %q", errorText(val))
	}
	*dst = n
	return ""
}

// statusInt parses a PID, a count or a table size: the kernel keeps them in an int.
func statusInt(dst *int, val []byte) string {
	n, ok := parseDecimal(val)
	if !ok || n > math.MaxInt32 {
		return fmt.Sprintf("not a decimal number below 2^31: %q", errorText(val))
	}
	*dst = int(n)
	return ""
}

// statusIDs parses the four tab-separated IDs of a Uid or Gid line. IDs are unsigned 32-bit
// (uid_t): values at and above 2^31 are valid (4294967294 is a common "nobody" in user namespaces,
// 65534 the overflow ID), so they are parsed as uint32, not int32. dst is left alone on error.
func statusIDs(dst *[4]uint32, val []byte) string {
	fields := bytes.Fields(val)
	if len(fields) != 4 {
		return fmt.Sprintf("want 4 IDs, have %d", len(fields))
	}
	var ids [4]uint32
	for i, f := range fields {
		n, ok := parseDecimal(f)
		if !ok || n > math.MaxUint32 {
			return fmt.Sprintf("not a decimal number below 2^32: %q", errorText(f))
		}
		ids[i] = uint32(n)
	}
	*dst = ids
	return ""
}

// statusIntList parses whitespace-separated non-negative integers (NSpid); nil on error.
func statusIntList(val []byte) ([]int, string) {
	fields := bytes.Fields(val)
	if len(fields) == 0 {
		return nil, "empty"
	}
	out := make([]int, len(fields))
	for i, f := range fields {
		if msg := statusInt(&out[i], f); msg != "" {
			return nil, msg
		}
	}
	return out, ""
}

// parseCPUList parses a kernel CPU list such as "0-3,8,10-11".
func parseCPUList(val []byte) ([]int, error) {
	if len(val) == 0 {
		return nil, fmt.Errorf("empty")
	}
	var cpus []int
	for r := range bytes.SplitSeq(val, []byte(",")) {
		lo, hi, isRange := bytes.Cut(r, []byte("-"))
		first, ok1 := parseDecimal(lo)
		last, ok2 := first, true
		if isRange {
			last, ok2 = parseDecimal(hi)
		}
		if !ok1 || !ok2 || last < first {
			return nil, fmt.Errorf("bad range %q", errorText(r))
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
