package procself

import (
	"bytes"
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// CgroupLimit is the value of a limit file: a byte count, or no limit at all.
type CgroupLimit struct {
	// Bytes is the limit; 0 when Unlimited.
	Bytes uint64
	// Unlimited is set for v2 "max" and for the v1 sentinel (PAGE_COUNTER_MAX rounded to the page
	// size, 9223372036854771712 with 4 KiB pages), so that no magic number reaches a caller.
	Unlimited bool
}

// stricter reports whether l limits more than o.
func (l CgroupLimit) stricter(o CgroupLimit) bool {
	switch {
	case l.Unlimited:
		return false
	case o.Unlimited:
		return true
	}
	return l.Bytes < o.Bytes
}

// CgroupFields says which fields of a [CgroupMemory] hold a reading. A file the kernel does not
// provide (memory.peak before Linux 5.19, swap files without swap accounting, anything the cheap
// [CgroupMemoryReader.Read] skips) leaves its bit clear: its field is zero, not a reading of zero.
type CgroupFields uint32

const (
	CgroupHasUsage          CgroupFields = 1 << iota // UsageBytes
	CgroupHasLimit                                   // Limit
	CgroupHasEffectiveLimit                          // EffectiveLimit, EffectiveLimitPath
	CgroupHasPeak                                    // PeakBytes
	CgroupHasSwap                                    // SwapBytes
	CgroupHasSwapLimit                               // SwapLimit (v2)
	CgroupHasMemSwapLimit                            // MemSwapLimit (v1)
	CgroupHasHigh                                    // High (v2)
	CgroupHasLow                                     // Low (v2)
	CgroupHasMin                                     // Min (v2)
	CgroupHasEvents                                  // Events
	CgroupHasStat                                    // Stat
)

// Has reports whether every bit of x is set.
func (f CgroupFields) Has(x CgroupFields) bool { return f&x == x }

// CgroupMemory is one reading of the process's memory cgroup, v1 or v2, in bytes.
//
// Sizes charged to a cgroup include its descendants (v2 memory.current, v1 memory.usage_in_bytes
// and v1 total_* stats are all hierarchical), so a process alone in its cgroup sees its own
// anonymous memory plus the page cache, kernel memory and socket buffers charged to it.
type CgroupMemory struct {
	CgroupLocation
	// Present says which of the fields below hold readings.
	Present CgroupFields

	// UsageBytes is memory charged now: v2 memory.current, v1 memory.usage_in_bytes (which the v1
	// kernel approximates from per-CPU batches; it can run ahead of memory.stat by a few pages
	// per CPU).
	UsageBytes uint64
	// Limit is this cgroup's own hard limit: v2 memory.max, v1 memory.limit_in_bytes.
	Limit CgroupLimit
	// EffectiveLimit is the strictest hard limit of this cgroup and its ancestors that this process
	// can see (levels above the mount point, e.g. outside a container's cgroup namespace, are
	// invisible). On v1 it is the kernel's memory.stat hierarchical_memory_limit.
	EffectiveLimit CgroupLimit
	// EffectiveLimitPath is the cgroup path (as in Path) of the level that sets EffectiveLimit;
	// empty when it is unlimited or when no visible level has that limit (v1, set above the mount).
	EffectiveLimitPath string
	// PeakBytes is the high-water mark of UsageBytes: v2 memory.peak (Linux 5.19+), v1
	// memory.max_usage_in_bytes.
	PeakBytes uint64
	// SwapBytes is swap charged to the cgroup: v2 memory.swap.current, v1 memory.stat total_swap.
	SwapBytes uint64
	// SwapLimit is v2 memory.swap.max, a limit on swap alone.
	SwapLimit CgroupLimit
	// MemSwapLimit is v1 memory.memsw.limit_in_bytes, a limit on memory plus swap (unlike v2's
	// SwapLimit).
	MemSwapLimit CgroupLimit
	// High is v2 memory.high: above it the cgroup is throttled and reclaimed, never OOM-killed.
	High CgroupLimit
	// Low is v2 memory.low, best-effort protection from reclaim.
	Low CgroupLimit
	// Min is v2 memory.min, hard protection from reclaim.
	Min CgroupLimit
	// Events counts limit hits and OOMs.
	Events CgroupMemoryEvents
	// Stat breaks UsageBytes down by kind of memory.
	Stat CgroupMemoryStat
	// Carried is set when Limit and Stat (and EffectiveLimit, which derives from them) were not
	// read for this reading but carried from the reader's last reading of them
	// ([CgroupMemoryReader.ReadSlowEvery]), CarriedAge and CarriedAgeReads readings ago. UsageBytes
	// is read afresh every time. False when they were read now.
	Carried         bool
	CarriedAge      time.Duration // how long ago the carried Limit and Stat were read; 0 unless Carried
	CarriedAgeReads int           // how many readings ago the carried Limit and Stat were read; 0 unless Carried
	// CarriedStatOnly is set with Carried when only Stat was carried and Limit and EffectiveLimit
	// were read now ([CgroupMemoryReader.ReadStatEvery]).
	CarriedStatOnly bool
}

// WorkingSetBytes is usage minus inactive file pages, the kubelet's and cAdvisor's
// container_memory_working_set_bytes: the memory the kernel cannot easily reclaim, and the number
// Kubernetes compares with the limit to evict. ok is false when usage or inactive_file was not read,
// and when Stat is carried from an earlier reading (Carried): usage now minus an older
// inactive_file would be a figure of no single moment.
func (m *CgroupMemory) WorkingSetBytes() (bytes uint64, ok bool) {
	if !m.Present.Has(CgroupHasUsage) || !m.Stat.Present.Has(CgroupStatInactiveFile) || m.Carried {
		return 0, false
	}
	if m.Stat.InactiveFileBytes > m.UsageBytes {
		return 0, true
	}
	return m.UsageBytes - m.Stat.InactiveFileBytes, true
}

// CgroupMemoryEvents counts memory events of the cgroup and its descendants.
type CgroupMemoryEvents struct {
	// Low is v2 "low": reclaims below memory.low (protection overcommitted).
	Low uint64
	// High is v2 "high": throttling above memory.high.
	High uint64
	// Max is v2 "max", or v1 memory.failcnt: times usage hit the hard limit and reclaim ran.
	Max uint64
	// OOM is v2 "oom": times the limit was reached and an allocation was about to fail.
	OOM uint64
	// OOMKill is v2 "oom_kill", or v1 memory.oom_control oom_kill (Linux 4.13+): processes killed.
	OOMKill uint64
	// OOMGroupKill is v2 "oom_group_kill" (Linux 5.17+).
	OOMGroupKill uint64
	// UnderOOM is v1 memory.oom_control under_oom: the cgroup is in OOM now (only possible with
	// the OOM killer disabled).
	UnderOOM bool
	// OOMKillDisable is v1 memory.oom_control oom_kill_disable.
	OOMKillDisable bool
}

// CgroupStatFields says which fields of a [CgroupMemoryStat] the kernel printed.
type CgroupStatFields uint32

const (
	CgroupStatAnon                    CgroupStatFields = 1 << iota // AnonBytes
	CgroupStatFile                                                 // FileBytes
	CgroupStatKernel                                               // KernelBytes
	CgroupStatKernelSummed                                         // KernelBytes is a sum of parts, not the kernel's own total
	CgroupStatKernelStack                                          // KernelStackBytes
	CgroupStatPageTables                                           // PageTablesBytes
	CgroupStatPercpu                                               // PercpuBytes
	CgroupStatSock                                                 // SockBytes
	CgroupStatVmalloc                                              // VmallocBytes
	CgroupStatSlab                                                 // SlabBytes
	CgroupStatSlabReclaimable                                      // SlabReclaimableBytes
	CgroupStatSlabUnreclaimable                                    // SlabUnreclaimableBytes
	CgroupStatShmem                                                // ShmemBytes
	CgroupStatFileMapped                                           // FileMappedBytes
	CgroupStatFileDirty                                            // FileDirtyBytes
	CgroupStatFileWriteback                                        // FileWritebackBytes
	CgroupStatSwapCached                                           // SwapCachedBytes
	CgroupStatAnonTHP                                              // AnonTHPBytes
	CgroupStatInactiveAnon                                         // InactiveAnonBytes
	CgroupStatActiveAnon                                           // ActiveAnonBytes
	CgroupStatInactiveFile                                         // InactiveFileBytes
	CgroupStatActiveFile                                           // ActiveFileBytes
	CgroupStatUnevictable                                          // UnevictableBytes
	CgroupStatSwap                                                 // SwapBytes
	CgroupStatHierarchicalMemoryLimit                              // HierarchicalMemoryLimit
)

// Has reports whether every bit of x is set.
func (f CgroupStatFields) Has(x CgroupStatFields) bool { return f&x == x }

// CgroupMemoryStat is memory.stat, in bytes, under names common to v1 and v2.
//
// v1 prints each counter twice: for the cgroup alone ("rss") and with its descendants
// ("total_rss"). The fields hold the total_ value when the kernel prints one, to agree with v2,
// whose memory.stat is hierarchical, and with UsageBytes. v1 names map as: cache → FileBytes
// (both NR_FILE_PAGES, tmpfs and shmem included), rss → AnonBytes, rss_huge → AnonTHPBytes,
// mapped_file → FileMappedBytes, dirty → FileDirtyBytes, writeback → FileWritebackBytes,
// swapcached → SwapCachedBytes. rss and anon are the same counter (NR_ANON_MAPPED) on current
// kernels, but older v1 kernels (before about 5.8) also counted anonymous swap cache pages in rss.
// v1 has no kernel, slab, sock, percpu or page table breakdown in memory.stat: [FS.CgroupMemory]
// fills KernelBytes from memory.kmem.usage_in_bytes instead.
type CgroupMemoryStat struct {
	// Present says which fields below the kernel printed.
	Present CgroupStatFields

	AnonBytes              uint64 // anonymous mappings: v2 anon, v1 rss
	FileBytes              uint64 // page cache including tmpfs and shmem: v2 file, v1 cache
	KernelBytes            uint64 // v2 kernel (or, on kernels without it, the sum of kernel_stack, pagetables, percpu, vmalloc and slab, flagged CgroupStatKernelSummed; socket buffers are charged separately); v1 memory.kmem.usage_in_bytes
	KernelStackBytes       uint64 // v2 kernel_stack
	PageTablesBytes        uint64 // v2 pagetables
	PercpuBytes            uint64 // v2 percpu
	SockBytes              uint64 // v2 sock: network transmission buffers
	VmallocBytes           uint64 // v2 vmalloc
	SlabBytes              uint64 // v2 slab
	SlabReclaimableBytes   uint64 // v2 slab_reclaimable: dentries, inodes
	SlabUnreclaimableBytes uint64 // v2 slab_unreclaimable
	ShmemBytes             uint64 // swap-backed cache: tmpfs, shm, shared anonymous mmap; part of FileBytes
	FileMappedBytes        uint64 // page cache mapped with mmap: v2 file_mapped, v1 mapped_file
	FileDirtyBytes         uint64 // v2 file_dirty, v1 dirty
	FileWritebackBytes     uint64 // v2 file_writeback, v1 writeback
	SwapCachedBytes        uint64 // swapcached
	AnonTHPBytes           uint64 // anonymous transparent huge pages: v2 anon_thp, v1 rss_huge
	InactiveAnonBytes      uint64 // LRU lists, as the reclaim algorithm sees them
	ActiveAnonBytes        uint64
	InactiveFileBytes      uint64
	ActiveFileBytes        uint64
	UnevictableBytes       uint64
	SwapBytes              uint64 // v1 swap: swap used (v2 has memory.swap.current instead)
	// HierarchicalMemoryLimit is v1 hierarchical_memory_limit, the strictest limit of the cgroup
	// and its ancestors.
	HierarchicalMemoryLimit CgroupLimit

	// All is every key and value of memory.stat as the kernel printed it (sizes in bytes, event
	// counters such as pgfault as counts). Only [FS.CgroupMemory] fills it; the allocation-free
	// [CgroupMemoryReader.Read] sets it to nil.
	All map[string]uint64
}

// CgroupMemory reads every memory controller file of the process's cgroup (see
// [FS.CgroupLocation]) and walks the ancestors up to the mount point for the effective limit.
// It costs a dozen file reads; for a periodic reading use [FS.NewCgroupMemoryReader].
//
// A file the kernel does not provide leaves its Present bit clear without an error. A file that
// exists but cannot be read or parsed also leaves its bit clear, and a malformed line of
// memory.stat clears just its key's bit; the returned error is then a *FieldErrors naming each
// such file or key, and the result holds everything that could be read. An error that is not a
// *FieldErrors (the cgroup could not be found) comes with a zero result.
func (fs FS) CgroupMemory() (CgroupMemory, error) {
	loc, err := fs.CgroupLocation()
	if err != nil {
		return CgroupMemory{}, err
	}
	return fs.readCgroupMemory(loc)
}

// cgroupFileNames are the files each version keeps its readings in.
type cgroupFileNames struct {
	usage, limit, stat string
}

func cgroupFiles(version int) cgroupFileNames {
	if version == 1 {
		return cgroupFileNames{usage: "memory.usage_in_bytes", limit: "memory.limit_in_bytes", stat: "memory.stat"}
	}
	return cgroupFileNames{usage: "memory.current", limit: "memory.max", stat: "memory.stat"}
}

func (fs FS) readCgroupMemory(loc CgroupLocation) (CgroupMemory, error) {
	m := CgroupMemory{CgroupLocation: loc}
	var bad cgroupErrs
	// read returns the file's bytes, or nil for a file the kernel does not provide; other
	// failures are collected.
	read := func(name string) []byte {
		p := filepath.Join(loc.Dir, name)
		b, err := fs.readFile(p)
		if err != nil {
			if !errors.Is(err, iofs.ErrNotExist) {
				bad.add(p, err)
			}
			return nil
		}
		return b
	}
	// value reads a single-value count file; ok is false when it is absent or bad.
	value := func(name string) (v uint64, ok bool) {
		b := read(name)
		if b == nil {
			return 0, false
		}
		v, max, err := parseCgroupValue(b)
		if err == nil && max {
			err = &ParseError{Line: 1, Msg: `"max" where a count was expected`}
		}
		if err != nil {
			bad.add(filepath.Join(loc.Dir, name), err)
			return 0, false
		}
		return v, true
	}
	count := func(name string, dst *uint64, bit CgroupFields) {
		if v, ok := value(name); ok {
			*dst = v
			m.Present |= bit
		}
	}
	limitFailed := false
	limit := func(name string, dst *CgroupLimit, bit CgroupFields) bool {
		n := len(bad)
		if b := read(name); b != nil {
			l, err := parseCgroupLimit(b, loc.Version)
			if err != nil {
				bad.add(filepath.Join(loc.Dir, name), err)
				return false
			}
			*dst = l
			m.Present |= bit
		}
		return len(bad) == n // absent is fine, unreadable is not
	}
	names := cgroupFiles(loc.Version)
	count(names.usage, &m.UsageBytes, CgroupHasUsage)
	limitFailed = !limit(names.limit, &m.Limit, CgroupHasLimit)
	if b := read(names.stat); b != nil {
		m.Stat.All = make(map[string]uint64, 64)
		switch err := parseMemoryStat(b, loc.Version, &m.Stat, m.Stat.All); {
		case IsPartial(err): // the malformed keys' bits are clear; the rest is a reading
			bad.add(filepath.Join(loc.Dir, names.stat), err)
			m.Present |= CgroupHasStat
		case err != nil:
			bad.add(filepath.Join(loc.Dir, names.stat), err)
			m.Stat = CgroupMemoryStat{} // not a memory.stat file: no half-parsed readings
		default:
			m.Present |= CgroupHasStat
		}
	}

	switch loc.Version {
	case 2:
		count("memory.peak", &m.PeakBytes, CgroupHasPeak)
		count("memory.swap.current", &m.SwapBytes, CgroupHasSwap)
		limit("memory.swap.max", &m.SwapLimit, CgroupHasSwapLimit)
		limit("memory.high", &m.High, CgroupHasHigh)
		limit("memory.low", &m.Low, CgroupHasLow)
		limit("memory.min", &m.Min, CgroupHasMin)
		if b := read("memory.events"); b != nil {
			err := parseMemoryEvents(b, &m.Events)
			if err != nil {
				bad.add(filepath.Join(loc.Dir, "memory.events"), err)
			}
			if err == nil || IsPartial(err) {
				m.Present |= CgroupHasEvents
			}
		}
	case 1:
		count("memory.max_usage_in_bytes", &m.PeakBytes, CgroupHasPeak)
		limit("memory.memsw.limit_in_bytes", &m.MemSwapLimit, CgroupHasMemSwapLimit)
		if m.Stat.Present.Has(CgroupStatSwap) {
			m.SwapBytes = m.Stat.SwapBytes
			m.Present |= CgroupHasSwap
		}
		// v1 memory.stat has no kernel total; kmem.usage_in_bytes is one (hierarchical, like
		// usage_in_bytes).
		if v, ok := value("memory.kmem.usage_in_bytes"); ok {
			m.Stat.KernelBytes = v
			m.Stat.Present |= CgroupStatKernel
		}
		if v, ok := value("memory.failcnt"); ok {
			m.Events.Max = v
			m.Present |= CgroupHasEvents
		}
		if b := read("memory.oom_control"); b != nil {
			err := parseOOMControl(b, &m.Events)
			if err != nil {
				bad.add(filepath.Join(loc.Dir, "memory.oom_control"), err)
			}
			if err == nil || IsPartial(err) {
				m.Present |= CgroupHasEvents
			}
		}
	}

	// Without this cgroup's own limit the strictest one cannot be known.
	if !limitFailed {
		anc, ancPath, err := fs.ancestorLimit(loc, names.limit)
		if err != nil {
			bad.add(filepath.Join(loc.Dir, "..", names.limit), err)
		} else {
			m.setEffectiveLimit(anc, ancPath)
		}
	}
	return m, bad.err(loc.Dir)
}

// cgroupErrs collects what could not be read of a cgroup reading made of several files. Each file
// is one field of the reading (its Present bit stays clear): a file that failed whole becomes a
// *ParseError whose Field is the file's name and whose Err is why; a file with malformed lines
// contributes one *ParseError per line, with the key as Field.
type cgroupErrs fieldErrs

func (c *cgroupErrs) add(path string, err error) {
	var fe *FieldErrors
	if errors.As(err, &fe) {
		for _, pe := range fe.Errs {
			if pe.File == "" {
				pe.File = path
			}
			*c = append(*c, pe)
		}
		return
	}
	var pe *ParseError
	if errors.As(err, &pe) {
		if pe.File == "" {
			pe.File = path
		}
		if pe.Field == "" {
			pe.Field = filepath.Base(path)
		}
		*c = append(*c, pe)
		return
	}
	*c = append(*c, &ParseError{File: path, Field: filepath.Base(path), Msg: "not read", Err: err})
}

// err is nil when everything was read, else a *FieldErrors for the cgroup directory dir.
func (c cgroupErrs) err(dir string) error {
	if len(c) == 0 {
		return nil
	}
	return &FieldErrors{File: dir, Errs: c}
}

// setEffectiveLimit combines this cgroup's limit (and on v1 the kernel's hierarchical limit) with
// the strictest ancestor limit, anc, set at ancPath.
func (m *CgroupMemory) setEffectiveLimit(anc CgroupLimit, ancPath string) {
	eff, effPath := CgroupLimit{Unlimited: true}, ""
	if m.Present.Has(CgroupHasLimit) && !m.Limit.Unlimited {
		eff, effPath = m.Limit, m.Path
	}
	if anc.stricter(eff) {
		eff, effPath = anc, ancPath
	}
	if m.Stat.Present.Has(CgroupStatHierarchicalMemoryLimit) {
		// The kernel's own answer wins; the walk only tells which level set it, when visible.
		h := m.Stat.HierarchicalMemoryLimit
		if h != eff {
			switch {
			case h.Unlimited:
				effPath = ""
			case m.Present.Has(CgroupHasLimit) && h == m.Limit:
				effPath = m.Path
			case h == anc:
				effPath = ancPath
			default:
				effPath = ""
			}
			eff = h
		}
	}
	if eff.Unlimited {
		effPath = ""
	}
	m.EffectiveLimit, m.EffectiveLimitPath = eff, effPath
	m.Present |= CgroupHasEffectiveLimit
}

// ancestorLimit walks from loc.Dir's parent up to the mount point and returns the strictest limit
// found in the file named limitFile, and the cgroup path of the level that set it. Levels without
// the file (the root cgroup) are skipped.
func (fs FS) ancestorLimit(loc CgroupLocation, limitFile string) (CgroupLimit, string, error) {
	best, bestPath := CgroupLimit{Unlimited: true}, ""
	dir, cg := filepath.Clean(loc.Dir), loc.Path
	mp := filepath.Clean(loc.MountPoint)
	for dir != mp && hasPathPrefix(dir, mp) {
		dir, cg = filepath.Dir(dir), parentCgroupPath(cg)
		p := filepath.Join(dir, limitFile)
		b, err := fs.readFile(p)
		if errors.Is(err, iofs.ErrNotExist) {
			continue
		}
		if err != nil {
			return CgroupLimit{}, "", err
		}
		l, err := parseCgroupLimit(b, loc.Version)
		if err != nil {
			return CgroupLimit{}, "", withFile(err, p)
		}
		if l.stricter(best) {
			best, bestPath = l, cg
		}
	}
	return best, bestPath, nil
}

// parentCgroupPath drops the last element of a cgroup path; "/" stays "/".
func parentCgroupPath(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "/"
	}
	return p[:i]
}

