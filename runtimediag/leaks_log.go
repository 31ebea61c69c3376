package runtimediag

import (
	"slices"
	"strconv"

	"go.uber.org/zap"
)

// LogMessageLeakSuspect is one leak suspect that appeared (Warn), got more certain (Warn, as
// transition "worse") or cleared (Info). The finding its kind raises has its own line
// (LogMessageFinding) once per code; this line names each suspect, so a second leak of the same
// kind is logged too.
const LogMessageLeakSuspect = "memdiag leak suspect"

// Leak suspect line fields (transition, headline and the window fields are the finding line's).
const (
	fieldLeakKind      = "kind"
	fieldLeakCertainty = "certainty"
	fieldLeakPrevious  = "previous_certainty"
	fieldLeakFinding   = "finding"
	fieldLeakCulprit   = "culprit"
	fieldLeakGrowth    = "growth_per_second"
	fieldLeakUnit      = "unit"
)

var leakLogFields = []string{fieldTransition, fieldLeakKind, fieldLeakCertainty, fieldLeakPrevious, fieldLeakFinding,
	fieldLeakCulprit, fieldLeakGrowth, fieldLeakUnit, fieldFindingHeadline, fieldWindowStart, fieldWindowEnd, fieldWindowSource}

// leakClearAfter is how many reports in a row a suspect must be absent from before its cleared
// line, as the leak findings' clearAfter: a suspect that flickers is not logged every report.
const leakClearAfter = 2

// leakLogTracker remembers the suspects of the last reports, so that each transition is logged
// once. Guarded by the Monitor's fullMu.
type leakLogTracker struct {
	active map[string]*leakLogState
}

type leakLogState struct {
	s      LeakSuspect // as last seen
	missed int
}

type leakTransition struct {
	kind     string // TransitionAppeared, TransitionWorse, TransitionCleared
	s        LeakSuspect
	previous string
}

// suspectKey names a suspect across reports: its kind and its culprit.
func suspectKey(s *LeakSuspect) string {
	c := &s.Culprit
	return s.Kind + "|" + c.Function + "|" + c.File + ":" + strconv.Itoa(c.Line) + "|" + c.CreatedBy + "|" + c.Description
}

func certaintyRank(c string) int {
	switch c {
	case LeakProven:
		return 3
	case LeakSignificant:
		return 2
	case LeakWeak:
		return 1
	}
	return 0
}

// update compares a report's suspects with the remembered ones; nil l (tracking off) changes
// nothing.
func (t *leakLogTracker) update(l *Leaks) []leakTransition {
	if l == nil {
		return nil
	}
	if t.active == nil {
		t.active = map[string]*leakLogState{}
	}
	var out []leakTransition
	seen := make(map[string]bool, len(l.Suspects))
	for i := range l.Suspects {
		s := l.Suspects[i]
		s.Series = nil // a log line never carries the series; neither does the memory kept for it
		k := suspectKey(&s)
		if seen[k] {
			continue
		}
		seen[k] = true
		st, ok := t.active[k]
		switch {
		case !ok:
			out = append(out, leakTransition{kind: TransitionAppeared, s: s})
			st = &leakLogState{}
			t.active[k] = st
		case certaintyRank(s.Certainty) > certaintyRank(st.s.Certainty):
			out = append(out, leakTransition{kind: TransitionWorse, s: s, previous: st.s.Certainty})
		}
		st.s, st.missed = s, 0
	}
	var gone []string
	for k, st := range t.active {
		if seen[k] {
			continue
		}
		if st.missed++; st.missed >= leakClearAfter {
			gone = append(gone, k)
		}
	}
	slices.Sort(gone)
	for _, k := range gone {
		out = append(out, leakTransition{kind: TransitionCleared, s: t.active[k].s})
		delete(t.active, k)
	}
	return out
}

func (tr *leakTransition) log(l *zap.Logger) {
	s := &tr.s
	fields := []zap.Field{
		zap.String(fieldTransition, tr.kind),
		zap.String(fieldLeakKind, s.Kind),
		zap.String(fieldLeakCertainty, s.Certainty),
	}
	if tr.kind == TransitionWorse {
		fields = append(fields, zap.String(fieldLeakPrevious, tr.previous))
	}
	culprit := s.Culprit.Function
	if s.Culprit.File != "" {
		culprit += " " + s.Culprit.File + ":" + strconv.Itoa(s.Culprit.Line)
	}
	if culprit == "" {
		culprit = s.Culprit.Description
	}
	fields = append(fields, zap.String(fieldLeakFinding, s.Finding), zap.String(fieldLeakCulprit, culprit),
		zap.Float64(fieldLeakGrowth, finite(s.GrowthPerSecond)), zap.String(fieldLeakUnit, s.Unit),
		zap.String(fieldFindingHeadline, s.Headline))
	if tr.kind == TransitionCleared {
		l.Info(LogMessageLeakSuspect, fields...)
		return
	}
	l.Warn(LogMessageLeakSuspect, fields...)
}
