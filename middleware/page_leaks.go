package middleware

import (
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
	"github.com/memdiag/memdiag/runtimediag/reporttext"
)

// leaksView is the page's "What grows" section: every suspect, whatever its kind, with a
// sparkline of the series its verdict rests on.
type leaksView struct {
	Suspects []suspectView
	Notes    string
}

type suspectView struct {
	Kind, Certainty, Finding string
	Headline, Advice         string
	Culprit                  string
	Stack                    []string
	Growth, Current, Since   string
	Sparkline                template.HTML
}

// leaksSection formats the report's leaks section; nil when leak tracking is off.
func leaksSection(l *runtimediag.Leaks) *leaksView {
	if l == nil {
		return nil
	}
	v := &leaksView{Notes: strings.Join(l.Notes, "; ")}
	for i := range l.Suspects {
		s := &l.Suspects[i]
		sure := s.Certainty
		if s.PValue != nil {
			sure += " (p=" + strconv.FormatFloat(*s.PValue, 'g', 2, 64) + ")"
		}
		v.Suspects = append(v.Suspects, suspectView{
			Kind: s.Kind, Certainty: sure, Finding: s.Finding, Headline: s.Headline, Advice: s.Advice,
			Culprit: reporttext.LeakCulpritLine(&s.Culprit), Stack: s.Culprit.Stack,
			Growth:    "+" + reporttext.LeakAmount(s.GrowthPerSecond*60, s.Unit) + "/min",
			Current:   reporttext.LeakAmount(s.Current, s.Unit),
			Since:     humanize.Clock(s.Since),
			Sparkline: sparkline(s.Series, s.Kind+" "+s.Culprit.Function),
		})
	}
	return v
}

// Sparkline geometry: a small inline SVG, no axes; the title holds the range.
const (
	sparkW, sparkH = 160.0, 32.0
	sparkPad       = 2.0
)

// sparkline draws a series as an inline SVG polyline scaled to its own range, oldest on the left.
func sparkline(pts []runtimediag.LeakPoint, label string) template.HTML {
	var s svgWriter
	s.open("svg", "class", "spark", "viewBox", "0 0 "+num(sparkW)+" "+num(sparkH), "width", num(sparkW), "height", num(sparkH),
		"role", "img", "aria-label", "series of "+label, "data-points", strconv.Itoa(len(pts)))
	if len(pts) >= 2 {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range pts {
			lo, hi = math.Min(lo, p.Value), math.Max(hi, p.Value)
		}
		t0, t1 := pts[0].Time, pts[len(pts)-1].Time
		span := t1.Sub(t0).Seconds()
		var b strings.Builder
		for i, p := range pts {
			x := sparkPad + (sparkW-2*sparkPad)*float64(i)/float64(len(pts)-1)
			if span > 0 {
				x = sparkPad + (sparkW-2*sparkPad)*p.Time.Sub(t0).Seconds()/span
			}
			y := sparkH / 2
			if hi > lo {
				y = sparkH - sparkPad - (sparkH-2*sparkPad)*(p.Value-lo)/(hi-lo)
			}
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(num(x) + "," + num(y))
		}
		s.open("polyline", "points", b.String(), "fill", "none", "stroke", "#b3261e", "stroke-width", "1.5")
		s.elem("title", "from "+num(lo)+" to "+num(hi)+" over "+strconv.Itoa(len(pts))+" readings")
		s.close("polyline")
	}
	s.close("svg")
	return s.html()
}