// CgroupMemoryReader reads the cheap part of the memory cgroup again and again without allocating:
// it resolves the cgroup once, keeps usage, limit and memory.stat open, and re-reads each with one
// pread into a buffer it owns. It is not safe for concurrent use.
//
// Cgroup membership rarely changes, so the reader does not re-read /proc/<pid>/cgroup on every
// Read: call [CgroupMemoryReader.Refresh] on a slow interval if the process may be moved. Read
// refreshes by itself, once, when a file has gone (the cgroup was removed).
type CgroupMemoryReader struct {
	fs  FS
	loc CgroupLocation
	// locator, when set, resolves the cgroup for Refresh (CgroupLocator.NewCgroupMemoryReader): a
	// location another reader resolved is not resolved again.
	locator *CgroupLocator
	usage   preadFile
	limit   preadFile
	stat    preadFile

	// Single-value files hold at most 20 digits and a newline (or "max\n"); memory.stat is read
	// into statBuf, which grows if a kernel prints more than it holds.
	usageBuf [cgroupValueBufBytes]byte
	limitBuf [cgroupValueBufBytes]byte
	statBuf  []byte

	// anc is the strictest limit above this cgroup, as of the last Refresh; ancestors' limits
	// change rarely and walking them costs a read per level.
	anc     CgroupLimit
	ancPath string

	// The last reading of the slowly changing files, limit and memory.stat, for
	// [CgroupMemoryReader.ReadSlowEvery] to carry.
	lastLimit      CgroupLimit
	lastLimitOK    bool
	lastStat       CgroupMemoryStat
	lastStatOK     bool
	lastSlowTime   time.Time // monotonic clock reading of when they were read
	haveSlow       bool      // they were read, and nothing failed
	readsSinceSlow int

	closed bool
}

