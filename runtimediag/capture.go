package runtimediag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
)

// TriggerKind names what made a Monitor capture. The names are stable: logs and the capture
// listing carry them.
type TriggerKind string

const (
	// TriggerFinding fires when a finding appears in a full report.
	TriggerFinding TriggerKind = "finding"
	// TriggerResident fires when resident memory crosses a fraction of the limit.
	TriggerResident TriggerKind = "resident"
	// TriggerGCPause fires when a GC pause is longer than a threshold.
	TriggerGCPause TriggerKind = "gc_pause"
	// TriggerManual is a capture asked for with Monitor.Capture.
	TriggerManual TriggerKind = "manual"
)

// numTriggerKinds sizes the per-kind cooldown table.
const numTriggerKinds = 4

func (k TriggerKind) index() int {
	switch k {
	case TriggerFinding:
		return 0
	case TriggerResident:
		return 1
	case TriggerGCPause:
		return 2
	}
	return 3
}

// Trigger is a condition that makes a Monitor capture (see WithTriggers). Build one with
// OnFinding, OnResidentFraction or OnGCPause; the zero Trigger is invalid.
type Trigger struct {
	kind     TriggerKind
	codes    []string
	fraction float64
	pause    time.Duration
}

// OnFinding fires when a full report has a finding that the previous one did not have, or has it
// at a higher severity: one of codes, or with no codes any finding of warning or critical
// severity.
func OnFinding(codes ...string) Trigger {
	return Trigger{kind: TriggerFinding, codes: slices.Clone(codes)}
}

// OnResidentFraction fires on the tick when resident memory (statm) reaches fraction of the limit
// — the smallest of GOMEMLIMIT and the cgroup's effective limit — having been below it on the
// previous tick. Without a limit it never fires.
func OnResidentFraction(fraction float64) Trigger {
	return Trigger{kind: TriggerResident, fraction: fraction}
}

// OnGCPause fires on the tick when a GC cycle completed since the previous tick paused the world
// for at least d.
func OnGCPause(d time.Duration) Trigger {
	return Trigger{kind: TriggerGCPause, pause: d}
}

// Kind is the kind of trigger.
func (t Trigger) Kind() TriggerKind { return t.kind }

func (t Trigger) String() string {
	switch t.kind {
	case TriggerFinding:
		if len(t.codes) == 0 {
			return "finding(warning or worse)"
		}
		return "finding(" + strings.Join(t.codes, ",") + ")"
	case TriggerResident:
		return fmt.Sprintf("resident(%.0f%% of limit)", t.fraction*100)
	case TriggerGCPause:
		return "gc_pause(" + t.pause.String() + ")"
	}
	return "invalid trigger"
}

func (t Trigger) validate() error {
	switch t.kind {
	case TriggerFinding:
		for _, c := range t.codes {
			if c == "" {
				return errors.New("OnFinding: empty finding code")
			}
			if !slices.Contains(FindingCodes(), c) {
				return fmt.Errorf("OnFinding: unknown finding code %q (docs/findings.md lists them)", c)
			}
		}
		return nil
	case TriggerResident:
		if !(t.fraction > 0 && t.fraction <= 1) {
			return fmt.Errorf("OnResidentFraction: %v is not in (0, 1]", t.fraction)
		}
		return nil
	case TriggerGCPause:
		if t.pause <= 0 {
			return fmt.Errorf("OnGCPause: %s is not positive", t.pause)
		}
		return nil
	}
	return errors.New("zero Trigger: build one with OnFinding, OnResidentFraction or OnGCPause")
}

// matches reports whether a finding that appeared or got worse fires a finding trigger.
func (t Trigger) matches(f *Finding) bool {
	if len(t.codes) == 0 {
		return severityRank(f.Severity) >= severityRank(SeverityWarning)
	}
	return slices.Contains(t.codes, f.Code)
}

// The parts a capture may hold.
const (
	CapturePartHeap      = "heap"      // pprof heap profile (gzipped protobuf), go tool pprof reads it
	CapturePartGoroutine = "goroutine" // pprof goroutine profile (gzipped protobuf)
	CapturePartTrace     = "trace"     // runtime/trace flight recorder window, go tool trace reads it
	// CapturePartHeapBase is a heap profile from before a leak suspect appeared, in a capture a
	// leak finding fired: go tool pprof -diff_base heap_base.pb.gz heap.pb.gz shows the growth.
	CapturePartHeapBase = "heap_base"
)

