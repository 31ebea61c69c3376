package procself

// CgroupMemoryReader: the tick's reading of the memory cgroup, through files kept open and read
// with one pread each; what it reads less often is carried between reads and marked so.

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

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
		return nil, fmt.Errorf("%s: %w", fs.ProcPath("cgroup"), errUnsupported)
	}
	r := &CgroupMemoryReader{fs: fs, statBuf: make([]byte, cgroupReadBufBytes)}
	if err := r.Refresh(); err != nil {
		return nil, err
	}
	return r, nil
}

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