// cgroupValueBufBytes holds a single-value file: 20 digits of a uint64 and a newline fit in 21.
const cgroupValueBufBytes = 32

// cgroupReadBufBytes fits memory.stat of current kernels (about 1.5 KiB on v1, 2 KiB on v2) with
// room to spare; the buffer doubles if a kernel prints more.
const cgroupReadBufBytes = 8 << 10

// maxCgroupFileBytes bounds the buffer: no memory controller file comes near it.
const maxCgroupFileBytes = 1 << 20

// NewCgroupMemoryReader resolves the process's memory cgroup and opens the files [CgroupMemoryReader.Read]
// reads. The caller must Close the reader.
func (fs FS) NewCgroupMemoryReader() (*CgroupMemoryReader, error) {
	if !supported {
		return nil, fmt.Errorf("%s: %w", fs.ProcPath("cgroup"), ErrUnsupported)
	}
	r := &CgroupMemoryReader{fs: fs, statBuf: make([]byte, cgroupReadBufBytes)}
	if err := r.Refresh(); err != nil {
		return nil, err
	}
	return r, nil
}

// Location is the cgroup the reader reads, as of the last Refresh.
func (r *CgroupMemoryReader) Location() CgroupLocation { return r.loc }

// Refresh resolves the process's cgroup again, reopens its files and re-reads the ancestors'
// limits. It forgets the limit and memory.stat reading [CgroupMemoryReader.ReadSlowEvery]
// carries: it may belong to another cgroup. It allocates; call it on a slow interval, not every tick.
func (r *CgroupMemoryReader) Refresh() error {
	if r.closed {
		return fmt.Errorf("cgroup memory reader: %w", os.ErrClosed)
	}
	var loc CgroupLocation
	var err error
	if r.locator != nil {
		loc, err = r.locator.Locate()
	} else {
		loc, err = r.fs.CgroupLocation()
	}
	if err != nil {
		return err
	}
	names := cgroupFiles(loc.Version)
	var files [3]preadFile
	closeAll := func() {
		for _, f := range files {
			if f.isOpen() {
				f.close()
			}
		}
	}
	for i, name := range []string{names.usage, names.limit, names.stat} {
		f, err := openPread(filepath.Join(loc.Dir, name))
		if err != nil {
			if errors.Is(err, iofs.ErrNotExist) {
				continue // e.g. no memory.current in a v2 root cgroup: Read leaves the bit clear
			}
			closeAll()
			return err
		}
		files[i] = f
	}
	anc, ancPath, err := r.fs.ancestorLimit(loc, names.limit)
	if err != nil {
		closeAll()
		return err
	}
	r.closeFiles()
	r.loc = loc
	r.usage, r.limit, r.stat = files[0], files[1], files[2]
	r.anc, r.ancPath = anc, ancPath
	r.lastLimit, r.lastLimitOK, r.lastStat, r.lastStatOK = CgroupLimit{}, false, CgroupMemoryStat{}, false
	r.haveSlow, r.readsSinceSlow = false, 0
	return nil
}

