package middleware

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"runtime"
	"runtime/pprof"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// The runtime's own profiles under {prefix}pprof/, as net/http/pprof serves them but bounded: one
// of each kind at a time (429 otherwise), and a profile that stops the world — every goroutine
// profile (debug=2 for the whole dump), a heap or allocs profile with its MemStats, a forced GC —
// no more than once per stwInterval across all kinds. docs/security.md lists each one's cost.

// stwInterval is how often a profile that stops the world may be taken, whatever its kind.
const stwInterval = time.Second

// snapshotProfile is one of the runtime's named profiles served as it is now.
type snapshotProfile struct {
	name    string // pprof.Lookup's name, and the endpoint's
	what    string // what it shows
	cost    string // what reading it costs the service
	debugs  int    // the highest debug level served (0: proto only)
	stwFrom int    // the lowest debug level that stops the world; -1 never
	// delta is whether ?seconds=N serves the difference of two reads N seconds apart.
	delta bool
	// needsRate says why the profile is empty unless the service turned its sampling on, or "".
	needsRate func() string
}

var snapshotProfiles = []snapshotProfile{
	{name: "heap", debugs: 1, stwFrom: 1, delta: true,
		what: "live objects (in-use bytes and objects) by allocation site, sampled one per runtime.MemProfileRate bytes; ?gc=1 collects first, so that the figures are those of the last completed GC rather than the one before it",
		cost: "a walk of the sampled records under the profile lock, no stop-the-world; debug=1 adds runtime.MemStats (one short stop-the-world); gc=1 runs a full blocking GC cycle (runtime.GC: two short stop-the-world phases and the marking of the whole heap, with the service's goroutines assisting)"},
	{name: "allocs", debugs: 1, stwFrom: 1, delta: true,
		what: "every sampled allocation since the process started, by site (the heap profile with allocation counts as its default sample)",
		cost: "as heap without gc: no stop-the-world at debug=0; debug=1 reads runtime.MemStats (one short stop-the-world)"},
	{name: "goroutine", debugs: 2, stwFrom: 0, delta: true,
		what: "every goroutine's stack: debug=0 a pprof profile, debug=1 one line per distinct stack with its count, debug=2 every goroutine with its state and wait time, as a panic prints them",
		cost: "debug=0 and 1 stop the world twice briefly and copy the stacks concurrently; debug=2 stops the world for the whole dump, a span that grows with the number of goroutines (docs/performance.md)"},
	{name: "block", debugs: 1, stwFrom: -1, delta: true, needsRate: blockRateNote,
		what: "where goroutines waited on channels, selects, mutexes and condition variables, sampled at runtime.SetBlockProfileRate",
		cost: "a copy of the records, no stop-the-world; recording itself costs the service when its rate is set"},
	{name: "mutex", debugs: 1, stwFrom: -1, delta: true, needsRate: mutexRateNote,
		what: "where contended mutexes were released (who held the lock others waited for), sampled at runtime.SetMutexProfileFraction",
		cost: "a copy of the records, no stop-the-world; recording itself costs the service when its fraction is set"},
	{name: "threadcreate", debugs: 1, stwFrom: -1, delta: true,
		what: "the stacks that created OS threads",
		cost: "a walk of the thread list, no stop-the-world"},
}

// blockRateNote says why the block profile may be empty. The runtime has no getter for the block
// profile rate, so an empty profile is the only sign that it is off.
func blockRateNote() string {
	if p := pprof.Lookup("block"); p != nil && p.Count() > 0 {
		return ""
	}
	return "block: the block profile has no records: the runtime records blocking only after the service calls runtime.SetBlockProfileRate(rate) with rate > 0 " +
		"(1 records every blocking event; 10000 one per 10 µs blocked, on average). memdiag never turns it on: recording costs the service on every blocking operation. " +
		"The rate cannot be read from outside the runtime, so an empty profile is refused rather than served as if nothing blocked"
}

// mutexRateNote says that the mutex profile is off, or "".
func mutexRateNote() string {
	if runtime.SetMutexProfileFraction(-1) > 0 { // -1 reads the fraction without changing it
		return ""
	}
	return "mutex: the mutex profile is off (runtime.SetMutexProfileFraction is 0): the service enables it by calling runtime.SetMutexProfileFraction(n) with n > 0 " +
		"(one contention event in n is recorded; 5 to 100 is usual). memdiag never turns it on: recording costs the service on every contended unlock"
}

// pprofSlots holds one single-flight slot per profile kind, and the one rate limit that all the
// profiles stopping the world share.
type pprofSlots struct {
	mu    sync.Mutex
	slots map[string]*profileSlot
	// lastSTW is when the last profile that stops the world started.
	lastSTW time.Time
}

