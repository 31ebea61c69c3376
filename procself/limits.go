package procself

// limits has its own parser rather than procfs's Proc.Limits(): procfs keeps only the soft limit
// column (its regexp captures the hard column and throws it away), and reports "unlimited" as
// 18446744073709551615, a number that leaks into sums and ratios. Headroom questions need both
// columns — the soft RLIMIT_NOFILE can be raised up to the hard one without privileges — and an
// explicit unlimited flag.

import (
	"bytes"
	"fmt"
)

// Limit is one resource limit of the process: the soft limit the kernel enforces and the hard limit
// the soft one may be raised to without privileges. Soft and Hard are in Unit; they are 0 and
// meaningless when the matching Unlimited flag is set.
type Limit struct {
	Soft          uint64
	Hard          uint64
	SoftUnlimited bool
	HardUnlimited bool
	// Unit as the kernel names it: "bytes", "seconds", "files", "processes", "locks", "signals",
	// "us" (microseconds), or "" for the priority limits.
	Unit string
}

// Limits is /proc/<pid>/limits: the process's rlimits, soft and hard. Those that bound memory are
// DataSize (RLIMIT_DATA, which since Linux 4.7 counts all private writable mappings and so caps the
// Go heap's address space), AddressSpace (RLIMIT_AS), StackSize (RLIMIT_STACK, the main thread's
// stack and, through it, the default pthread stack size for cgo threads), LockedMemory
// (RLIMIT_MEMLOCK) and ResidentSet (RLIMIT_RSS, which Linux ignores).
type Limits struct {
	CPUTime          Limit // Max cpu time: CPU seconds before SIGXCPU
	FileSize         Limit // Max file size: largest file the process may write
	DataSize         Limit // Max data size: private writable mappings, brk and data (RLIMIT_DATA)
	StackSize        Limit // Max stack size: the main thread's stack (RLIMIT_STACK)
	CoreFileSize     Limit // Max core file size: 0 disables core dumps
	ResidentSet      Limit // Max resident set: not enforced by Linux
	Processes        Limit // Max processes: threads and processes of the real user ID (RLIMIT_NPROC)
	OpenFiles        Limit // Max open files: one more than the highest descriptor number (RLIMIT_NOFILE)
	LockedMemory     Limit // Max locked memory: mlock and SHM_LOCK (RLIMIT_MEMLOCK)
	AddressSpace     Limit // Max address space: total virtual size (RLIMIT_AS); mmap fails beyond it
	FileLocks        Limit // Max file locks: flock and fcntl locks (not enforced since Linux 2.4.25)
	PendingSignals   Limit // Max pending signals: queued signals of the real user ID
	MsgqueueSize     Limit // Max msgqueue size: bytes in POSIX message queues of the real user ID
	NicePriority     Limit // Max nice priority: ceiling for raising priority, as 20 - nice
	RealtimePriority Limit // Max realtime priority: ceiling for SCHED_FIFO and SCHED_RR priority
	RealtimeTimeout  Limit // Max realtime timeout: µs of real-time CPU without a blocking call
}

// Limits reads /proc/<pid>/limits.
func (fs FS) Limits() (Limits, error) {
	path := fs.ProcPath("limits")
	b, err := fs.readFile(path)
	if err != nil {
		return Limits{}, err
	}
	l, err := parseLimits(b)
	return l, withFile(err, path) // a *FieldErrors comes with every other row filled
}

// limitNames are the resource names as the kernel prints them (lim_names in fs/proc/base.c), all
// present since Linux 2.6.25.
var limitNames = [...]string{
	"Max cpu time", "Max file size", "Max data size", "Max stack size", "Max core file size",
	"Max resident set", "Max processes", "Max open files", "Max locked memory", "Max address space",
	"Max file locks", "Max pending signals", "Max msgqueue size", "Max nice priority",
	"Max realtime priority", "Max realtime timeout",
}

func (l *Limits) byIndex(i int) *Limit {
	return [...]*Limit{
		&l.CPUTime, &l.FileSize, &l.DataSize, &l.StackSize, &l.CoreFileSize, &l.ResidentSet,
		&l.Processes, &l.OpenFiles, &l.LockedMemory, &l.AddressSpace, &l.FileLocks,
		&l.PendingSignals, &l.MsgqueueSize, &l.NicePriority, &l.RealtimePriority, &l.RealtimeTimeout,
	}[i]
}

// parseLimits parses the table the kernel prints as "%-25s %-20s %-20s %-10s": a header line, then one
// line per resource with its name, soft limit, hard limit and unit (the unit column is blank for the
// priorities). Names contain single spaces and are padded with at least two, so a name ends at the
// first double space. Every known resource must appear; unknown ones are skipped. A known row whose
// values cannot be parsed is that row's error (a *FieldErrors whose Field is the row's name, e.g.
// "Max open files"; its Limit stays zero), and the other rows are kept.
func parseLimits(b []byte) (Limits, error) {
	if len(b) == 0 {
		return Limits{}, &ParseError{Msg: "empty file"}
	}
	var (
		l      Limits
		seen   [len(limitNames)]bool
		lineNo int
		bad    fieldErrs
	)
	for len(b) > 0 {
		lineNo++
		line := b
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			b = nil
		}
		if lineNo == 1 {
			if !bytes.HasPrefix(line, []byte("Limit ")) {
				return Limits{}, &ParseError{Line: 1, Msg: fmt.Sprintf("not a limits file: header %q", errorText(line))}
			}
			continue
		}
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		end := bytes.Index(line, []byte("  "))
		if end < 0 {
			return Limits{}, &ParseError{Line: lineNo, Msg: fmt.Sprintf("no columns in %q", errorText(line))}
		}
		name := line[:end]
		i := -1
		for j, n := range limitNames {
			if string(name) == n {
				i = j
				break
			}
		}
		if i < 0 {
			continue // a resource newer than this parser
		}
		if seen[i] {
			bad.add(lineNo, limitNames[i], "repeated; the first line is kept")
			continue
		}
		seen[i] = true
		cols := bytes.Fields(line[end:])
		if len(cols) < 2 || len(cols) > 3 {
			bad.add(lineNo, limitNames[i], fmt.Sprintf("want soft, hard and unit columns, have %d", len(cols)))
			continue
		}
		var (
			v  Limit
			ok bool
		)
		if v.Soft, v.SoftUnlimited, ok = limitValue(cols[0]); !ok {
			bad.add(lineNo, limitNames[i], fmt.Sprintf("soft limit not a number or unlimited: %q", errorText(cols[0])))
			continue
		}
		if v.Hard, v.HardUnlimited, ok = limitValue(cols[1]); !ok {
			bad.add(lineNo, limitNames[i], fmt.Sprintf("hard limit not a number or unlimited: %q", errorText(cols[1])))
			continue
		}
		if len(cols) == 3 {
			v.Unit = string(cols[2])
		}
		*l.byIndex(i) = v
	}
	for i, ok := range seen {
		if !ok {
			return Limits{}, &ParseError{Line: lineNo, Msg: fmt.Sprintf("truncated: no %q line", limitNames[i])}
		}
	}
	return l, bad.err()
}

func limitValue(b []byte) (v uint64, unlimited, ok bool) {
	if string(b) == "unlimited" {
		return 0, true, true
	}
	v, ok = parseDecimal(b)
	return v, false, ok
}