// Read fills dst with usage, this cgroup's limit, the effective limit (ancestors as of the last
// Refresh, on v1 the kernel's hierarchical_memory_limit) and memory.stat without All, all read
// now. It leaves clear the bits of everything else (peak, swap, high/low/min, events, v1 kernel
// memory): those need [FS.CgroupMemory]. It does not allocate once the buffer has grown to fit
// memory.stat.
//
// A file that is read but malformed (or a malformed line of memory.stat) leaves its bit clear and
// is named in a *FieldErrors; the rest of dst is a reading. Any other error means nothing in dst
// was read.
func (r *CgroupMemoryReader) Read(dst *CgroupMemory) error { return r.readRetry(dst, statFresh, 0, 0) }

// ReadUsage is Read without memory.stat, for ticks that need only usage and headroom. On v1 the
// effective limit is computed from the walk, which agrees with hierarchical_memory_limit whenever
// memory.use_hierarchy is on (always on since Linux 5.10 and in every container runtime).
func (r *CgroupMemoryReader) ReadUsage(dst *CgroupMemory) error {
	return r.readRetry(dst, statNone, 0, 0)
}

// ReadSlowEvery is Read for a periodic tick that reads what changes slowly less often than usage:
// usage is read on every call; the limit and memory.stat are read when the reader has no reading
// of them yet (none by Read or ReadSlowEvery since it was opened or refreshed, or the last attempt
// failed), when their last reading is every or more calls old, or when it is maxAge or more old
// (maxAge 0: no age bound). On the other calls dst.Limit, dst.Stat and the effective limit are the
// last reading, carried: dst.Carried is set and dst.CarriedAge and dst.CarriedAgeReads say how old
// it is, so it is never taken for a reading made now.
//
// memory.stat is the expensive file (the kernel sums dozens of per-CPU counters for each of its
// ~70 lines: 10–16 µs against 1–2 µs for usage on a 2-core VM), and what it is used for — the
// split between anon, file and kernel memory, inactive_file for the working set — moves over
// seconds. A limit changes when an operator changes it; on v1 the effective limit already comes
// from memory.stat's hierarchical_memory_limit, and ancestors' limits are re-read only on Refresh.
// Usage is what moves from tick to tick, and it is read every time.
func (r *CgroupMemoryReader) ReadSlowEvery(dst *CgroupMemory, every int, maxAge time.Duration) error {
	return r.readRetry(dst, statEvery, every, maxAge)
}

