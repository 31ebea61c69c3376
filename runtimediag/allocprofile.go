package runtimediag

import (
	"iter"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/memdiag/memdiag/internal/appframe"
	"github.com/memdiag/memdiag/internal/heapsample"
)

// AllocProfile is one reading of the runtime's sampled allocation profile, summed by the line that
// allocated: what [AllocSitesDelta] subtracts. memdiag's own allocations (see [IsMemdiagStack])
// are summed apart, as one figure.
//
// The runtime publishes allocation samples when a GC cycle ends, so a reading counts allocations up
// to the last completed cycle, not up to Time: a delta covers the cycles completed between two reads
// (GCCycles says which).
type AllocProfile struct {
	Time time.Time // when the profile was read
	// SampleRateBytes is runtime.MemProfileRate when the profile was read: on average one
	// allocation is sampled per this many bytes, and the figures are scaled up from the samples
	// the way runtime/pprof scales them.
	SampleRateBytes int64
	// GCCycles is the number of GC cycles the runtime had completed when the profile was read.
	GCCycles uint64

	tab *siteTable // the reader's table: readings of one table subtract index by index
	// keys names the indexes of counts: the table's keys when the profile was read. The table
	// only appends, so these elements never change while the reader goes on.
	keys   []siteKey
	counts []siteCount // cumulative, scaled, by site index; memdiag's own sites included
	// selfInuseBytes is the live heap (as of the last GC) of memdiag's own allocations.
	selfInuseBytes int64
	// stacks are the reading's records, kept only for route attribution ([AllocProfile.Stacks]).
	stacks []profileStack
	// inuse is the heap in use (allocated less freed, as of the last GC) by site index, scaled,
	// without memdiag's own sites: the heap-by-site leak source's reading (leaks_heap.go). nil
	// unless the reading was asked for it; the Monitor drops it once the source has read it.
	inuse []siteCount
}

type siteKey struct {
	function, file string
	line           int64
	self           bool // allocated by memdiag itself
	// app is the stack's first frame in the application's code (outside the standard library
	// and memdiag): the line a reader can change when the allocating line is a library's, such
	// as strings.genSplit under the application's strings.Split. Zero when there is none.
	app appframe.Frame
}

type siteCount struct{ bytes, objects int64 }

// AllocStack is one allocating stack of a reading: its functions, innermost first (inlined
// frames included), and what it allocated since the process started, scaled from the samples.
type AllocStack struct {
	Functions     []string
	Bytes         int64
	Objects       int64
	MemdiagItself bool // the stack is memdiag's own ([IsMemdiagStack])
}

type profileStack struct {
	info           *stackInfo
	bytes, objects int64
}

// Stacks yields every allocating stack of the reading, for attribution by something other than
// the allocating line (per-route figures). It yields nothing for a reading that kept no stacks
// (the Monitor's window ends keep only the per-line sums). A reading the Monitor hands to a
// ProfileRouteSource is good for that call only: its stacks' memory serves the next reading.
func (p *AllocProfile) Stacks() iter.Seq[AllocStack] {
	return func(yield func(AllocStack) bool) {
		if p == nil {
			return
		}
		for i := range p.stacks {
			s := &p.stacks[i]
			if !yield(AllocStack{Functions: s.info.funcs, Bytes: s.bytes, Objects: s.objects, MemdiagItself: s.info.site.self}) {
				return
			}
		}
	}
}

// MemdiagInuseBytes is the live heap held by memdiag's own allocations at the last GC before the
// reading, estimated from the samples.
func (p *AllocProfile) MemdiagInuseBytes() int64 { return p.selfInuseBytes }

// withoutStacks is p without its per-stack records: what a window's end keeps.
func (p *AllocProfile) withoutStacks() *AllocProfile {
	q := *p
	q.stacks = nil
	return &q
}

// ReadAllocProfile reads the allocs profile of this process and sums it by allocating line, with
// memdiag's own allocations summed apart.
//
// It reads runtime.MemProfile directly, which copies the profile's buckets under the runtime's
// profile lock while other goroutines keep running: it does not stop the world (only the text
// form of runtime/pprof's heap profile, debug=1, calls runtime.ReadMemStats, and memdiag never asks
// for it). Its cost grows with the number of distinct allocating stacks, each resolved to function
// names once per call here; a Monitor keeps one reader and resolves each stack once for its life.
// The reading keeps its stacks ([AllocProfile.Stacks]).
func ReadAllocProfile() (*AllocProfile, error) {
	return newAllocReader().read(true, true, false), nil
}