// OnLeakSuspect fires when a leak suspect of any kind appears or gets more certain: OnFinding
// with every leak finding code. A capture it fires holds, besides the heap profile, the base heap
// profile from before the suspect appeared (CapturePartHeapBase).
func OnLeakSuspect() Trigger {
	return OnFinding(leakFindingCodes...)
}

// CaptureInfo describes one capture: when, why, what it holds and the report that explains it.
type CaptureInfo struct {
	ID      uint64        `json:"id"`
	Time    time.Time     `json:"time"`    // when the trigger fired
	Trigger TriggerKind   `json:"trigger"` // finding, resident, gc_pause or manual
	Reason  string        `json:"reason"`  // the trigger's condition with the numbers that met it
	Parts   []CapturePart `json:"parts"`
	// Bytes is the size of every part together.
	Bytes int64 `json:"bytes"`
	// Duration is how long taking the capture took, report included; seconds in JSON.
	Duration time.Duration `json:"duration_seconds"`
	// Report is the full report taken with the capture (or the one whose finding fired the trigger).
	// Shared: do not modify it.
	Report *Report `json:"report,omitempty"`
	// Notes say which parts could not be taken, and why.
	Notes []string `json:"notes,omitempty"`
}

// CapturePart is one file of a capture.
type CapturePart struct {
	Name     string `json:"name"`      // heap, goroutine, trace, or heap_base (a capture on a leak suspect)
	FileName string `json:"file_name"` // a name to save it under: heap.pb.gz, goroutine.pb.gz, trace.out, heap_base.pb.gz
	Bytes    int    `json:"bytes"`
}

// ErrCaptureNotFound is returned for a capture or part that is not (or no longer) stored.
var ErrCaptureNotFound = errors.New("runtimediag: capture not found")

// ErrNoFlightRecorder is returned by WriteFlightRecorder when no flight recorder runs.
var ErrNoFlightRecorder = errors.New("runtimediag: no flight recorder runs (WithFlightRecorder, and a started Monitor)")

type capture struct {
	info CaptureInfo
	data map[string][]byte
}

// captureStore keeps captures in memory, bounded by count and bytes; the oldest go first.
type captureStore struct {
	mu        sync.Mutex
	maxCount  int
	maxBytes  int64
	bytes     int64
	nextID    uint64
	items     []*capture // oldest first
	evicted   uint64
	takeMu    sync.Mutex // one capture at a time: the flight recorder allows one WriteTo
	fr        *trace.FlightRecorder
	frOn      atomic.Bool // fr != nil, readable without takeMu
	stwCounts uint64      // goroutine profiles taken, each a stop-the-world
}

func newCaptureStore(count int, bytes int64) *captureStore {
	return &captureStore{maxCount: count, maxBytes: bytes, nextID: 1}
}

// add stores c, evicting the oldest captures past the bounds. A capture larger than the byte
// bound on its own loses its biggest parts, the trace first.
func (s *captureStore) add(c *capture) {
	for _, part := range []string{CapturePartTrace, CapturePartGoroutine, CapturePartHeap} {
		if c.info.Bytes <= s.maxBytes {
			break
		}
		if d, ok := c.data[part]; ok {
			c.info.Bytes -= int64(len(d))
			delete(c.data, part)
			c.info.Parts = slices.DeleteFunc(c.info.Parts, func(p CapturePart) bool { return p.Name == part })
			c.info.Notes = append(c.info.Notes, fmt.Sprintf("%s dropped: %d bytes would not fit the capture storage of %d bytes", part, len(d), s.maxBytes))
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c.info.ID = s.nextID
	s.nextID++
	s.items = append(s.items, c)
	s.bytes += c.info.Bytes
	for len(s.items) > s.maxCount || s.bytes > s.maxBytes {
		s.bytes -= s.items[0].info.Bytes
		s.items[0] = nil
		s.items = s.items[1:]
		s.evicted++
	}
}

func (s *captureStore) list() []CaptureInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]CaptureInfo, len(s.items))
	for i, c := range s.items {
		out[i] = c.info
		out[i].Parts = slices.Clone(c.info.Parts)
		out[i].Notes = slices.Clone(c.info.Notes)
	}
	return out
}