func (s *pprofSlots) slot(name string) *profileSlot {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slots == nil {
		s.slots = map[string]*profileSlot{}
	}
	sl, ok := s.slots[name]
	if !ok {
		sl = &profileSlot{}
		s.slots[name] = sl
	}
	return sl
}

// allowSTW reports whether a profile that stops the world may start now, and records that it
// does; otherwise it says how long to wait.
func (s *pprofSlots) allowSTW(now time.Time) (bool, time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if next := s.lastSTW.Add(stwInterval); now.Before(next) {
		return false, next.Sub(now)
	}
	s.lastSTW = now
	return true, 0
}

func stwLimited(name string, retry time.Duration) error {
	e := busyError(name, retry).(*httpError)
	e.msg = fmt.Sprintf("%s: a profile that stops the world was taken less than %s ago; one runs per %s across all kinds (retry in %d s)", name, stwInterval, stwInterval, e.retryAfter)
	return e
}

func (t *tree) registerPprof() {
	t.handle("pprof", t.servePprofIndex)
	t.handle("pprof/{$}", t.servePprofIndex)
	// One literal path per profile, so that the docs' endpoint tables are checked against them.
	t.handle("pprof/heap", t.snapshotEndpoint("heap"))
	t.handle("pprof/allocs", t.snapshotEndpoint("allocs"))
	t.handle("pprof/goroutine", t.snapshotEndpoint("goroutine"))
	t.handle("pprof/block", t.snapshotEndpoint("block"))
	t.handle("pprof/mutex", t.snapshotEndpoint("mutex"))
	t.handle("pprof/threadcreate", t.snapshotEndpoint("threadcreate"))
	t.handle("pprof/trace", t.serveTrace)
	// Any other profile the service registered with pprof.NewProfile (profile_custom.go).
	t.handle("pprof/{name}", t.serveCustomProfile)
	t.handle("pprof/symbol", t.serveSymbol)
	t.handleMethod("POST", "pprof/symbol", t.serveSymbol)
	t.handle("pprof/symbolz", t.serveSymbol)
	t.handleMethod("POST", "pprof/symbolz", t.serveSymbol)
}

func (t *tree) snapshotEndpoint(name string) endpoint {
	for _, sp := range snapshotProfiles {
		if sp.name == name {
			return func(w http.ResponseWriter, r *http.Request) error { return t.serveSnapshotProfile(w, r, sp) }
		}
	}
	panic("middleware: no snapshot profile " + name)
}

// pprofIndexEntry is one line of the index, {prefix}pprof/?format=json.
type pprofIndexEntry struct {
	Name       string `json:"name"`
	Path       string `json:"path"`
	Parameters string `json:"parameters"`
	What       string `json:"what"`
	Cost       string `json:"cost"`
	// Count is the profile's number of records now (goroutines, threads created, sampled sites);
	// null where counting it would cost what the profile costs (the trace).
	Count *int `json:"count"`
	// Note says why the profile would be refused now (a rate that is off), or "".
	Note string `json:"note"`
}

func (t *tree) pprofIndex() []pprofIndexEntry {
	out := make([]pprofIndexEntry, 0, len(snapshotProfiles)+1)
	for _, sp := range snapshotProfiles {
		e := pprofIndexEntry{Name: sp.name, Path: t.cfg.prefix + "pprof/" + sp.name, What: sp.what, Cost: sp.cost}
		e.Parameters = fmt.Sprintf("debug=0..%d", sp.debugs)
		if sp.name == "heap" {
			e.Parameters += ", gc=0|1"
		}
		if sp.delta {
			e.Parameters += fmt.Sprintf(", seconds=1..%d (a delta)", int(t.cfg.maxDuration/time.Second))
		}
		if p := pprof.Lookup(sp.name); p != nil {
			n := p.Count()
			e.Count = &n
		}
		if sp.needsRate != nil {
			e.Note = sp.needsRate()
		}
		out = append(out, e)
	}
	tr := pprofIndexEntry{Name: "trace", Path: t.cfg.prefix + "pprof/trace",
		Parameters: fmt.Sprintf("seconds=1..%d", int(t.cfg.maxDuration/time.Second)),
		What:       "a runtime/trace execution trace (go tool trace): without seconds, the Monitor's flight recorder window when it runs one; with seconds, a fresh trace of that long",
		Cost:       "the flight recorder's window costs a copy of its buffer; a fresh trace costs the service the tracer's CPU while it runs and up to " + fmt.Sprint(maxTraceBytes>>20) + " MiB of memory, and one brief stop-the-world"}
	if !t.mon.Stats().FlightRecorderOn {
		tr.Note = "no flight recorder runs (runtimediag.WithFlightRecorder): a trace needs seconds"
	}
	out = append(out, tr)
	return append(out, t.customIndex()...)
}

