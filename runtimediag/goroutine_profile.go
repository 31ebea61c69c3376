package runtimediag

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"github.com/google/pprof/profile"

	"github.com/memdiag/memdiag/internal/appframe"
)

// goroutineGroup is the goroutines that wait for the same reason, in the same application frame,
// having started in the same function.
type goroutineGroup struct {
	// wait is why they wait, read from the runtime or library frame they are parked in
	// ("chan receive", "select", "sync.Mutex.Lock", "IO wait", "sleep", …; "running" when no frame
	// says they wait).
	wait string
	// function, file and line are the blocking frame: the innermost frame in application code
	// (or, for goroutines entirely in the standard library, the innermost frame outside runtime).
	function, file string
	line           int
	// createdBy is the function that started the goroutines as far as their entry function (the
	// outermost frame) says: for a closure (pkg.handler.func1) the function it was created in
	// (pkg.handler); for a named function, that function. The goroutine profile does not carry the
	// go statement's frame (only a debug=2 dump does, stopping the world throughout).
	createdBy string
	count     int
	// stack is one sample's stack, innermost first, "function file:line" per frame.
	stack []string
}

// key identifies a group across readings.
func (g *goroutineGroup) key() string {
	return g.wait + "\x00" + g.function + "\x00" + g.file + ":" + strconv.Itoa(g.line) + "\x00" + g.createdBy
}

// errGoroutineProfile wraps every reason a goroutine profile could not be grouped.
var errGoroutineProfile = errors.New("goroutine profile")

// parseGoroutineProfile reads a goroutine (or goroutineleak) profile in the pprof protocol buffer
// format (what runtime/pprof writes with debug=0, gzipped or not) and groups its goroutines,
// largest group first.
func parseGoroutineProfile(r io.Reader) ([]goroutineGroup, error) {
	p, err := profile.Parse(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errGoroutineProfile, err)
	}
	return groupGoroutines(p)
}

// groupGoroutines groups a parsed goroutine profile's samples, largest group first.
func groupGoroutines(p *profile.Profile) ([]goroutineGroup, error) {
	if len(p.SampleType) != 1 || (p.SampleType[0].Type != "goroutine" && p.SampleType[0].Type != "goroutineleak") {
		var got []string
		for _, st := range p.SampleType {
			got = append(got, st.Type)
		}
		return nil, fmt.Errorf("%w: sample types %q, want [goroutine] or [goroutineleak]", errGoroutineProfile, got)
	}
	byKey := map[string]int{}
	var groups []goroutineGroup
	var frames []goroutineFrame
	for i, s := range p.Sample {
		if len(s.Value) != 1 {
			return nil, fmt.Errorf("%w: sample %d has %d values, want 1", errGoroutineProfile, i, len(s.Value))
		}
		n := s.Value[0]
		if n < 0 || n > 1<<40 {
			return nil, fmt.Errorf("%w: sample %d counts %d goroutines", errGoroutineProfile, i, n)
		}
		if n == 0 {
			continue
		}
		frames = frames[:0]
		for _, loc := range s.Location {
			if loc == nil {
				return nil, fmt.Errorf("%w: sample %d has a missing location", errGoroutineProfile, i)
			}
			named := false
			for _, ln := range loc.Line { // innermost (inlined) first
				if ln.Function == nil {
					continue
				}
				frames = append(frames, goroutineFrame{ln.Function.Name, ln.Function.Filename, int(ln.Line)})
				named = true
			}
			if !named { // an unsymbolized profile (the legacy text format): the address stands for the frame
				frames = append(frames, goroutineFrame{function: "0x" + strconv.FormatUint(loc.Address, 16)})
			}
		}
		if memdiagOwn(frames) {
			continue // memdiag's own goroutines are not what it observes
		}
		g := classifyGoroutine(frames)
		k := g.key()
		if j, ok := byKey[k]; ok {
			groups[j].count += int(n)
			continue
		}
		g.count = int(n)
		byKey[k] = len(groups)
		groups = append(groups, g)
	}
	slices.SortStableFunc(groups, func(a, b goroutineGroup) int {
		if c := cmp.Compare(b.count, a.count); c != 0 {
			return c
		}
		return strings.Compare(a.key(), b.key())
	})
	return groups, nil
}

