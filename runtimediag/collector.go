package runtimediag

import (
	"context"
	"errors"
	"fmt"
	"runtime/metrics"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/memdiag/memdiag/procself"
)

// Collector reads snapshots. It keeps the few files the cheap tier reads every tick open (statm,
// the cgroup memory files) and the buffers the runtime fills, so a warm cheap read allocates
// nothing and opens nothing. Reads are serialised; a Collector is safe for concurrent use.
// Nothing runs in the background: a Collector reads only when asked.
type Collector struct {
	cfg        config
	fs         procself.FS
	runtimeErr error // metrics this Go version lacks; fixed for the life of the binary

	mu     sync.Mutex
	closed bool
	gc     gcStatsReader
	statm  *procself.StatmReader
	cgroup *procself.CgroupMemoryReader
	smaps  *procself.MappingsReader // keeps smaps' read buffer (megabytes) from one full read to the next
	// cgLoc keeps the memory cgroup's location between full reads: resolving it parses mountinfo
	// (tens of kilobytes allocated), and it only changes when the process changes cgroup.
	cgLoc  *procself.CgroupLocator
	srcLog *sourceLog // shared by a Monitor's collectors
	// recheck reads the heap's free and released bytes again after smaps (HeapAfterMappings).
	recheck []metrics.Sample
}

// cgroupStatEveryTicks and cgroupStatMaxAge set how often the cheap tier reads the cgroup's
// slowly changing files, memory.stat and the limit: on every 10th cheap read, and on any cheap
// read when the last one is 10 s old or more; the reads in between carry them, marked as carried
// with their age (procself.CgroupMemory.Carried, CarriedAge, CarriedAgeReads), while usage is
// read every time. A Monitor with WithMemoryLimit reads the limit every time too
// (procself.CgroupMemoryReader.ReadStatEvery): it acts on a lowered limit at the next tick.
//
// Why: on a 2-core cgroup-v1 VM memory.stat costs 10–16 µs per read, two thirds of the whole cheap
// snapshot, because the kernel sums its per-CPU counters for every one of its ~70 lines; usage and
// the limit cost 1–2 µs each. What the cheap tier uses memory.stat for — the split of usage into
// anonymous, file and kernel memory, inactive_file for the working set — moves with the page
// cache and the heap over seconds; a limit moves when an operator changes it (and on v1 the
// effective limit comes from memory.stat anyway). Usage, which moves from tick to tick, is read
// fresh. Ten ticks is 10 s at the Monitor's default 1 s interval; the age bound keeps a rarely
// called collector (Cheap on demand) from carrying a reading minutes old. The full tier always
// reads everything afresh.
const (
	cgroupStatEveryTicks = 10
	cgroupStatMaxAge     = 10 * time.Second
)

// NewCollector validates the options and returns a Collector. It opens no files until the first
// read.
func NewCollector(opts ...Option) (*Collector, error) {
	cfg, err := applyOptions("NewCollector", opts)
	if err != nil {
		return nil, err
	}
	return newCollector(cfg)
}

// newCollector checks what the options could not check alone and returns a Collector of cfg.
func newCollector(cfg config) (*Collector, error) {
	if err := cfg.checkRoot(); err != nil {
		return nil, err
	}
	return &Collector{cfg: cfg, fs: procself.New(cfg.root), runtimeErr: unsupportedRuntimeMetrics(), srcLog: new(sourceLog)}, nil
}

// Cheap returns a new snapshot of the cheap tier: runtime/metrics, GC pause history, statm and the
// cgroup's memory counters (usage every time; the limit and memory.stat every
// cgroupStatEveryTicks-th time, carried and marked so in between). It never stops the world and costs microseconds whatever the process's
// size (docs/performance.md).
func (c *Collector) Cheap() *Snapshot {
	s := new(Snapshot)
	c.ReadCheap(s)
	return s
}

// Full returns a new snapshot of the full tier (the cheap tier plus smaps, status, threads, fds,
// auxv, limits, …). Its cost grows with resident memory and the number of mappings and threads;
// ctx cancels it between sources, and sources not reached say so.
func (c *Collector) Full(ctx context.Context) *Snapshot {
	s := new(Snapshot)
	c.Read(ctx, s, c.cfg.fullSources)
	return s
}

// ReadCheap fills dst with the cheap tier, reusing dst's buffers: once dst has been filled before,
// it allocates nothing.
func (c *Collector) ReadCheap(dst *Snapshot) { c.Read(context.Background(), dst, CheapSources) }

