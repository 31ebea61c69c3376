package rssattr

import (
	"errors"
	"fmt"
	"math/bits"
	"runtime"
	"sync"

	"github.com/memdiag/memdiag/internal/humanize"
)

// Attributor explains a process's resident memory: [Attributor.Measure] classifies every mapping of
// a full reading and measures each category with smaps; [Attributor.Estimate] estimates the same
// categories from a cheap reading and the last full classification. It holds the probe objects
// that locate the Go heap (a few KiB, alive as long as the Attributor) and that last
// classification. It starts nothing and holds no file open; it is safe for concurrent use.
//
// The attribution is only meaningful for readings of this process: the probes locate this
// process's heap. For a reading of another process or of recorded files the arenas are not found,
// the Go heap is reported in other_anonymous, and ArenaCheck says so.
type Attributor struct {
	mu     sync.Mutex
	probes *probeSet
	extra  *probeSet // fresh probes from the last retry, kept so the next full read finds them too

	last         *RSS   // the last full attribution, for the cheap tier
	lastShared   uint64 // statm shared bytes at the last full attribution
	lastGoRtMeta uint64 // runtime/metrics' Go runtime bytes then

	searchBuf []byte // the classifier's buffer for finding malloc chunks, kept between full reads
}

// NewAttributor allocates the probes. It reads nothing.
func NewAttributor() *Attributor {
	return &Attributor{probes: newProbeSet(0)}
}

// Measure attributes the resident memory of s, which must carry per-mapping smaps sizes
// (s.MappingsHaveSizes); otherwise it returns an error wrapping [ErrNoMappingSizes] and the reason
// smaps could not be read (s.SmapsErr; off Linux, [errors.ErrUnsupported]). It also records the
// classification for [Attributor.Estimate].
func (a *Attributor) Measure(s *Reading) (RSS, error) {
	if s == nil || !s.MappingsHaveSizes {
		var why error
		if s != nil {
			why = s.SmapsErr
		}
		if why == nil {
			why = errors.New("smaps not read")
		}
		return RSS{}, fmt.Errorf("%w: %w", ErrNoMappingSizes, why)
	}
	a.mu.Lock()
	defer a.mu.Unlock()

	probes := a.probeAddrs()
	loc := locateArenas(s.Mappings, probes)
	ck := checkArenas(s.Mappings, loc.arenas, &s.Runtime)
	attempts := 1
	// A shortfall means the heap has an arena group none of the probes is in: objects allocated
	// now, on every P, may come from it. Objects allocated after smaps was read can only land in
	// mappings smaps saw if the heap did not grow in between, so two retries are enough.
	for !ck.OK && ck.DifferenceBytes < 0 && loc.located > 0 && attempts < 3 {
		a.extra = newProbeSet(runtime.GOMAXPROCS(0))
		probes = a.probeAddrs()
		loc = locateArenas(s.Mappings, probes)
		ck = checkArenas(s.Mappings, loc.arenas, &s.Runtime)
		attempts++
	}
	ck.Probes, ck.Attempts = loc.located, attempts
	ck.NamedByKernel, ck.ProbesAgree = loc.namedByKernel, loc.probesAgree
	if loc.located == 0 && !loc.namedByKernel {
		ck.OK = false
		ck.Message = "no probe object lies in these mappings: they are not this process's, or its heap was not found"
	}

	c := classifier{exe: s.Exe, arenas: loc.arenas, searchBuf: a.searchBuf}
	if loc.located > 0 {
		// The probes prove the mappings are this process's, so its memory may be read to confirm
		// malloc's chunk headers.
		mem, closeMem := openSelfMemory()
		defer closeMem()
		c.mem = mem
	}
	labels := c.classify(s.Mappings)
	c.searchAnonymous(s.Mappings, labels, sat(s.Runtime.GoRuntimeBytes, s.Runtime.OSStacksBytes))
	a.searchBuf = c.searchBuf
	r := attribute(s, labels, &ck)
	r.Arenas = loc.arenas
	r.ArenaCheck = &ck
	if !ck.OK {
		r.Notes = append(r.Notes, "arena self-check failed: "+ck.Message)
	}

	last := r
	last.Mappings = nil
	a.last = &last
	a.lastShared = s.SharedBytes
	a.lastGoRtMeta = s.Runtime.GoRuntimeBytes
	return r, nil
}

