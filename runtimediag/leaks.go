package runtimediag

import (
	"sort"
	"sync"
	"time"
)

// Leaks is what keeps growing and which code grows it: the suspects, most certain and fastest
// first, each with its culprit. Absent from a report when leak tracking is off.
type Leaks struct {
	// Suspects are ranked: proven before significant before weak, then by growth.
	Suspects []LeakSuspect `json:"suspects"`
	// Notes say what limits the verdicts: too few readings yet, a source that could not be read.
	Notes []string `json:"notes,omitempty"`
	// GoroutineGroups are the largest groups of goroutines (same wait, blocking frame and entry
	// function) with their counts over time; absent when the goroutine profile was not read.
	GoroutineGroups []GoroutineGroup `json:"goroutine_groups,omitempty"`
	// MappingChanges is the mapping timeline: the last changes of the classified mapping table
	// between scheduled full readings (appeared, grew, shrank, went away), oldest first, bounded.
	MappingChanges []MappingChange `json:"mapping_changes,omitempty"`
}

// Kinds of suspect (LeakSuspect.Kind).
const (
	LeakHeapSite       = "heap_site"       // in-use heap retained at one allocation site grows
	LeakGoroutineGroup = "goroutine_group" // a group of goroutines (same wait, blocking and creating frame) grows
	LeakGoroutines     = "goroutine_leak"  // goroutines the runtime proved leaked (goroutineleak profile)
	LeakMappings       = "mappings"        // mappings of one class (C heap, thread stacks, files, …) grow
)

// Certainties (LeakSuspect.Certainty).
const (
	// LeakProven: the runtime proved it, e.g. a goroutine blocked on a primitive nothing can reach.
	LeakProven = "proven"
	// LeakSignificant: a trend test over the series found a rise at the stated p-value, still rising.
	LeakSignificant = "significant"
	// LeakWeak: a rise too short or too noisy to be significant yet, shown so it can be watched.
	LeakWeak = "weak"
)

// LeakSuspect is one thing that grows, how fast, since when, how sure, and who grows it.
type LeakSuspect struct {
	Kind      string `json:"kind"`      // LeakHeapSite, LeakGoroutineGroup, LeakGoroutines, LeakMappings
	Certainty string `json:"certainty"` // LeakProven, LeakSignificant, LeakWeak
	// PValue is the trend test's one-sided p-value (Mann–Kendall); absent for a proven leak.
	PValue *float64 `json:"p_value,omitempty"`
	// Unit is what the series counts: "bytes", "objects", "goroutines" or "mappings".
	Unit string `json:"unit"`
	// GrowthPerSecond is the series' robust slope (Theil–Sen), in Unit per second.
	GrowthPerSecond float64 `json:"growth_per_second"`
	// Current is the newest value of the series, in Unit.
	Current float64 `json:"current"`
	// Since is when the growth started: the series has not been lower since.
	Since time.Time `json:"since"`
	// Culprit is the code that grows it, as precisely as the source knows.
	Culprit LeakCulprit `json:"culprit"`
	// Series is the series the verdict rests on, oldest first, bounded.
	Series []LeakPoint `json:"series"`
	// Headline is one line naming what grows, how fast and the culprit.
	Headline string `json:"headline"`
	// Advice says what to do next (which profile or capture shows the growth, what usually causes it).
	Advice string `json:"advice"`
	// Finding is the code of the finding this suspect raises, e.g. "heap_growing_at_site".
	Finding string `json:"finding"`
}

// LeakCulprit is the code behind a suspect: the first frame in application code (not runtime,
// not the standard library, not memdiag) and the whole stack.
type LeakCulprit struct {
	Function string `json:"function,omitempty"`
	File     string `json:"file,omitempty"`
	Line     int    `json:"line,omitempty"`
	// Stack is the whole stack, innermost first, one "function file:line" per frame.
	Stack []string `json:"stack,omitempty"`
	// CreatedBy is the frame that started the goroutines (goroutine suspects).
	CreatedBy string `json:"created_by,omitempty"`
	// Description names the culprit when it is not code, e.g. "glibc arena" or a mapped file's path.
	Description string `json:"description,omitempty"`
}