// gcCyclesNow is the runtime's count of completed GC cycles.
func gcCyclesNow() uint64 {
	s := [1]metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s[:])
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// siteTable interns the allocating lines a reader has seen, so that a reading is a dense slice of
// counts indexed by line. It only grows, as the runtime's own table of profiled stacks does.
type siteTable struct {
	index map[siteKey]int
	keys  []siteKey
}

// stackInfo is what memdiag needs of one profiled stack, resolved once per stack.
type stackInfo struct {
	site  siteKey
	index int      // of site in the table
	funcs []string // innermost first
}

// allocReader reads the allocs profile straight from runtime.MemProfile into a reused record
// buffer and resolves each distinct stack once: a steady-state reading costs a pass over the
// records and a map lookup per record, not the write, gzip and parse of a pprof proto.
// runtime.MemProfile copies the profile's buckets under the profile lock and does not stop the
// world. Safe for concurrent use.
type allocReader struct {
	mu     sync.Mutex
	recs   []runtime.MemProfileRecord
	stacks map[[32]uintptr]*stackInfo
	tab    *siteTable
	pcs    []uintptr
	// stackBuf backs the stacks of the last reading that kept them.
	stackBuf []profileStack
	clock    clock // stamps AllocProfile.Time, as the Collector stamps a Snapshot's
}

func newAllocReader() *allocReader {
	return &allocReader{stacks: map[[32]uintptr]*stackInfo{}, tab: &siteTable{index: map[siteKey]int{}}, clock: realClock{}}
}

// read takes one reading. keepStacks keeps the per-stack records for [AllocProfile.Stacks];
// sumLines sums them by line, for [AllocSitesDelta] (a reading without them has no sites);
// sumInuse sums the heap in use by line, for the heap-by-site leak source, from the same records.
func (r *allocReader) read(keepStacks, sumLines, sumInuse bool) *AllocProfile {
	r.mu.Lock()
	defer r.mu.Unlock()
	rate := int64(runtime.MemProfileRate)
	t := r.clock.Now()
	cycles := gcCyclesNow()
	for {
		n, ok := runtime.MemProfile(r.recs, true)
		if ok {
			r.recs = r.recs[:n]
			break
		}
		// Room for the stacks added while we grow the buffer, so that one retry is enough.
		r.recs = make([]runtime.MemProfileRecord, n+n/4+64)
	}
	p := &AllocProfile{Time: t, SampleRateBytes: rate, GCCycles: cycles, tab: r.tab}
	if sumLines {
		// Room for the lines new stacks add, so that counts is allocated once.
		p.counts = make([]siteCount, len(r.tab.keys), len(r.tab.keys)+len(r.recs)/8+8)
	}
	if sumInuse {
		p.inuse = make([]siteCount, len(r.tab.keys), len(r.tab.keys)+len(r.recs)/8+8)
	}
	if keepStacks {
		// The reader's own buffer: a reading's stacks are good until the reader's next reading
		// with stacks (the Monitor's collections run one at a time and use them at once).
		p.stacks = r.stackBuf[:0]
	}
	for i := range r.recs {
		rec := &r.recs[i]
		if rec.AllocObjects <= 0 {
			continue
		}
		info := r.stack(rec)
		objects, bytes := heapsample.Scale(rec.AllocObjects, rec.AllocBytes, rate)
		if sumLines {
			if info.index >= len(p.counts) {
				p.counts = append(p.counts, make([]siteCount, len(r.tab.keys)-len(p.counts))...)
			}
			c := &p.counts[info.index]
			c.bytes += bytes
			c.objects += objects
		}
		if info.site.self {
			_, inuse := heapsample.Scale(rec.InUseObjects(), rec.InUseBytes(), rate)
			p.selfInuseBytes += inuse
		} else if sumInuse && rec.InUseObjects() > 0 {
			if info.index >= len(p.inuse) {
				p.inuse = append(p.inuse, make([]siteCount, len(r.tab.keys)-len(p.inuse))...)
			}
			objects, bytes := heapsample.Scale(rec.InUseObjects(), rec.InUseBytes(), rate)
			c := &p.inuse[info.index]
			c.bytes += bytes
			c.objects += objects
		}
		if keepStacks {
			p.stacks = append(p.stacks, profileStack{info: info, bytes: bytes, objects: objects})
		}
	}
	if keepStacks {
		r.stackBuf = p.stacks
	}
	if sumLines {
		// Every reading of one table has a count for every line, so readings subtract index by
		// index.
		if n := len(r.tab.keys); len(p.counts) < n {
			p.counts = append(p.counts, make([]siteCount, n-len(p.counts))...)
		}
		p.keys = r.tab.keys
	}
	if sumInuse {
		if n := len(r.tab.keys); len(p.inuse) < n {
			p.inuse = append(p.inuse, make([]siteCount, n-len(p.inuse))...)
		}
		p.keys = r.tab.keys
	}
	return p
}