func (a *Attributor) probeAddrs() []uintptr {
	addrs := a.probes.addrs()
	if a.extra != nil {
		addrs = append(addrs, a.extra.addrs()...)
	}
	return addrs
}

// attribute sums the classified mappings into categories.
func attribute(s *Reading, labels []mappingLabel, ck *ArenaCheck) RSS {
	ms := s.Mappings
	rt := &s.Runtime
	r := RSS{Tier: TierFull, Time: s.Time, Mappings: make([]ClassifiedMapping, len(ms))}

	var byClass classSums
	var arenaRSS, arenaLazy, smapsTotal uint64
	for i := range ms {
		m := &ms[i]
		l := labels[i]
		if l.cBytes > 0 {
			// Resident bytes divided by size between the malloc chunks and the rest.
			inC := scale(m.RssBytes, l.cBytes, uint64(m.End-m.Start))
			byClass.add(ClassCHeap, inC)
			byClass.add(ClassAnonymous, m.RssBytes-inC)
		} else {
			byClass.add(l.class, m.RssBytes)
		}
		smapsTotal += m.RssBytes
		r.LazyFreeBytes += m.LazyFreeBytes
		r.SwapBytes += m.SwapBytes
		r.AnonHugePagesBytes += m.AnonHugePagesBytes
		if l.class == ClassGoHeap {
			arenaRSS += m.RssBytes
			arenaLazy += min(m.LazyFreeBytes, m.RssBytes)
		}
		name := l.name
		if name == "" {
			name = m.Path
		}
		r.Mappings[i] = ClassifiedMapping{
			Start: m.Start, End: m.End, Perms: m.Perms.String(), SizeBytes: uint64(m.End - m.Start),
			RssBytes: m.RssBytes, LazyFreeBytes: m.LazyFreeBytes, SwapBytes: m.SwapBytes, Class: l.class, Name: name,
		}
	}

	// The arenas' resident bytes, less what MADV_FREE left resident, divided as runtime/metrics
	// divides the committed heap. Lazily freed pages are free heap the kernel has not taken back.
	var workBufs uint64
	if ck.OK {
		workBufs = ck.WorkBufBytes
	}
	split, short := splitHeapResident(arenaRSS-arenaLazy, rt.HeapObjectsBytes, rt.HeapUnusedBytes, rt.HeapFreeBytes, rt.HeapStacksBytes, workBufs)
	if rec := &s.HeapAfterMappings; rec.Read && rec.ReleasedBytes != rt.HeapReleasedBytes {
		r.ScavengedWhileReadBytes = int64(rec.ReleasedBytes) - int64(rt.HeapReleasedBytes)
		r.Notes = append(r.Notes, fmt.Sprintf(
			"the report raced the scavenger: heap released to the OS went from %s to %s while smaps was read; the arenas' %s shortfall against runtime/metrics was taken from go_heap_free",
			humanize.Bytes(rt.HeapReleasedBytes), humanize.Bytes(rec.ReleasedBytes), humanize.Bytes(short)))
	}
	if rt.goHeapMappedBytes()+workBufs == 0 && arenaRSS > 0 {
		r.Notes = append(r.Notes, "runtime/metrics not read: the Go arenas' resident bytes are all shown as heap objects")
	}

	// Go's off-heap runtime memory shares the unnamed anonymous mappings with everyone else's. The
	// runtime says how much it has mapped there; the mappings say how much of them is resident.
	goNamed := byClass.get(ClassGoRuntime)
	goOffHeap := sat(sat(sat(rt.GoRuntimeBytes, rt.OSStacksBytes), workBufs), goNamed)
	anon := byClass.get(ClassAnonymous)
	goFromAnon := min(anon, goOffHeap)
	goRuntimeMethod := MethodSmaps
	if anon > 0 {
		goRuntimeMethod = MethodRuntimeShare
		if anon > goOffHeap {
			r.Notes = append(r.Notes, fmt.Sprintf(
				"unnamed anonymous mappings hold %s resident; the Go runtime has %s mapped off-heap, so the rest is other_anonymous",
				humanize.Bytes(anon), humanize.Bytes(goOffHeap)))
		}
	}

	cats := [NumCategories]RSSCategory{}
	set := func(i int, b uint64, method string) { cats[i] = RSSCategory{categoryNames[i], b, method} }
	set(0, split[0], MethodRuntimeShare)
	set(1, split[1], MethodRuntimeShare)
	set(2, split[2]+arenaLazy, MethodRuntimeShare)
	set(3, split[3], MethodRuntimeShare)
	set(4, split[4]+goNamed+goFromAnon, goRuntimeMethod)
	set(5, byClass.get(ClassThreadStack), MethodSmaps)
	set(6, byClass.get(ClassCHeap), MethodSmaps)
	set(7, byClass.get(ClassBinary), MethodSmaps)
	set(8, byClass.get(ClassSharedLibrary), MethodSmaps)
	set(9, byClass.get(ClassFileMapping), MethodSmaps)
	set(10, byClass.get(ClassSharedMemory), MethodSmaps)
	otherMethod := MethodSmaps
	if anon > 0 {
		otherMethod = MethodRuntimeShare
	}
	set(11, byClass.get(ClassOtherAnonymous)+anon-goFromAnon, otherMethod)
	set(12, byClass.get(ClassKernel), MethodSmaps)
	r.Categories = cats[:]

	r.ResidentBytes = smapsTotal
	if s.StatmRead && s.ResidentBytes > 0 {
		r.ResidentBytes = s.ResidentBytes
	} else {
		r.Notes = append(r.Notes, "statm not read: resident bytes are smaps' sum")
	}
	r.finish()
	if d := r.UnexplainedBytes; abs64(d) > r.ResidentBytes/50 {
		r.Notes = append(r.Notes, fmt.Sprintf(
			"statm and smaps differ by %s: resident memory changed between the two reads (the scavenger returning free heap, a burst of allocation)",
			humanize.Bytes(abs64(d))))
	}
	return r
}