type goroutineFrame struct {
	function, file string
	line           int
}

// classifyGoroutine names one stack's wait reason, blocking frame and entry function.
func classifyGoroutine(frames []goroutineFrame) goroutineGroup {
	g := goroutineGroup{wait: "running"}
	if len(frames) == 0 {
		g.function = "(no frames)"
		return g
	}
	for _, f := range frames {
		if w := waitReasonOf(f.function); w != "" {
			g.wait = w
			break
		}
		switch {
		case strings.HasPrefix(f.function, "runtime.semacquire") && g.wait != "semacquire":
			g.wait = "semacquire" // unless a sync frame above names the primitive
		case f.function == "runtime.gopark" && g.wait == "running":
			g.wait = "parked"
		}
	}
	blocking := -1
	for i, f := range frames {
		if appframe.InService(f.function, f.file) {
			blocking = i
			break
		}
	}
	if blocking < 0 {
		for i, f := range frames {
			if !runtimeFunction(f.function) {
				blocking = i
				break
			}
		}
	}
	if blocking < 0 {
		blocking = 0
	}
	b := frames[blocking]
	g.function, g.file, g.line = b.function, b.file, b.line
	for i := len(frames) - 1; i >= 0; i-- {
		if frames[i].function != "runtime.goexit" {
			g.createdBy = creatorOf(frames[i].function)
			break
		}
	}
	const maxStack = 32
	for _, f := range frames[:min(len(frames), maxStack)] {
		g.stack = append(g.stack, f.function+" "+f.file+":"+strconv.Itoa(f.line))
	}
	return g
}

// creatorOf is the function that started a goroutine whose entry function is entry, as far as
// the name says: a closure (pkg.f.func1, pkg.f.func1.2) was created in pkg.f; a named function's
// creator is not in the profile, and the entry function stands for it.
func creatorOf(entry string) string {
	fn := entry
	for {
		i := strings.LastIndexByte(fn, '.')
		if i < 0 {
			return entry
		}
		last := fn[i+1:]
		if _, err := strconv.Atoi(last); err == nil || (strings.HasPrefix(last, "func") && len(last) > 4 && isDigits(last[4:])) {
			fn = fn[:i]
			continue
		}
		if fn == "" {
			return entry
		}
		return fn
	}
}

func isDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// memdiagOwn reports whether a goroutine is memdiag's own: a memdiag frame and no application
// frame below it (an application's callback run by memdiag is the application's).
func memdiagOwn(frames []goroutineFrame) bool {
	for _, f := range frames {
		if appframe.Memdiag(f.function, f.file) {
			return true
		}
		if appframe.InService(f.function, f.file) {
			return false
		}
	}
	return false
}

func runtimeFunction(fn string) bool {
	return strings.HasPrefix(fn, "runtime.") || strings.HasPrefix(fn, "internal/runtime/")
}

// waitReasonOf is the wait reason a frame stands for, "" when it stands for none. The first frame
// (innermost) that stands for one names the wait: sync.(*Mutex).Lock sits above the runtime's
// semaphore frames, which name nothing.
func waitReasonOf(fn string) string {
	switch fn {
	case "runtime.chansend", "runtime.chansend1":
		return "chan send"
	case "runtime.chanrecv", "runtime.chanrecv1", "runtime.chanrecv2":
		return "chan receive"
	case "runtime.selectgo":
		return "select"
	case "runtime.block":
		return "select (no cases)"
	case "runtime.netpollblock", "internal/poll.runtime_pollWait":
		return "IO wait"
	case "time.Sleep":
		return "sleep"
	case "sync.(*Mutex).Lock", "internal/sync.(*Mutex).Lock":
		return "sync.Mutex.Lock"
	case "sync.(*RWMutex).Lock":
		return "sync.RWMutex.Lock"
	case "sync.(*RWMutex).RLock":
		return "sync.RWMutex.RLock"
	case "sync.(*WaitGroup).Wait":
		return "sync.WaitGroup.Wait"
	case "sync.(*Cond).Wait":
		return "sync.Cond.Wait"
	case "runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge", "runtime.forcegchelper", "runtime.runFinalizers", "runtime.runCleanups":
		return "runtime worker"
	}
	if strings.HasPrefix(fn, "syscall.") && strings.Contains(fn, "yscall") || strings.HasPrefix(fn, "internal/runtime/syscall.") {
		return "syscall"
	}
	return ""
}