func (s *captureStore) write(w io.Writer, id uint64, part string) error {
	s.mu.Lock()
	var data []byte
	found := false
	for _, c := range s.items {
		if c.info.ID == id {
			data, found = c.data[part]
			break
		}
	}
	s.mu.Unlock()
	if !found {
		return fmt.Errorf("%w: id %d part %q", ErrCaptureNotFound, id, part)
	}
	// Stored parts are never modified, so they are written outside the lock.
	_, err := w.Write(data)
	return err
}

// captureRequest is a trigger that fired, handed from the tick (or a full report) to the
// Monitor's worker. It holds numbers, not a formatted reason, so the tick does not allocate.
type captureRequest struct {
	kind      TriggerKind
	at        time.Time
	value     float64 // resident bytes or pause seconds
	threshold float64 // the limit fraction in bytes, or the pause threshold in seconds
	limit     float64 // the limit, for a resident trigger
	finding   *Finding
	report    *Report // the report that had the finding
}

func (r *captureRequest) reason() string {
	switch r.kind {
	case TriggerResident:
		return fmt.Sprintf("resident %s reached %s, %.4g%% of the %s limit", humanize.Bytes(uint64(r.value)), humanize.Bytes(uint64(r.threshold)),
			100*r.threshold/r.limit, humanize.Bytes(uint64(r.limit)))
	case TriggerGCPause:
		return fmt.Sprintf("GC pause of %s, at least %s", time.Duration(r.value*1e9), time.Duration(r.threshold*1e9))
	case TriggerFinding:
		if r.finding != nil {
			return fmt.Sprintf("finding %s (%s): %s", r.finding.Code, r.finding.Severity, r.finding.Headline)
		}
	}
	return "asked for"
}

// take captures now: the flight recorder's window first (it is the seconds before the trigger,
// and ages while the rest is taken), then the heap and goroutine profiles, then the report — the
// one given, or a fresh full report from the monitor.
func (s *captureStore) take(ctx context.Context, m *Monitor, req *captureRequest, reason string) CaptureInfo {
	s.takeMu.Lock()
	defer s.takeMu.Unlock()
	start := time.Now()
	c := &capture{info: CaptureInfo{Time: req.at, Trigger: req.kind, Reason: reason}, data: make(map[string][]byte, 3)}
	keep := func(name, file string, write func(io.Writer) error) {
		var buf bytes.Buffer
		if err := write(&buf); err != nil {
			c.info.Notes = append(c.info.Notes, fmt.Sprintf("%s not taken: %v", name, err))
			return
		}
		c.data[name] = buf.Bytes()
		c.info.Parts = append(c.info.Parts, CapturePart{Name: name, FileName: file, Bytes: buf.Len()})
		c.info.Bytes += int64(buf.Len())
	}
	if s.fr != nil {
		keep(CapturePartTrace, "trace.out", func(w io.Writer) error { _, err := s.fr.WriteTo(w); return err })
	}
	keep(CapturePartHeap, "heap.pb.gz", func(w io.Writer) error { return pprof.Lookup("heap").WriteTo(w, 0) })
	if req.finding != nil && slices.Contains(leakFindingCodes, req.finding.Code) {
		if base, at := m.heapBase(); base != nil {
			keep(CapturePartHeapBase, "heap_base.pb.gz", func(w io.Writer) error { _, err := w.Write(base); return err })
			c.info.Notes = append(c.info.Notes, fmt.Sprintf("heap_base is the heap profile of %s, before the suspect: go tool pprof -diff_base heap_base.pb.gz heap.pb.gz shows what grew since", at.UTC().Format(time.RFC3339)))
		} else {
			c.info.Notes = append(c.info.Notes, "heap_base not taken: no base heap profile yet (leak tracking off, or no scheduled full report before the suspect)")
		}
	}
	keep(CapturePartGoroutine, "goroutine.pb.gz", func(w io.Writer) error {
		s.mu.Lock()
		s.stwCounts++
		s.mu.Unlock()
		return pprof.Lookup("goroutine").WriteTo(w, 0)
	})
	c.info.Report = req.report
	if c.info.Report == nil {
		rep, err := m.Report(ctx)
		if err != nil {
			c.info.Notes = append(c.info.Notes, fmt.Sprintf("report not taken: %v", err))
		}
		c.info.Report = rep
	}
	c.info.Duration = time.Since(start)
	s.add(c)
	info := c.info
	info.Parts = slices.Clone(info.Parts)
	info.Notes = slices.Clone(info.Notes)
	return info
}

func (s *captureStore) stopTheWorldCaptures() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stwCounts
}