// ReadStatEvery is ReadSlowEvery with the limit read on every call, like usage: only memory.stat
// is carried between its reads (dst.Carried and dst.CarriedStatOnly are then set). It is for a
// caller that acts on the limit at once — memdiag's adaptive memory limit follows an operator who
// lowers the container's limit at the next tick — and costs one more pread of a one-line file
// (1–2 µs) per call than ReadSlowEvery.
//
// On cgroup v1 the effective limit comes from memory.stat's hierarchical_memory_limit, which may
// then be carried: a carried value equal to this cgroup's own limit when it was read is taken to
// be that limit and gives way to the limit read now; any other carried value came from an
// ancestor and still applies when it is the stricter.
func (r *CgroupMemoryReader) ReadStatEvery(dst *CgroupMemory, every int, maxAge time.Duration) error {
	return r.readRetry(dst, statEveryFreshLimit, every, maxAge)
}

type statMode uint8

const (
	statNone            statMode = iota // ReadUsage
	statFresh                           // Read
	statEvery                           // ReadSlowEvery
	statEveryFreshLimit                 // ReadStatEvery
)

func (r *CgroupMemoryReader) readRetry(dst *CgroupMemory, mode statMode, every int, maxAge time.Duration) error {
	err := r.read(dst, mode, every, maxAge)
	if err != nil && !r.closed && !IsPartial(err) && (errors.Is(err, iofs.ErrNotExist) || errors.Is(err, syscall.ENODEV)) {
		// The cgroup was removed under us (the process moved, the container was updated).
		if rerr := r.Refresh(); rerr != nil {
			return errors.Join(err, rerr)
		}
		err = r.read(dst, mode, every, maxAge)
	}
	return err
}

