package runtimediag

import (
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/pprof/profile"
)

// TestGoroutinesGrowingNamesCulprit: the goroutines_growing finding names the growing group when
// a goroutine suspect is known, and a proven leak before it; without one it says what it said.
func TestGoroutinesGrowingNamesCulprit(t *testing.T) {
	group := LeakSuspect{Kind: LeakGoroutineGroup, Certainty: LeakSignificant, Current: 420, GrowthPerSecond: 3.5,
		Culprit: LeakCulprit{Function: "example.com/svc.(*h).ServeHTTP.func1", File: "/src/svc/h.go", Line: 42}}
	proven := LeakSuspect{Kind: LeakGoroutines, Certainty: LeakProven, Current: 17,
		Culprit: LeakCulprit{Function: "example.com/svc.notify.func1", File: "/src/svc/n.go", Line: 9}}
	heap := LeakSuspect{Kind: LeakHeapSite, Certainty: LeakSignificant, GrowthPerSecond: 1e6,
		Culprit: LeakCulprit{Function: "example.com/svc.cache", File: "/src/svc/c.go", Line: 1}}
	tests := []struct {
		name  string
		leaks *Leaks
		want  string // in the headline; "" for none of the culprits
	}{
		{"no tracking", nil, ""},
		{"no goroutine suspect", &Leaks{Suspects: []LeakSuspect{heap}}, ""},
		{"a growing group", &Leaks{Suspects: []LeakSuspect{heap, group}}, "the growing group waits in example.com/svc.(*h).ServeHTTP.func1 (h.go:42), 420 goroutines"},
		{"a proven leak first", &Leaks{Suspects: []LeakSuspect{group, proven}}, "17 of them proven leaked in example.com/svc.notify.func1 (n.go:9)"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := fixtureInput(t, "goroutine_leak")
			in.Leaks = tc.leaks
			r := Analyze(in)
			i := slices.IndexFunc(r.Findings, func(f Finding) bool { return f.Code == "goroutines_growing" })
			if i < 0 {
				t.Fatalf("goroutines_growing did not fire; findings %v", findingCodes(r))
			}
			h := r.Findings[i].Headline
			if tc.want == "" {
				if strings.Contains(h, "svc.") {
					t.Errorf("headline names a culprit it was not given: %q", h)
				}
				return
			}
			if !strings.Contains(h, tc.want) {
				t.Errorf("headline %q does not contain %q", h, tc.want)
			}
		})
	}
}

// fakeGoroutineProfile serves, at each reading, a profile of the given group counts.
type fakeGoroutineProfile struct {
	counts [][]int // per reading, the count of group 0, 1, …
	i      int
}

func (f *fakeGoroutineProfile) write(w io.Writer) error {
	if f.i >= len(f.counts) {
		return errors.New("no more readings")
	}
	c := f.counts[f.i]
	f.i++
	return writeFakeGoroutineProfile(w, c)
}

// writeFakeGoroutineProfile writes a goroutine profile (pprof format) in which group i is
// count[i] goroutines parked on a channel receive in example.com/app.wait<i>, at w.go:10+i.
func writeFakeGoroutineProfile(w io.Writer, counts []int) error {
	p := &profile.Profile{SampleType: []*profile.ValueType{{Type: "goroutine", Unit: "count"}}}
	fn := func(id uint64, name, file string) *profile.Function {
		f := &profile.Function{ID: id, Name: name, SystemName: name, Filename: file}
		p.Function = append(p.Function, f)
		return f
	}
	loc := func(id uint64, f *profile.Function, line int64) *profile.Location {
		l := &profile.Location{ID: id, Address: id, Line: []profile.Line{{Function: f, Line: line}}}
		p.Location = append(p.Location, l)
		return l
	}
	park := loc(1, fn(1, "runtime.gopark", "/go/src/runtime/proc.go"), 462)
	recv := loc(2, fn(2, "runtime.chanrecv1", "/go/src/runtime/chan.go"), 500)
	serve := loc(3, fn(3, "example.com/app.serve", "/src/app/s.go"), 1)
	for i, c := range counts {
		if c == 0 {
			continue
		}
		id := uint64(10 + i)
		wait := loc(id, fn(id, fmt.Sprintf("example.com/app.wait%d", i), "/src/app/w.go"), int64(10+i))
		p.Sample = append(p.Sample, &profile.Sample{Location: []*profile.Location{park, recv, wait, serve}, Value: []int64{int64(c)}})
	}
	return p.Write(w)
}