// stackGrouper groups the process's goroutines straight from runtime.GoroutineProfile: the same
// records, and the same stop-the-world, as the pprof goroutine profile, without encoding,
// compressing and parsing a profile at every reading (at 1k goroutines that was most of a
// reading's cost). Each distinct stack is symbolized and classified once and remembered.
type stackGrouper struct {
	recs  []runtime.StackRecord
	known map[[32]uintptr]*stackClass
	idx   map[string]int // reused: group key → index in the reading's groups
}

// stackClass is what one distinct stack stands for.
type stackClass struct {
	g   goroutineGroup // count unset
	key string
	own bool // memdiag's own goroutine
}

const (
	stackGrouperKeepRecords = 4096 // records kept between readings; more are dropped after a reading
	stackGrouperKnownMax    = 8192 // distinct stacks remembered; the memory is forgotten beyond it
)

// read groups the goroutines running now, largest group first.
func (sg *stackGrouper) read() ([]goroutineGroup, error) {
	n, ok := runtime.GoroutineProfile(sg.recs)
	for try := 0; !ok && try < 4; try++ {
		sg.recs = make([]runtime.StackRecord, n+n/8+16)
		n, ok = runtime.GoroutineProfile(sg.recs)
	}
	if !ok {
		return nil, fmt.Errorf("%w: goroutines kept outgrowing the record buffer (%d)", errGoroutineProfile, n)
	}
	recs := sg.recs[:n]
	if cap(sg.recs) > stackGrouperKeepRecords {
		defer func() { sg.recs = nil }()
	}
	if sg.known == nil || len(sg.known) > stackGrouperKnownMax {
		sg.known = make(map[[32]uintptr]*stackClass)
	}
	if sg.idx == nil {
		sg.idx = make(map[string]int)
	}
	clear(sg.idx)
	var groups []goroutineGroup
	for i := range recs {
		c := sg.known[recs[i].Stack0]
		if c == nil {
			c = classifyStack(recs[i].Stack())
			sg.known[recs[i].Stack0] = c
		}
		if c.own {
			continue
		}
		if j, ok := sg.idx[c.key]; ok {
			groups[j].count++
			continue
		}
		g := c.g
		g.count = 1
		sg.idx[c.key] = len(groups)
		groups = append(groups, g)
	}
	slices.SortStableFunc(groups, func(a, b goroutineGroup) int {
		if c := cmp.Compare(b.count, a.count); c != 0 {
			return c
		}
		return strings.Compare(a.key(), b.key())
	})
	return groups, nil
}

// classifyStack symbolizes one stack of return addresses, innermost first, and classifies it as
// the profile path does.
func classifyStack(pcs []uintptr) *stackClass {
	var frames []goroutineFrame
	it := runtime.CallersFrames(pcs)
	for {
		f, more := it.Next()
		if f.Function != "" || f.PC != 0 {
			fn := f.Function
			if fn == "" {
				fn = "0x" + strconv.FormatUint(uint64(f.PC), 16)
			}
			frames = append(frames, goroutineFrame{fn, f.File, f.Line})
		}
		if !more {
			break
		}
	}
	if memdiagOwn(frames) {
		return &stackClass{own: true}
	}
	g := classifyGoroutine(frames)
	return &stackClass{g: g, key: g.key()}
}