// servePprofIndex lists the profiles, what each shows and what it costs.
func (t *tree) servePprofIndex(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "format")
	if err != nil {
		return err
	}
	format, err := p.format("text", "json")
	if err != nil {
		return err
	}
	idx := t.pprofIndex()
	if format == "json" {
		return writeJSON(w, idx)
	}
	var buf bytes.Buffer
	buf.WriteString("memdiag profiles: the runtime's own, bounded (one of each kind at a time; a profile that stops the world at most once a second)\n")
	buf.WriteString("open one with: go tool pprof URL (go tool trace for the trace)\n\n")
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "profile\tcount\tparameters\tpath\n")
	for _, e := range idx {
		count := "-"
		if e.Count != nil {
			count = fmt.Sprint(*e.Count)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", e.Name, count, e.Parameters, e.Path)
	}
	tw.Flush()
	for _, e := range idx {
		fmt.Fprintf(&buf, "\n%s: %s.\n  cost: %s.\n", e.Name, e.What, e.Cost)
		if e.Note != "" {
			fmt.Fprintf(&buf, "  now: %s.\n", e.Note)
		}
	}
	return writeBody(w, contentTypeText, buf.Bytes())
}

// serveSnapshotProfile writes one of the runtime's named profiles.
func (t *tree) serveSnapshotProfile(w http.ResponseWriter, r *http.Request, sp snapshotProfile) error {
	known := []string{"debug"}
	if sp.name == "heap" {
		known = append(known, "gc")
	}
	if sp.delta {
		known = append(known, "seconds")
	}
	p, err := parseParams(r, known...)
	if err != nil {
		return err
	}
	debug, err := p.intParam("debug", 0, 0, sp.debugs)
	if err != nil {
		return err
	}
	gc, err := p.intParam("gc", 0, 0, 1)
	if err != nil {
		return err
	}
	if _, ok := p["seconds"]; ok {
		return t.serveDeltaProfile(w, r, sp, p, debug, gc)
	}
	contentType := "application/octet-stream"
	if debug > 0 {
		contentType = contentTypeText
	} else {
		w.Header().Set("Content-Disposition", `attachment; filename="`+fileName(sp.name)+`.pb.gz"`)
	}
	if sp.needsRate != nil {
		if why := sp.needsRate(); why != "" {
			return &httpError{status: http.StatusConflict, msg: why}
		}
	}
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", contentType)
		return nil
	}
	release, ok, retry := t.pprof.slot(sp.name).acquire(time.Second)
	if !ok {
		return busyError(sp.name, retry)
	}
	defer release()
	stw := (sp.stwFrom >= 0 && debug >= sp.stwFrom) || gc == 1
	if stw {
		if ok, retry := t.pprof.allowSTW(time.Now()); !ok {
			return stwLimited(sp.name, retry)
		}
	}
	var notes []string
	if gc == 1 {
		start := time.Now()
		runtime.GC()
		notes = append(notes, fmt.Sprintf("gc=1: a full GC cycle ran first, taking %s of wall time (its stop-the-world phases are in /sched/pauses and the report's pause figures)", time.Since(start).Round(time.Microsecond)))
	}
	prof := pprof.Lookup(sp.name)
	if prof == nil {
		return fmt.Errorf("%s: the runtime has no such profile", sp.name)
	}
	var buf bytes.Buffer
	start := time.Now()
	if err := prof.WriteTo(&buf, debug); err != nil {
		return fmt.Errorf("%s: %w", sp.name, err)
	}
	if stw {
		notes = append(notes, fmt.Sprintf("taking the profile took %s of wall time, part of it with the world stopped", time.Since(start).Round(time.Microsecond)))
	}
	if len(notes) > 0 {
		w.Header().Set("X-Memdiag-Note", strings.Join(notes, "; "))
	}
	return writeBody(w, contentType, buf.Bytes())
}

// errTraceTooLarge ends a fresh trace that outgrew maxTraceBytes.
var errTraceTooLarge = errors.New("trace: larger than the bound")

// maxTraceBytes bounds a fresh trace held in memory before it is sent.
const maxTraceBytes = 64 << 20

// cappedBuffer is a buffer that refuses to grow past its cap.
type cappedBuffer struct {
	bytes.Buffer
	cap  int
	over bool
}

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.over || b.Len()+len(p) > b.cap {
		b.over = true
		return 0, errTraceTooLarge
	}
	return b.Buffer.Write(p)
}

// fileName is a profile's name for Content-Disposition: a name the service registered may hold
// any byte, and only letters, digits, '.', '_' and '-' go into the header as they are.
func fileName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 || len(b) > 64 {
		return "profile"
	}
	return string(b)
}
