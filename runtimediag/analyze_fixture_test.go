package runtimediag

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/memdiag/memdiag/procself"
)

// analyzeFixture is a recorded Analyze input: two snapshots of one process around a workload, the
// attribution of the newer one, the history ticks taken in between and the allocation sites. It is
// what testdata/analyze/*.json hold (testdata/analyze/README.md says how each was made).
type analyzeFixture struct {
	Scenario    string `json:"scenario"`
	Description string `json:"description"`
	// Derived says which fields were edited by hand, and why, when the condition could not be
	// produced for real; empty for a fixture recorded as is.
	Derived string           `json:"derived,omitempty"`
	Prev    *snapshotFixture `json:"prev,omitempty"`
	Cur     *snapshotFixture `json:"cur"`
	RSS     RSS              `json:"rss"`
	History []Point          `json:"history,omitempty"`
	Sites   *AllocationSites `json:"sites,omitempty"`
}

// snapshotFixture is the part of a Snapshot Analyze reads, in a form encoding/json accepts: the
// histograms' ±Inf boundaries become strings, and each source's error keeps its Reason so that a
// loaded snapshot classifies it the same way.
type snapshotFixture struct {
	Time         time.Time                   `json:"time"`
	Requested    []string                    `json:"requested"`
	Errors       map[string]fixtureError     `json:"errors,omitempty"`
	Runtime      RuntimeMetrics              `json:"runtime"` // histograms empty: see Histograms
	Histograms   map[string]fixtureHistogram `json:"histograms"`
	GCPauses     GCPauseHistory              `json:"gc_pauses"`
	Statm        procself.Statm              `json:"statm"`
	CgroupMemory procself.CgroupMemory       `json:"cgroup_memory"`
	Limits       procself.Limits             `json:"limits"`
	FDCount      int                         `json:"fd_count"`
}

type fixtureError struct {
	Reason string `json:"reason"`
	Text   string `json:"text"`
}

type fixtureHistogram struct {
	Counts  []uint64       `json:"counts"`
	Buckets []fixtureFloat `json:"buckets"`
}

// fixtureFloat is a float64 that writes ±Inf as "+Inf" and "-Inf".
type fixtureFloat float64

func (f fixtureFloat) MarshalJSON() ([]byte, error) {
	switch v := float64(f); {
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(float64(f))
}

func (f *fixtureFloat) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		v, err := strconv.ParseFloat(s, 64)
		*f = fixtureFloat(v)
		return err
	}
	var v float64
	err := json.Unmarshal(b, &v)
	*f = fixtureFloat(v)
	return err
}

// histogramFields names every histogram of RuntimeMetrics for the fixture.
func histogramFields(m *RuntimeMetrics) map[string]*Histogram {
	return map[string]*Histogram{
		"allocs_by_size": &m.AllocsBySize, "frees_by_size": &m.FreesBySize,
		"pauses_total_gc": &m.PausesTotalGC, "pauses_total_other": &m.PausesTotalOther,
		"pauses_stopping_gc": &m.PausesStoppingGC, "pauses_stopping_other": &m.PausesStoppingOther,
		"sched_latencies": &m.SchedLatencies,
	}
}

func toFixture(s *Snapshot) *snapshotFixture {
	if s == nil {
		return nil
	}
	f := &snapshotFixture{Time: s.Time, Runtime: s.Runtime, Histograms: map[string]fixtureHistogram{},
		GCPauses: s.GCPauses, Statm: s.Statm, CgroupMemory: s.CgroupMemory, Limits: s.Limits, FDCount: s.FDs.Count}
	for name, h := range histogramFields(&f.Runtime) {
		fh := fixtureHistogram{Counts: append([]uint64(nil), h.Counts...)}
		for _, b := range h.Buckets {
			fh.Buckets = append(fh.Buckets, fixtureFloat(b))
		}
		f.Histograms[name] = fh
		*h = Histogram{}
	}
	for _, src := range s.Requested.Sources() {
		f.Requested = append(f.Requested, src.String())
		if err := s.Err(src); err != nil {
			if f.Errors == nil {
				f.Errors = map[string]fixtureError{}
			}
			f.Errors[src.String()] = fixtureError{Reason: reason(err), Text: err.Error()}
		}
	}
	return f
}

// errorForReason rebuilds an error that reason() classifies as r.
func errorForReason(r, text string) error {
	var sentinel error
	switch r {
	case "unsupported on this system":
		sentinel = errors.ErrUnsupported
	case "not provided by this kernel":
		sentinel = procself.ErrAbsent
	case "permission denied":
		sentinel = fs.ErrPermission
	case "no such file":
		sentinel = fs.ErrNotExist
	case "malformed":
		return &procself.ParseError{File: text}
	case "canceled":
		sentinel = context.Canceled
	default:
		return errors.New(text)
	}
	return fmt.Errorf("%s: %w", text, sentinel)
}

func (f *snapshotFixture) snapshot() (*Snapshot, error) {
	if f == nil {
		return nil, nil
	}
	s := &Snapshot{Time: f.Time, Runtime: f.Runtime, GCPauses: f.GCPauses, Statm: f.Statm,
		CgroupMemory: f.CgroupMemory, Limits: f.Limits, FDs: procself.FDs{Count: f.FDCount}}
	byName := map[string]Source{}
	for src := Source(0); src < numSources; src++ {
		byName[src.String()] = src
	}
	for _, n := range f.Requested {
		src, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("unknown source %q", n)
		}
		s.Requested |= Set(src)
	}
	for n, e := range f.Errors {
		src, ok := byName[n]
		if !ok {
			return nil, fmt.Errorf("unknown source %q", n)
		}
		s.sources[src].err = errorForReason(e.Reason, e.Text)
	}
	for name, h := range histogramFields(&s.Runtime) {
		fh, ok := f.Histograms[name]
		if !ok {
			continue
		}
		h.Counts = fh.Counts
		for _, b := range fh.Buckets {
			h.Buckets = append(h.Buckets, float64(b))
		}
	}
	return s, nil
}

func (f *analyzeFixture) input() (AnalyzeInput, error) {
	prev, err := f.Prev.snapshot()
	if err != nil {
		return AnalyzeInput{}, err
	}
	cur, err := f.Cur.snapshot()
	if err != nil {
		return AnalyzeInput{}, err
	}
	return AnalyzeInput{Prev: prev, Cur: cur, RSS: f.RSS, Sites: f.Sites, History: f.History}, nil
}

const analyzeFixtureDir = "testdata/analyze"

func loadAnalyzeFixture(t testing.TB, name string) *analyzeFixture {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(analyzeFixtureDir, name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f analyzeFixture
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &f
}

func writeAnalyzeFixture(f *analyzeFixture) error {
	b, err := json.MarshalIndent(f, "", " ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(analyzeFixtureDir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(analyzeFixtureDir, f.Scenario+".json"), append(b, '\n'), 0o644)
}