// splitHeapResident divides the arenas' resident bytes among objects, unused, free, stacks and
// work buffers, which runtime/metrics gives as committed sizes. When fewer bytes are resident than
// committed, the shortfall is free heap first: free pages are what the scavenger returns to the
// OS — while smaps is read, right after a burst was freed — and what a fresh arena has not
// touched; objects, unused slots of in-use spans and stacks are in use and resident. Only a
// shortfall larger than the free heap is taken from the rest, in proportion. It returns the split
// and the shortfall.
func splitHeapResident(resident, objects, unused, free, stacks, workBufs uint64) ([]uint64, uint64) {
	committed := objects + unused + free + stacks + workBufs
	if resident >= committed {
		return splitProportional(resident, []uint64{objects, unused, free, stacks, workBufs}), 0
	}
	short := committed - resident
	free -= min(short, free)
	return splitProportional(resident, []uint64{objects, unused, free, stacks, workBufs}), short
}

// classSums sums resident bytes by class; an array indexed by a switch rather than a map, which
// was a third of the classification's time on a small process.
type classSums [numClasses]uint64

const numClasses = 11

func classIndex(c MappingClass) int {
	switch c {
	case ClassGoHeap:
		return 0
	case ClassGoRuntime:
		return 1
	case ClassThreadStack:
		return 2
	case ClassCHeap:
		return 3
	case ClassBinary:
		return 4
	case ClassSharedLibrary:
		return 5
	case ClassFileMapping:
		return 6
	case ClassSharedMemory:
		return 7
	case ClassKernel:
		return 8
	case ClassOtherAnonymous:
		return 9
	}
	return 10 // ClassAnonymous
}

func (s *classSums) add(c MappingClass, b uint64) { s[classIndex(c)] += b }
func (s *classSums) get(c MappingClass) uint64    { return s[classIndex(c)] }

// finish fills the headline numbers and the unexplained remainder from the categories.
func (r *RSS) finish() {
	var total uint64
	largest := -1
	r.GoManagedBytes, r.NonGoBytes = 0, 0
	for i, c := range r.Categories {
		total += c.Bytes
		if i <= 4 {
			r.GoManagedBytes += c.Bytes
		} else {
			r.NonGoBytes += c.Bytes
		}
		if largest < 0 || c.Bytes > r.Categories[largest].Bytes {
			largest = i
		}
	}
	if largest >= 0 {
		r.LargestCategory = r.Categories[largest].Name
	}
	r.UnexplainedBytes = 0
	if r.ResidentBytes > 0 {
		r.UnexplainedBytes = int64(r.ResidentBytes) - int64(total)
	}
}

