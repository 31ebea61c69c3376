package runtimediag

import (
	"slices"
	"testing"
	"time"
)

func leakSuspectFor(kind, code, certainty, headline string) LeakSuspect {
	s := LeakSuspect{Kind: kind, Certainty: certainty, Unit: "bytes", GrowthPerSecond: 1000, Current: 1 << 20,
		Headline: headline, Advice: "do something", Finding: code}
	if certainty == LeakSignificant {
		p := 0.001
		s.PValue = &p
	}
	return s
}

// TestLeakFindings: every kind of suspect raises its own finding code, at the severity of its
// certainty, through the ordinary rule table and its hysteresis.
func TestLeakFindings(t *testing.T) {
	cur := &Snapshot{Time: time.Unix(1000, 0)}
	tests := []struct {
		kind, code, certainty string
		want                  Severity
	}{
		{LeakHeapSite, FindingHeapGrowingAtSite, LeakSignificant, SeverityWarning},
		{LeakHeapSite, FindingHeapGrowingAtSite, LeakWeak, SeverityInfo},
		{LeakGoroutineGroup, FindingGoroutineGroupGrowing, LeakSignificant, SeverityWarning},
		{LeakGoroutines, FindingGoroutinesLeaked, LeakProven, SeverityCritical},
		{LeakMappings, FindingMappingsGrowing, LeakWeak, SeverityInfo},
	}
	for _, tt := range tests {
		t.Run(tt.code+"/"+tt.certainty, func(t *testing.T) {
			l := &Leaks{Suspects: []LeakSuspect{leakSuspectFor(tt.kind, tt.code, tt.certainty, "first"), leakSuspectFor(tt.kind, tt.code, LeakWeak, "second")}}
			r := Analyze(AnalyzeInput{Cur: cur, Leaks: l})
			i := slices.IndexFunc(r.Findings, func(f Finding) bool { return f.Code == tt.code })
			if i < 0 {
				t.Fatalf("no %s; findings %v", tt.code, findingCodes(r))
			}
			f := r.Findings[i]
			if f.Severity != tt.want || f.Doc != findingsDoc+"#"+tt.code || f.Advice == "" || len(f.Evidence) == 0 {
				t.Errorf("finding %+v, want severity %s", f, tt.want)
			}
			if r.Leaks != l {
				t.Error("the report's Leaks section is not the input's")
			}
			for _, other := range leakFindingCodes {
				if other != tt.code && slices.Contains(findingCodes(r), other) {
					t.Errorf("%s raised %s too", tt.code, other)
				}
			}
		})
	}
	if r := Analyze(AnalyzeInput{Cur: cur, Leaks: &Leaks{}}); len(r.Findings) != 0 {
		t.Errorf("no suspects, findings %v", findingCodes(r))
	}
}

// TestLeakFindingHysteresis: a suspect is reported at once, logged as appeared, then worse when
// more certain, and cleared only after two reports without it.
func TestLeakFindingHysteresis(t *testing.T) {
	var st *FindingState = &FindingState{}
	var tr findingTracker
	step := func(i int, l *Leaks) ([]string, []findingTransition) {
		r := Analyze(AnalyzeInput{Cur: &Snapshot{Time: time.Unix(int64(1000+i), 0)}, Leaks: l, State: st})
		st = r.State
		return findingCodes(r), tr.update(r.Findings)
	}
	weak := &Leaks{Suspects: []LeakSuspect{leakSuspectFor(LeakHeapSite, FindingHeapGrowingAtSite, LeakWeak, "h")}}
	sig := &Leaks{Suspects: []LeakSuspect{leakSuspectFor(LeakHeapSite, FindingHeapGrowingAtSite, LeakSignificant, "h")}}
	none := &Leaks{}
	want := []struct {
		l      *Leaks
		active bool
		trans  string
	}{
		{weak, true, TransitionAppeared},
		{weak, true, ""},
		{sig, true, TransitionWorse},
		{none, true, ""},
		{none, false, TransitionCleared},
		{none, false, ""},
	}
	for i, w := range want {
		codes, trans := step(i, w.l)
		if got := slices.Contains(codes, FindingHeapGrowingAtSite); got != w.active {
			t.Errorf("step %d: reported %v, want %v", i, got, w.active)
		}
		got := ""
		if len(trans) > 0 {
			got = trans[0].kind
		}
		if got != w.trans {
			t.Errorf("step %d: transition %q, want %q", i, got, w.trans)
		}
	}
}

// TestLeakSuspectLines: each suspect is logged when it appears and when it gets more certain, once,
// a second suspect of the same kind too, and it clears after two reports without it.
func TestLeakSuspectLines(t *testing.T) {
	a := leakSuspectFor(LeakHeapSite, FindingHeapGrowingAtSite, LeakWeak, "a")
	a.Culprit = LeakCulprit{Function: "main.a", File: "/a.go", Line: 1}
	aSig := leakSuspectFor(LeakHeapSite, FindingHeapGrowingAtSite, LeakSignificant, "a")
	aSig.Culprit = a.Culprit
	b := leakSuspectFor(LeakHeapSite, FindingHeapGrowingAtSite, LeakSignificant, "b")
	b.Culprit = LeakCulprit{Function: "main.b", File: "/b.go", Line: 2}
	var tr leakLogTracker
	steps := []struct {
		l    *Leaks
		want []string
	}{
		{&Leaks{Suspects: []LeakSuspect{a}}, []string{"appeared main.a"}},
		{&Leaks{Suspects: []LeakSuspect{a}}, nil},
		{&Leaks{Suspects: []LeakSuspect{aSig, b}}, []string{"worse main.a", "appeared main.b"}},
		{&Leaks{Suspects: []LeakSuspect{b}}, nil},
		{&Leaks{Suspects: []LeakSuspect{b}}, []string{"cleared main.a"}},
		{nil, nil},
		{&Leaks{}, nil},
		{&Leaks{}, []string{"cleared main.b"}},
	}
	for i, st := range steps {
		var got []string
		for _, x := range tr.update(st.l) {
			got = append(got, x.kind+" "+x.s.Culprit.Function)
		}
		if !slices.Equal(got, st.want) {
			t.Errorf("step %d: %q, want %q", i, got, st.want)
		}
	}
}