// Read fills dst with the given sources, reusing dst's buffers. Fields of sources not in set are
// zeroed, so a reused snapshot never shows an old reading as new.
func (c *Collector) Read(ctx context.Context, dst *Snapshot, set SourceSet) {
	c.mu.Lock()
	defer c.mu.Unlock()

	start := time.Now()
	dst.Time = c.cfg.clock.Now()
	dst.Requested = set & AllSources
	for src := Source(0); src < numSources; src++ {
		dst.sources[src] = sourceResult{}
		if !set.Has(src) {
			c.clear(dst, src)
			continue
		}
		if c.closed {
			dst.sources[src].err = errCollectorClosed
			c.clear(dst, src)
			continue
		}
		if err := ctx.Err(); err != nil {
			dst.sources[src].err = fmt.Errorf("not read: %w", err)
			c.clear(dst, src)
			continue
		}
		t0 := time.Now()
		err := c.readSource(dst, src, set)
		dst.sources[src] = sourceResult{err: err, cost: time.Since(t0)}
		c.srcLog.note(c.logger(), src, err)
		// runtime/metrics' only error names metrics a future Go dropped: the rest were read. A
		// *procself.FieldErrors likewise keeps the rest of the source (Snapshot.Unread names
		// what is missing).
		if err != nil && src != SourceRuntimeMetrics && !procself.IsPartial(err) {
			c.clear(dst, src)
		}
	}
	dst.Duration = time.Since(start)
}

// readSource reads one source into dst. It is a switch rather than a table of closures so that
// the cheap path allocates nothing.
func (c *Collector) readSource(dst *Snapshot, src Source, set SourceSet) error {
	var err error
	switch src {
	case SourceRuntimeMetrics:
		if dst.samples == nil {
			dst.samples = newRuntimeSamples()
		}
		metrics.Read(dst.samples)
		decodeRuntimeMetrics(dst.samples, &dst.Runtime)
		return c.runtimeErr // partial: the fields it names are zero
	case SourceGCPauses:
		c.gc.read(&dst.GCPauses)
	case SourceStatm:
		if c.statm == nil {
			if c.statm, err = c.fs.NewStatmReader(); err != nil {
				c.statm = nil
				return err
			}
		}
		if dst.Statm, err = c.statm.Read(); err != nil && !procself.IsPartial(err) {
			// Reopen on the next tick rather than keep reading a file that failed.
			c.statm.Close()
			c.statm = nil
		}
	case SourceCgroupMemory:
		if set.Has(SourceSmaps) || set.Has(SourceStatus) {
			// A full read walks the hierarchy for the effective limit and keeps the whole stat file,
			// at the location kept since the last full read when the process did not move.
			loc, err := c.cgroupLocator().Locate()
			if err != nil {
				return err
			}
			dst.CgroupMemory, err = c.fs.CgroupMemoryAt(loc)
			if err != nil && !procself.IsPartial(err) {
				c.cgLoc.Forget() // the cgroup may have gone: resolve it again next time
			}
			return err
		}
		if c.cgroup == nil {
			// Through the locator the full reads use: the tick's reader and a full read resolve
			// the cgroup once between them.
			if c.cgroup, err = c.cgroupLocator().NewCgroupMemoryReader(); err != nil {
				c.cgroup = nil
				return err
			}
		}
		// memory.stat is most of the cheap tier's cost and, like the limit, changes slowly in
		// what it is used for; usage is read every tick (see cgroupStatEveryTicks), and so is the
		// limit when the adaptive memory limit acts on it.
		if c.cfg.cgroupLimitEveryRead {
			err = c.cgroup.ReadStatEvery(&dst.CgroupMemory, cgroupStatEveryTicks, cgroupStatMaxAge)
		} else {
			err = c.cgroup.ReadSlowEvery(&dst.CgroupMemory, cgroupStatEveryTicks, cgroupStatMaxAge)
		}
		if err != nil && !procself.IsPartial(err) {
			// The process may have moved to another cgroup, or the cgroup gone: resolve it again
			// on the next tick.
			c.cgroup.Close()
			c.cgroup = nil
			c.cgLoc.Forget()
		}
	case SourceStatus:
		dst.Status, err = c.fs.Status()
	case SourceStat:
		dst.Stat, err = c.fs.Stat()
	case SourceLimits:
		dst.Limits, err = c.fs.Limits()
	case SourceSmaps:
		if c.smaps == nil {
			c.smaps = c.fs.NewSmapsReader()
		}
		dst.HeapAfterMappings = HeapRecheck{}
		dst.Mappings, err = c.smaps.Read(dst.Mappings)
		dst.MappingsHaveSizes = err == nil
		if err == nil && set.Has(SourceRuntimeMetrics) {
			c.recheckHeap(&dst.HeapAfterMappings)
		}
	case SourceMaps:
		if set.Has(SourceSmaps) && dst.sources[SourceSmaps].err == nil {
			return nil // smaps carries every maps field; reading maps again would only cost
		}
		dst.Mappings, err = c.fs.Maps()
		dst.MappingsHaveSizes = false
	case SourceSmapsRollup:
		dst.SmapsRollup, err = c.fs.SmapsRollup()
	case SourceFDs:
		dst.FDs, err = c.fs.FDs(c.cfg.maxFDTargets)
	case SourceThreads:
		dst.Threads, err = c.fs.Threads(c.cfg.maxThreads)
	case SourceAuxv:
		dst.Auxv, err = c.fs.Auxv()
	case SourceCgroups:
		dst.Cgroups, err = c.cgroupLocator().Locate()
	case SourceIdentity:
		dst.Identity, err = c.fs.Identity()
	case SourceEnviron:
		dst.Environ, err = c.fs.Environ(c.cfg.envAllow)
	case SourceSyscall:
		dst.Syscall, err = c.fs.Syscall()
	case SourceLatency:
		dst.Latency, err = c.fs.Latency()
	}
	return err
}