// Estimate attributes the resident memory of a cheap reading (statm and runtime/metrics): the Go
// heap categories from runtime/metrics (heap mapped less released, which is what is resident
// unless the kernel took pages back), the file-backed categories scaled by statm's shared bytes
// since the last full classification, the rest as that classification found them. Every category
// is marked "estimate"; ClassifiedAt says how old the classification is. Before any full
// classification, everything outside the Go heap is unexplained. It reads only the cheap fields
// of s (Time, ResidentBytes, SharedBytes, Runtime).
func (a *Attributor) Estimate(s *Reading) RSS {
	var bytes [NumCategories]uint64
	last := a.estimateFrom(s, &bytes)
	classified := last != nil

	r := RSS{Tier: TierCheap, Time: s.Time, ResidentBytes: s.ResidentBytes}
	cats := [NumCategories]RSSCategory{}
	for i := range cats {
		cats[i] = RSSCategory{Name: categoryNames[i], Method: MethodEstimate, Bytes: bytes[i]}
		if i >= 5 && !classified {
			cats[i].Method = MethodNotMeasured
		}
	}
	if !classified {
		r.Notes = append(r.Notes, "no full classification yet: go_runtime is what the runtime has mapped off-heap, and everything outside Go is unexplained")
	} else {
		r.ClassifiedAt = last.Time
		r.ClassificationAgeSeconds = s.Time.Sub(last.Time).Seconds()
		r.LazyFreeBytes = last.LazyFreeBytes
	}
	r.Categories = cats[:]
	if r.ResidentBytes == 0 {
		r.Notes = append(r.Notes, "statm not read: resident bytes unknown")
	}
	r.finish()
	return r
}

// EstimateBytes writes Estimate's category figures for s into out without allocating (a
// monitor's tick uses it); classified is false before the first full classification, when only the
// Go categories (the first five) are figures and the others are left 0.
func (a *Attributor) EstimateBytes(s *Reading, out *[NumCategories]uint64) (classified bool) {
	return a.estimateFrom(s, out) != nil
}

// estimateFrom is estimateBytes, returning the full classification it scaled (nil when none).
func (a *Attributor) estimateFrom(s *Reading, out *[NumCategories]uint64) *RSS {
	a.mu.Lock()
	last, lastShared, lastGoRt := a.last, a.lastShared, a.lastGoRtMeta
	a.mu.Unlock()
	rt := &s.Runtime
	*out = [NumCategories]uint64{rt.HeapObjectsBytes, rt.HeapUnusedBytes, rt.HeapFreeBytes, rt.HeapStacksBytes}
	if last == nil {
		out[4] = rt.GoRuntimeBytes - min(rt.GoRuntimeBytes, rt.OSStacksBytes)
		return nil
	}
	out[4] = scale(last.Category(CategoryGoRuntime), rt.GoRuntimeBytes, lastGoRt)
	for i := 5; i < len(out); i++ {
		b := last.Category(categoryNames[i])
		switch categoryNames[i] {
		case CategoryBinary, CategorySharedLibraries, CategoryFileMappings, CategorySharedMemory:
			b = scale(b, s.SharedBytes, lastShared)
		}
		out[i] = b
	}
	return last
}

// scale returns b × now / then, or b when then is 0.
func scale(b, now, then uint64) uint64 {
	if then == 0 {
		return b
	}
	hi, lo := bits.Mul64(b, now)
	if hi >= then {
		return b
	}
	q, _ := bits.Div64(hi, lo, then)
	return q
}

// splitProportional divides total in proportion to weights, exactly: the parts sum to total
// (largest remainders get the leftover bytes). With no weight at all, everything goes to the first.
func splitProportional(total uint64, weights []uint64) []uint64 {
	parts := make([]uint64, len(weights))
	var sum uint64
	for _, w := range weights {
		sum += w
	}
	if sum == 0 {
		if len(parts) > 0 {
			parts[0] = total
		}
		return parts
	}
	rems := make([]uint64, len(weights))
	var given uint64
	for i, w := range weights {
		hi, lo := bits.Mul64(total, w)
		parts[i], rems[i] = bits.Div64(hi, lo, sum) // hi < sum because w ≤ sum
		given += parts[i]
	}
	for left := total - given; left > 0; left-- {
		best := 0
		for i := range rems {
			if rems[i] > rems[best] {
				best = i
			}
		}
		parts[best]++
		rems[best] = 0
	}
	return parts
}

func abs64(v int64) uint64 {
	if v < 0 {
		return uint64(-v)
	}
	return uint64(v)
}

func sat(a, b uint64) uint64 {
	if b > a {
		return 0
	}
	return a - b
}