func fakeReading(at time.Time, goroutines int) *windowReading {
	s := &Snapshot{Time: at}
	s.Runtime.Goroutines = uint64(goroutines)
	return &windowReading{snap: s}
}

// TestGoroutineSourceSpacing: the profile is read at every window reading up to 10k goroutines,
// at one in ceil(n/10k) above, and not at all above the ceiling; the notes say so.
func TestGoroutineSourceSpacing(t *testing.T) {
	reads := 0
	s := newGoroutineSource()
	s.read = func(w io.Writer) error { reads++; return writeFakeGoroutineProfile(w, []int{1}) }
	s.readLeaks = nil
	at := time.Unix(1e9, 0)
	step := func(n, readings int) int {
		before := reads
		for range readings {
			at = at.Add(time.Minute)
			s.sampleWindow(fakeReading(at, n))
		}
		return reads - before
	}
	if got := step(1000, 10); got != 10 {
		t.Errorf("1k goroutines: %d reads in 10 readings, want 10", got)
	}
	if got := step(35_000, 40); got != 10 {
		t.Errorf("35k goroutines: %d reads in 40 readings, want 10 (one in four)", got)
	}
	if got := step(goroutineCeiling+1, 10); got != 0 {
		t.Errorf("above the ceiling: %d reads, want 0", got)
	}
	l := &Leaks{}
	s.fill(at, l)
	joined := strings.Join(l.Notes, "\n")
	for _, want := range []string{"above the ceiling", "no goroutineleak profile", "skipped"} {
		if !strings.Contains(joined, want) {
			t.Errorf("notes %q do not say %q", joined, want)
		}
	}
}

// TestGoroutineSourceTrend: a group rising at every reading becomes a significant suspect; a flat
// group and one that rose then stopped do not; groups stay bounded.
func TestGoroutineSourceTrend(t *testing.T) {
	var counts [][]int
	for i := range 20 {
		rising, flat, stopped := 10+5*i, 50, min(10+5*i, 40)
		counts = append(counts, []int{rising, flat, stopped})
	}
	f := &fakeGoroutineProfile{counts: counts}
	s := newGoroutineSource()
	s.read, s.readLeaks = f.write, nil
	at := time.Unix(1e9, 0)
	for range counts {
		at = at.Add(10 * time.Second)
		s.sampleWindow(fakeReading(at, 100))
	}
	l := &Leaks{}
	s.fill(at, l)
	if len(l.Suspects) != 1 {
		t.Fatalf("suspects %+v, want the rising group only", l.Suspects)
	}
	su := l.Suspects[0]
	if su.Culprit.Function != "example.com/app.wait0" || su.Culprit.Line != 10 || su.Certainty != LeakSignificant ||
		su.PValue == nil || su.Current != 105 || su.GrowthPerSecond != 0.5 || su.Finding != FindingGoroutineGroupGrowing {
		t.Errorf("suspect %+v", su)
	}
	if len(l.GoroutineGroups) != 3 || l.GoroutineGroups[0].Count != 105 || !l.GoroutineGroups[0].Growing {
		t.Errorf("groups %+v", l.GoroutineGroups)
	}
}

// TestGoroutineSourceBounded: many short-lived groups keep at most goroutineMaxGroups series of at
// most goroutineMaxReadings points.
func TestGoroutineSourceBounded(t *testing.T) {
	s := newGoroutineSource()
	s.readLeaks = nil
	i := 0
	s.read = func(w io.Writer) error {
		c := make([]int, 300)
		for j := range c {
			c[j] = 1 + (i+j)%7
		}
		i++
		return writeFakeGoroutineProfile(w, c)
	}
	at := time.Unix(1e9, 0)
	for range 200 {
		at = at.Add(time.Second)
		s.sampleWindow(fakeReading(at, 1200))
	}
	if len(s.groups) > goroutineMaxGroups {
		t.Errorf("%d groups kept, want at most %d", len(s.groups), goroutineMaxGroups)
	}
	for _, g := range s.groups {
		if len(g.pts) > goroutineMaxReadings {
			t.Errorf("a series of %d points, want at most %d", len(g.pts), goroutineMaxReadings)
		}
	}
}