func (r *CgroupMemoryReader) read(dst *CgroupMemory, mode statMode, every int, maxAge time.Duration) error {
	if r.closed {
		return fmt.Errorf("cgroup memory reader: %w", os.ErrClosed)
	}
	*dst = CgroupMemory{CgroupLocation: r.loc}
	var bad cgroupErrs
	if r.usage.isOpen() {
		n, err := r.usage.readAt0(r.usageBuf[:])
		if err != nil {
			return err
		}
		v, max, err := parseCgroupValue(r.usageBuf[:n])
		if err == nil && max {
			err = &ParseError{Line: 1, Msg: `"max" where a count was expected`}
		}
		if err == nil && n == len(r.usageBuf) {
			err = &ParseError{Line: 1, Msg: fmt.Sprintf("longer than %d bytes", len(r.usageBuf))}
		}
		if err != nil {
			bad.add(r.usage.name(), err)
		} else {
			dst.UsageBytes = v
			dst.Present |= CgroupHasUsage
		}
	}

	// The limit and memory.stat change slowly: ReadSlowEvery carries them between its reads,
	// ReadStatEvery memory.stat alone.
	carry := (mode == statEvery || mode == statEveryFreshLimit) && r.haveSlow && r.readsSinceSlow+1 < every
	var age time.Duration
	if carry {
		age = time.Since(r.lastSlowTime)
		carry = maxAge <= 0 || age < maxAge
	}
	if carry {
		r.readsSinceSlow++
		if r.lastStatOK {
			dst.Stat = r.lastStat
			dst.Present |= CgroupHasStat
		}
		dst.Carried, dst.CarriedAge, dst.CarriedAgeReads = true, age, r.readsSinceSlow
		if mode == statEvery {
			if r.lastLimitOK {
				dst.Limit = r.lastLimit
				dst.Present |= CgroupHasLimit
			}
			dst.setEffectiveLimit(r.anc, r.ancPath)
			return bad.err(r.loc.Dir)
		}
		dst.CarriedStatOnly = true
		if _, err := r.readLimit(dst, &bad); err != nil {
			return err
		}
		// The carried hierarchical limit may be this cgroup's own limit before an operator
		// lowered it: the effective limit is then the walk's, from the limit just read. A limit
		// raised since keeps the carried, stricter one until memory.stat is read again (at most
		// every calls): an effective limit that errs low, never high.
		// Otherwise the carried one came from an ancestor (or is the stricter) and still applies
		// where it is stricter than the walk's.
		st := dst.Stat
		h := st.HierarchicalMemoryLimit
		keep := st.Present.Has(CgroupStatHierarchicalMemoryLimit) &&
			!(r.lastLimitOK && h == r.lastLimit && dst.Present.Has(CgroupHasLimit) && dst.Limit.stricter(h))
		dst.Stat.Present &^= CgroupStatHierarchicalMemoryLimit
		dst.setEffectiveLimit(r.anc, r.ancPath)
		dst.Stat = st
		if keep && h.stricter(dst.EffectiveLimit) {
			dst.EffectiveLimit, dst.EffectiveLimitPath = h, ""
			switch {
			case dst.Present.Has(CgroupHasLimit) && h == dst.Limit:
				dst.EffectiveLimitPath = dst.Path
			case h == r.anc:
				dst.EffectiveLimitPath = r.ancPath
			}
		}
		return bad.err(r.loc.Dir)
	}

	statOK := false
	limitOK, err := r.readLimit(dst, &bad)
	if err != nil {
		return err
	}
	failed := r.limit.isOpen() && !limitOK
	if mode != statNone && r.stat.isOpen() {
		b, err := r.preadStat()
		if err != nil {
			return err
		}
		switch err := parseMemoryStat(b, r.loc.Version, &dst.Stat, nil); {
		case err == nil || IsPartial(err):
			if err != nil {
				bad.add(r.stat.name(), err)
			}
			dst.Present |= CgroupHasStat
			statOK = true
		default:
			dst.Stat = CgroupMemoryStat{}
			bad.add(r.stat.name(), err)
			failed = true
		}
	}
	if mode != statNone {
		// A reading with a file that failed is not carried: the next call reads them again
		// rather than carry an older or partial picture.
		r.lastLimit, r.lastLimitOK, r.lastStat, r.lastStatOK = dst.Limit, limitOK, dst.Stat, statOK
		r.lastSlowTime, r.haveSlow, r.readsSinceSlow = time.Now(), !failed, 0
	}
	dst.setEffectiveLimit(r.anc, r.ancPath)
	return bad.err(r.loc.Dir)
}