// siteStack is one stack that allocates at the site of the given table index, innermost first,
// one "function file:line" per frame (inlined frames included); nil when the reader has none.
// It walks the reader's stacks: for the few sites a report names, not for every reading.
func (r *allocReader) siteStack(index int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var best *[32]uintptr
	for k, info := range r.stacks {
		if info.index != index {
			continue
		}
		// The same stack whichever map order: the smallest key.
		if best == nil || slices.Compare(k[:], best[:]) < 0 {
			k := k
			best = &k
		}
	}
	if best == nil {
		return nil
	}
	stk := best[:]
	if i := slices.Index(stk, 0); i >= 0 {
		stk = stk[:i]
	}
	var out []string
	frames := runtime.CallersFrames(hideRuntime(stk))
	for {
		f, more := frames.Next()
		if f.Function != "" || f.File != "" {
			out = append(out, f.Function+" "+f.File+":"+strconv.Itoa(f.Line))
		}
		if !more {
			break
		}
	}
	return out
}

// stack resolves a record's stack, once per distinct stack. r.mu is held.
func (r *allocReader) stack(rec *runtime.MemProfileRecord) *stackInfo {
	if info, ok := r.stacks[rec.Stack0]; ok {
		return info
	}
	info := &stackInfo{site: siteKey{function: "(unknown)"}}
	r.pcs = append(r.pcs[:0], hideRuntime(rec.Stack())...)
	frames := runtime.CallersFrames(r.pcs)
	var files []string
	app := -1
	for {
		f, more := frames.Next()
		if f.Function != "" || f.File != "" {
			if len(info.funcs) == 0 {
				// The innermost frame is the line that called the allocator: runtime.MemProfile
				// stacks start at the allocation's caller, as pprof's do.
				info.site = siteKey{function: f.Function, file: f.File, line: int64(f.Line)}
			}
			if app < 0 && appframe.InService(f.Function, f.File) {
				app = len(info.funcs)
				info.site.app = appframe.Frame{Function: f.Function, File: f.File, Line: f.Line}
			}
			info.funcs = append(info.funcs, f.Function)
			files = append(files, f.File)
		}
		if !more {
			break
		}
	}
	info.site.self = IsMemdiagStack(info.funcs, files)
	if info.site.self {
		info.site.app = appframe.Frame{} // memdiag's own lines are summed as one
	}
	idx, ok := r.tab.index[info.site]
	if !ok {
		idx = len(r.tab.keys)
		r.tab.keys = append(r.tab.keys, info.site)
		r.tab.index[info.site] = idx
	}
	info.index = idx
	r.stacks[rec.Stack0] = info
	return info
}

// hideRuntime drops the runtime's own frames at the allocation end of a stack (mallocgc and its
// helpers), as runtime/pprof does for heap profiles; a stack of runtime frames only is kept whole.
func hideRuntime(stk []uintptr) []uintptr {
	for i, pc := range stk {
		if f := runtime.FuncForPC(pc); f != nil && (strings.HasPrefix(f.Name(), "runtime.") || strings.HasPrefix(f.Name(), "internal/runtime/")) {
			continue
		}
		return stk[i:]
	}
	return stk
}

// memdiagModule is the import path prefix of memdiag's own packages.
const memdiagModule = appframe.Module + "/"

// callbackFrames are memdiag's functions that call the application's code: what runs below them
// is the application's, unless memdiag's own code is reached again on the way.
var callbackFrames = []string{
	memdiagModule + "middleware.(*instrumented).ServeHTTP",   // the wrapped handler
	memdiagModule + "middleware.(*instrumented).routeBefore", // WithRouteFunc's function
	memdiagModule + "bench.AllocsPerCall",                    // the function under test
}

// IsMemdiagStack reports whether an allocating stack (its functions innermost first, and their
// files in the same order) is memdiag's own: walking out from the allocation, the first function
// of memdiag's module — not counting its tests and examples — is reached before anything else of
// memdiag's, and it is not one that calls the application back (middleware.Instrument's wrapper
// around the application's handler). The standard library and third-party code between the
// allocation and that frame (runtime/pprof, encoding/json, compress/flate, zap) are memdiag's when
// memdiag called them. files may be nil when unknown.
func IsMemdiagStack(funcs, files []string) bool {
	for i, fn := range funcs {
		file := ""
		if i < len(files) {
			file = files[i]
		}
		if !appframe.Memdiag(fn, file) {
			continue
		}
		for _, cb := range callbackFrames {
			if fn == cb {
				return false
			}
		}
		return true
	}
	return false
}