func (c *Collector) logger() *zap.Logger { return c.cfg.logger }

// cgroupLocator is the Collector's kept cgroup location, made on first use (reads are serialised).
func (c *Collector) cgroupLocator() *procself.CgroupLocator {
	if c.cgLoc == nil {
		c.cgLoc = c.fs.NewCgroupLocator()
	}
	return c.cgLoc
}

// clear zeroes the fields of src in dst, keeping slice capacity for reuse.
func (c *Collector) clear(dst *Snapshot, src Source) {
	switch src {
	case SourceRuntimeMetrics:
		dst.Runtime = RuntimeMetrics{}
	case SourceGCPauses:
		dst.GCPauses = GCPauseHistory{Recent: dst.GCPauses.Recent[:0]}
	case SourceStatm:
		dst.Statm = procself.Statm{}
	case SourceCgroupMemory:
		dst.CgroupMemory = procself.CgroupMemory{}
	case SourceStatus:
		dst.Status = procself.Status{}
	case SourceStat:
		dst.Stat = procself.Stat{}
	case SourceLimits:
		dst.Limits = procself.Limits{}
	case SourceSmaps:
		dst.HeapAfterMappings = HeapRecheck{}
		if !dst.Requested.Has(SourceMaps) {
			dst.Mappings, dst.MappingsHaveSizes = nil, false
		}
	case SourceMaps:
		if !dst.Requested.Has(SourceSmaps) || dst.sources[SourceSmaps].err != nil {
			dst.Mappings, dst.MappingsHaveSizes = nil, false
		}
	case SourceSmapsRollup:
		dst.SmapsRollup = procself.SmapsRollup{}
	case SourceFDs:
		dst.FDs = procself.FDs{}
	case SourceThreads:
		dst.Threads = procself.Threads{}
	case SourceAuxv:
		dst.Auxv = procself.Auxv{}
	case SourceCgroups:
		dst.Cgroups = procself.CgroupLocation{}
	case SourceIdentity:
		dst.Identity = procself.Identity{}
	case SourceEnviron:
		dst.Environ = procself.Environ{}
	case SourceSyscall:
		dst.Syscall = procself.Syscall{}
	case SourceLatency:
		dst.Latency = procself.Latency{}
	}
}

// Close releases the files the collector keeps open. It is idempotent; reads after Close report
// ErrClosed for every source.
func (c *Collector) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	c.smaps = nil // holds no file; dropping it frees the buffer
	var errs []error
	if c.statm != nil {
		errs = append(errs, c.statm.Close())
	}
	if c.cgroup != nil {
		errs = append(errs, c.cgroup.Close())
	}
	return errors.Join(errs...)
}

// recheckHeap reads the heap's free and released bytes again, right after smaps: the scavenger
// returns free pages to the OS at any moment, and the attribution needs to know whether it did
// while smaps was read (two metrics, about a microsecond, no stop-the-world).
func (c *Collector) recheckHeap(dst *HeapRecheck) {
	if c.recheck == nil {
		c.recheck = []metrics.Sample{{Name: "/memory/classes/heap/free:bytes"}, {Name: "/memory/classes/heap/released:bytes"}}
	}
	metrics.Read(c.recheck)
	if c.recheck[0].Value.Kind() != metrics.KindUint64 || c.recheck[1].Value.Kind() != metrics.KindUint64 {
		return
	}
	*dst = HeapRecheck{Read: true, FreeBytes: c.recheck[0].Value.Uint64(), ReleasedBytes: c.recheck[1].Value.Uint64()}
}