// LeakPoint is one reading of a suspect's series.
type LeakPoint struct {
	Time  time.Time `json:"time"`
	Value float64   `json:"value"`
}

// Codes of the findings a suspect raises (LeakSuspect.Finding).
const (
	FindingHeapGrowingAtSite     = "heap_growing_at_site"
	FindingGoroutineGroupGrowing = "goroutine_group_growing"
	FindingGoroutinesLeaked      = "goroutines_leaked"
	FindingMappingsGrowing       = "mappings_growing"
)

// leakSources are the sources a Monitor tracks: one per kind of growth, each in its own file.
func (m *Monitor) leakSources() []leakSource {
	var s []leakSource
	s = append(s, newHeapSource(m.reader))
	s = append(s, newGoroutineSource())
	s = append(s, newMappingSource())
	return s
}

// leakSource is one kind of growth the Monitor tracks. Its readings are taken only on the
// Monitor's own schedule — never because somebody asked for a report — so a viewer cannot change
// what the next viewer sees. Readings run on the Monitor's worker goroutine, one at a time; fill
// may run concurrently with them (a report while a reading is taken), so a source guards its own
// state.
type leakSource interface {
	// sampleWindow takes a reading at a window reading (every window step; r.prof is the
	// allocation profile read at the same moment, nil when unread).
	sampleWindow(r *windowReading)
	// sampleFull takes a reading at a scheduled full reading (every full interval).
	sampleFull(rd *fullReading)
	// fill adds this source's suspects, and notes, to l as of now.
	fill(now time.Time, l *Leaks)
}

// leakTracker holds the Monitor's leak sources.
type leakTracker struct {
	mu      sync.Mutex // serialises readings
	sources []leakSource
}

// newLeakTracker returns the tracker of the given sources; nil (tracking off) without sources.
func newLeakTracker(sources ...leakSource) *leakTracker {
	if len(sources) == 0 {
		return nil
	}
	return &leakTracker{sources: sources}
}

func (t *leakTracker) sampleWindow(r *windowReading) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.sources {
		s.sampleWindow(r)
	}
}

func (t *leakTracker) sampleFull(rd *fullReading) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.sources {
		s.sampleFull(rd)
	}
}

// report is the Leaks section as of now; nil when tracking is off.
func (t *leakTracker) report(now time.Time) *Leaks {
	if t == nil {
		return nil
	}
	l := &Leaks{Suspects: []LeakSuspect{}}
	for _, s := range t.sources {
		s.fill(now, l)
	}
	rankSuspects(l.Suspects)
	return l
}

// rankSuspects orders suspects: proven, then significant, then weak; within each, the smaller
// p-value first, then the faster growth.
func rankSuspects(s []LeakSuspect) {
	rank := func(c string) int {
		switch c {
		case LeakProven:
			return 0
		case LeakSignificant:
			return 1
		}
		return 2
	}
	sort.SliceStable(s, func(i, j int) bool {
		a, b := &s[i], &s[j]
		if ra, rb := rank(a.Certainty), rank(b.Certainty); ra != rb {
			return ra < rb
		}
		if a.PValue != nil && b.PValue != nil && *a.PValue != *b.PValue {
			return *a.PValue < *b.PValue
		}
		return a.GrowthPerSecond > b.GrowthPerSecond
	})
}

// Leaks is the Monitor's leak suspects as of now, from the readings its schedule took (asking
// takes no reading); nil when leak tracking is off (WithLeakTracking).
func (m *Monitor) Leaks() *Leaks {
	return m.leaks.report(m.clock.Now())
}

// heapBase is the heap-by-site source's base heap profile, for a capture on a leak suspect.
func (m *Monitor) heapBase() ([]byte, time.Time) {
	if m.leaks == nil {
		return nil, time.Time{}
	}
	for _, s := range m.leaks.sources {
		if h, ok := s.(*heapSource); ok {
			return h.baseProfile()
		}
	}
	return nil, time.Time{}
}