// readLimit reads this cgroup's own limit into dst, if its file is open. A malformed file is
// added to bad and ok is false; any other error means nothing was read.
func (r *CgroupMemoryReader) readLimit(dst *CgroupMemory, bad *cgroupErrs) (ok bool, err error) {
	if !r.limit.isOpen() {
		return false, nil
	}
	n, err := r.limit.readAt0(r.limitBuf[:])
	if err != nil {
		return false, err
	}
	l, err := parseCgroupLimit(r.limitBuf[:n], r.loc.Version)
	if err == nil && n == len(r.limitBuf) {
		err = &ParseError{Line: 1, Msg: fmt.Sprintf("longer than %d bytes", len(r.limitBuf))}
	}
	if err != nil {
		bad.add(r.limit.name(), err)
		return false, nil
	}
	dst.Limit = l
	dst.Present |= CgroupHasLimit
	return true, nil
}

// preadStat reads memory.stat from offset 0 into the reader's buffer with one pread, growing the
// buffer (and reading again) only if the file fills it. Offset 0 makes the kernel generate the
// file afresh; no seek, no reopen.
func (r *CgroupMemoryReader) preadStat() ([]byte, error) {
	for {
		n, err := r.stat.readAt0(r.statBuf)
		if err != nil {
			return nil, err // *fs.PathError names the file
		}
		if n < len(r.statBuf) {
			return r.statBuf[:n], nil
		}
		if len(r.statBuf) >= maxCgroupFileBytes {
			return nil, fmt.Errorf("read %s: larger than %d bytes", r.stat.name(), maxCgroupFileBytes)
		}
		r.statBuf = make([]byte, 2*len(r.statBuf))
	}
}

// Close closes the files. It is idempotent; Read after Close returns an error wrapping
// os.ErrClosed.
func (r *CgroupMemoryReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.closeFiles()
}

func (r *CgroupMemoryReader) closeFiles() error {
	var errs []error
	for _, f := range []preadFile{r.usage, r.limit, r.stat} {
		if f.isOpen() {
			if err := f.close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	r.usage, r.limit, r.stat = preadFile{}, preadFile{}, preadFile{}
	return errors.Join(errs...)
}

// v1UnlimitedBytes: v1 limit files print PAGE_COUNTER_MAX * PAGE_SIZE for "no limit", which
// depends on the page size (9223372036854771712 with 4 KiB pages, 9223372036854710272 with
// 64 KiB). Any value at or above MaxInt64 rounded down to 1 MiB is that sentinel, whatever the page
// size; no machine has 8 EiB to limit.
const v1UnlimitedBytes = (1<<63 - 1) &^ (1<<20 - 1)

// parseCgroupLimit parses a limit file: v2 "max" or bytes, v1 bytes with the unlimited sentinel.
func parseCgroupLimit(b []byte, version int) (CgroupLimit, error) {
	v, max, err := parseCgroupValue(b)
	switch {
	case err != nil:
		return CgroupLimit{}, err
	case max, version == 1 && v >= v1UnlimitedBytes:
		return CgroupLimit{Unlimited: true}, nil
	}
	return CgroupLimit{Bytes: v}, nil
}

// parseCgroupValue parses a single-value file: one unsigned decimal or "max", and a newline.
func parseCgroupValue(b []byte) (v uint64, max bool, err error) {
	s := bytes.TrimSpace(b)
	if len(s) == 0 {
		return 0, false, &ParseError{Msg: "empty file"}
	}
	if string(s) == "max" {
		return 0, true, nil
	}
	v, ok := parseDecimal(s)
	if !ok {
		return 0, false, &ParseError{Line: 1, Msg: fmt.Sprintf("value %q is not an unsigned integer or \"max\"", errorText(s))}
	}
	return v, false, nil
}

// parseMemoryStat parses memory.stat ("key value" lines) into st, and into all when not nil.
// Unknown keys are kept only in all: kernels add keys, and a new key is not an error. A malformed
// line is its key's error (a *FieldErrors; the field's Present bit stays clear) and the rest is
// kept. It does not allocate when all is nil and nothing is malformed.
func parseMemoryStat(b []byte, version int, st *CgroupMemoryStat, all map[string]uint64) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return &ParseError{Msg: "empty file"}
	}
	var fromTotal CgroupStatFields
	sc := kvScanner{b: b}
	for sc.scan() {
		key, total := sc.key, false
		if version == 1 && len(key) > len("total_") && string(key[:len("total_")]) == "total_" {
			key, total = key[len("total_"):], true
		}
		if string(key) == "hierarchical_memory_limit" {
			l := CgroupLimit{Bytes: sc.val}
			if sc.val >= v1UnlimitedBytes {
				l = CgroupLimit{Unlimited: true}
			}
			st.HierarchicalMemoryLimit = l
			st.Present |= CgroupStatHierarchicalMemoryLimit
		} else if p, bit := st.field(key); p != nil && (total || fromTotal&bit == 0) {
			*p = sc.val
			st.Present |= bit
			if total {
				fromTotal |= bit
			}
		}
		if all != nil {
			all[string(sc.key)] = sc.val
		}
	}
	if sc.err != nil {
		return sc.err
	}
	// A v1 total_ key that failed must not leave the cgroup-only value standing in for the
	// hierarchical one (v1 prints the cgroup-only keys first).
	for _, pe := range sc.bad {
		if version == 1 && strings.HasPrefix(pe.Field, "total_") {
			if p, bit := st.field([]byte(pe.Field[len("total_"):])); p != nil {
				*p, st.Present = 0, st.Present&^bit
			}
		}
	}
	if version == 2 && !st.Present.Has(CgroupStatKernel) {
		// Kernels before "kernel" was added to memory.stat print its parts.
		const parts = CgroupStatKernelStack | CgroupStatPageTables | CgroupStatPercpu | CgroupStatVmalloc | CgroupStatSlab
		if st.Present&parts != 0 {
			st.KernelBytes = st.KernelStackBytes + st.PageTablesBytes + st.PercpuBytes + st.VmallocBytes + st.SlabBytes
			st.Present |= CgroupStatKernel | CgroupStatKernelSummed
		}
	}
	return sc.result()
}

