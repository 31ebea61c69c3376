package middleware

import (
	"strings"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
)

// whatIfView is the page's what-if table: pre-formatted rows, the measured setting first.
type whatIfView struct {
	Rows        []whatIfRowView
	Refused     []string // why there are no predictions
	Assumptions string
}

type whatIfRowView struct {
	Setting, Cycles, GCCPU, Assist, PeakHeap, PeakResident, Headroom, Notes string
	Current, OverLimit                                                      bool
}

// whatIfTable formats the report's what_if section; nil when the report has none.
func whatIfTable(wi *runtimediag.WhatIf) *whatIfView {
	if wi == nil {
		return nil
	}
	v := &whatIfView{Assumptions: wi.Assumptions}
	for _, r := range wi.Refused {
		v.Refused = append(v.Refused, r.Reason+": "+r.Detail)
	}
	if len(v.Refused) > 0 {
		return v
	}
	c := wi.Current
	v.Rows = append(v.Rows, whatIfRowView{Setting: c.Setting + " (now, measured)", Current: true, Cycles: humanize.Float(c.GCCyclesPerSecond),
		GCCPU: humanize.Percent(c.GCCPUFraction), Assist: humanize.Percent(c.GCAssistCPUFraction), PeakHeap: humanize.Absent, PeakResident: humanize.Absent, Headroom: humanize.Absent})
	for _, p := range wi.Predictions {
		r := whatIfRowView{Setting: p.Setting, Cycles: humanize.Float(p.GCCyclesPerSecond), GCCPU: humanize.Percent(p.GCCPUFraction),
			Assist: humanize.Percent(p.GCAssistCPUFraction), PeakHeap: humanize.Absent, PeakResident: humanize.Absent, Headroom: humanize.Absent}
		switch {
		case p.HeapUnbounded:
			r.PeakHeap, r.PeakResident = "unbounded", "unbounded"
		default:
			if p.PeakHeapBytes != nil {
				r.PeakHeap = humanize.Bytes(*p.PeakHeapBytes)
			}
			if p.PeakResidentBytes != nil {
				r.PeakResident = humanize.Bytes(*p.PeakResidentBytes)
			}
			if p.ContainerHeadroomBytes != nil {
				r.Headroom = humanize.SignedBytes(*p.ContainerHeadroomBytes)
				r.OverLimit = *p.ContainerHeadroomBytes < 0
			}
		}
		var notes []string
		if p.LimitBinds {
			notes = append(notes, "limit binds")
		}
		if p.LimiterEngages {
			notes = append(notes, "limiter engages")
		}
		r.Notes = strings.Join(notes, ", ")
		v.Rows = append(v.Rows, r)
	}
	return v
}