// TestGoroutineSourceProven: groups of the goroutineleak profile are proven suspects, ranked first.
func TestGoroutineSourceProven(t *testing.T) {
	s := newGoroutineSource()
	s.read = func(w io.Writer) error { return writeFakeGoroutineProfile(w, []int{3}) }
	s.readLeaks = func(w io.Writer) error { return writeFakeGoroutineProfile(w, []int{0, 7}) }
	at := time.Unix(1e9, 0)
	s.sampleWindow(fakeReading(at, 10))
	s.sampleFull(&fullReading{snap: fakeReading(at, 10).snap})
	l := &Leaks{}
	s.fill(at, l)
	if len(l.Suspects) != 1 {
		t.Fatalf("suspects %+v", l.Suspects)
	}
	su := l.Suspects[0]
	if su.Kind != LeakGoroutines || su.Certainty != LeakProven || su.PValue != nil || su.Current != 7 ||
		su.Culprit.Function != "example.com/app.wait1" || su.Culprit.Line != 11 || su.Finding != FindingGoroutinesLeaked ||
		!strings.Contains(su.Headline, "w.go:11") {
		t.Errorf("proven suspect %+v", su)
	}
}

// TestGoroutineSourcePauseBudget: a reading that stops the world pushes the next reading back by
// 1000 times the pause, measured from runtime/metrics.
func TestGoroutineSourcePauseBudget(t *testing.T) {
	s := newGoroutineSource()
	if !s.probe.ok {
		t.Skip("this runtime has no " + pauseOtherMetric)
	}
	reads := 0
	s.read = func(w io.Writer) error {
		reads++
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms) // stops the world, as the goroutine profile does
		return writeFakeGoroutineProfile(w, []int{1})
	}
	s.readLeaks = nil
	at := time.Unix(1e9, 0)
	s.sampleWindow(fakeReading(at, 10))
	if !s.pauseOK || s.lastPause <= 0 {
		t.Fatalf("no pause measured around a stop-the-world (%v, %v)", s.lastPause, s.pauseOK)
	}
	if want := at.Add(time.Duration(float64(s.lastPause) / goroutinePauseBudget)); !s.next.Equal(want) {
		t.Errorf("next reading at %v, want %v", s.next, want)
	}
	s.sampleWindow(fakeReading(s.next.Add(-time.Nanosecond), 10))
	if reads != 1 {
		t.Errorf("%d reads, want 1: the second came before the budget allowed", reads)
	}
	s.sampleWindow(fakeReading(s.next, 10))
	if reads != 2 {
		t.Errorf("%d reads, want 2: the budget had passed", reads)
	}
}

// TestGoroutineSourceWeak: a group rising at each of its first readings, too few for the trend
// test, is a weak suspect without a p-value; one rising by less than goroutineMinGrowth is none.
func TestGoroutineSourceWeak(t *testing.T) {
	var counts [][]int
	for i := range 5 {
		counts = append(counts, []int{10 + 3*i, 10 + i/2})
	}
	f := &fakeGoroutineProfile{counts: counts}
	s := newGoroutineSource()
	s.read, s.readLeaks = f.write, nil
	at := time.Unix(1e9, 0)
	for range counts {
		at = at.Add(10 * time.Second)
		s.sampleWindow(fakeReading(at, 100))
	}
	l := &Leaks{}
	s.fill(at, l)
	if len(l.Suspects) != 1 {
		t.Fatalf("suspects %+v, want one weak", l.Suspects)
	}
	su := l.Suspects[0]
	if su.Certainty != LeakWeak || su.PValue != nil || su.Culprit.Function != "example.com/app.wait0" || su.Current != 22 || su.GrowthPerSecond != 0.3 {
		t.Errorf("weak suspect %+v", su)
	}
}