// field maps a memory.stat key, v1 or v2, to its field.
func (st *CgroupMemoryStat) field(key []byte) (*uint64, CgroupStatFields) {
	switch string(key) {
	case "anon", "rss":
		return &st.AnonBytes, CgroupStatAnon
	case "file", "cache":
		return &st.FileBytes, CgroupStatFile
	case "kernel":
		return &st.KernelBytes, CgroupStatKernel
	case "kernel_stack":
		return &st.KernelStackBytes, CgroupStatKernelStack
	case "pagetables":
		return &st.PageTablesBytes, CgroupStatPageTables
	case "percpu":
		return &st.PercpuBytes, CgroupStatPercpu
	case "sock":
		return &st.SockBytes, CgroupStatSock
	case "vmalloc":
		return &st.VmallocBytes, CgroupStatVmalloc
	case "slab":
		return &st.SlabBytes, CgroupStatSlab
	case "slab_reclaimable":
		return &st.SlabReclaimableBytes, CgroupStatSlabReclaimable
	case "slab_unreclaimable":
		return &st.SlabUnreclaimableBytes, CgroupStatSlabUnreclaimable
	case "shmem":
		return &st.ShmemBytes, CgroupStatShmem
	case "file_mapped", "mapped_file":
		return &st.FileMappedBytes, CgroupStatFileMapped
	case "file_dirty", "dirty":
		return &st.FileDirtyBytes, CgroupStatFileDirty
	case "file_writeback", "writeback":
		return &st.FileWritebackBytes, CgroupStatFileWriteback
	case "swapcached":
		return &st.SwapCachedBytes, CgroupStatSwapCached
	case "anon_thp", "rss_huge":
		return &st.AnonTHPBytes, CgroupStatAnonTHP
	case "inactive_anon":
		return &st.InactiveAnonBytes, CgroupStatInactiveAnon
	case "active_anon":
		return &st.ActiveAnonBytes, CgroupStatActiveAnon
	case "inactive_file":
		return &st.InactiveFileBytes, CgroupStatInactiveFile
	case "active_file":
		return &st.ActiveFileBytes, CgroupStatActiveFile
	case "unevictable":
		return &st.UnevictableBytes, CgroupStatUnevictable
	case "swap":
		return &st.SwapBytes, CgroupStatSwap
	}
	return nil, 0
}

// parseMemoryEvents parses v2 memory.events; unknown keys are skipped.
func parseMemoryEvents(b []byte, ev *CgroupMemoryEvents) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return &ParseError{Msg: "empty file"}
	}
	sc := kvScanner{b: b}
	for sc.scan() {
		switch string(sc.key) {
		case "low":
			ev.Low = sc.val
		case "high":
			ev.High = sc.val
		case "max":
			ev.Max = sc.val
		case "oom":
			ev.OOM = sc.val
		case "oom_kill":
			ev.OOMKill = sc.val
		case "oom_group_kill":
			ev.OOMGroupKill = sc.val
		}
	}
	return sc.result()
}

// parseOOMControl parses v1 memory.oom_control; unknown keys are skipped.
func parseOOMControl(b []byte, ev *CgroupMemoryEvents) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return &ParseError{Msg: "empty file"}
	}
	sc := kvScanner{b: b}
	for sc.scan() {
		switch string(sc.key) {
		case "oom_kill_disable":
			ev.OOMKillDisable = sc.val != 0
		case "under_oom":
			ev.UnderOOM = sc.val != 0
		case "oom_kill":
			ev.OOMKill = sc.val
		}
	}
	return sc.result()
}

// kvScanner walks the "key value\n" lines of a flat-keyed cgroup file without allocating.
// Blank lines are skipped. A line that is not a key, one space and an unsigned decimal is that
// key's error (collected in bad, the scan goes on); past maxKVFieldErrors such lines the file is
// not a flat-keyed file at all and the scan stops with err set.
type kvScanner struct {
	b    []byte
	line int
	key  []byte
	val  uint64
	bad  fieldErrs
	err  error
}

// maxKVFieldErrors bounds how many malformed lines a flat-keyed file may have and still be read
// for the rest: a real kernel prints none, so more than a few means the file is something else.
const maxKVFieldErrors = 8

func (s *kvScanner) scan() bool {
	for len(s.b) > 0 && s.err == nil {
		s.line++
		var line []byte
		if i := bytes.IndexByte(s.b, '\n'); i >= 0 {
			line, s.b = s.b[:i], s.b[i+1:]
		} else {
			line, s.b = s.b, nil
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		sp := bytes.IndexByte(line, ' ')
		if sp <= 0 {
			s.fail(line, "no value")
			continue
		}
		v, ok := parseDecimal(bytes.TrimSpace(line[sp+1:]))
		if !ok {
			s.fail(line[:sp], fmt.Sprintf("value %q is not an unsigned integer below 2^64", errorText(line[sp+1:])))
			continue
		}
		s.key, s.val = line[:sp], v
		return true
	}
	return false
}

func (s *kvScanner) fail(key []byte, msg string) {
	if len(s.bad) >= maxKVFieldErrors {
		s.err = &ParseError{Line: s.line, Msg: fmt.Sprintf("more than %d malformed lines: not a flat-keyed file", maxKVFieldErrors)}
		return
	}
	s.bad.add(s.line, errorText(key), msg)
}

// result is the scan's error: a whole-file *ParseError, a *FieldErrors naming the malformed keys,
// or nil.
func (s *kvScanner) result() error {
	if s.err != nil {
		return s.err
	}
	return s.bad.err()
}
