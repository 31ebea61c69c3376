package reporttext

import (
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
)

// maxStackLines is how much of a suspect's stack the text shows; the JSON has it whole.
const maxStackLines = 8

// WriteLeaks renders the leaks section alone (GET {prefix}leaks.txt, memdiag leaks): every
// suspect, whatever its kind, ranked, with its culprit; "leak tracking is off" for nil. It returns
// the first error from w.
func WriteLeaks(w io.Writer, l *runtimediag.Leaks) error {
	ew := &errWriter{w: w}
	if l == nil {
		fmt.Fprintln(ew, "WHAT GROWS\n  leak tracking is off (runtimediag.WithLeakTracking)")
		return ew.err
	}
	writeLeaks(ew, l)
	return ew.err
}

func writeLeaks(w io.Writer, l *runtimediag.Leaks) {
	if l == nil {
		return
	}
	noun := "suspects"
	if len(l.Suspects) == 1 {
		noun = "suspect"
	}
	fmt.Fprintf(w, "WHAT GROWS (%d %s; see docs/leaks.md)\n", len(l.Suspects), noun)
	if len(l.Suspects) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for i := range l.Suspects {
		s := &l.Suspects[i]
		sure := s.Certainty
		if s.PValue != nil {
			sure += " p=" + strconv.FormatFloat(*s.PValue, 'g', 2, 64)
		}
		fmt.Fprintf(w, "  [%s] %s  +%s/min  now %s  since %s\n", sure, s.Kind,
			LeakAmount(s.GrowthPerSecond*60, s.Unit), LeakAmount(s.Current, s.Unit), s.Since.UTC().Format("2006-01-02 15:04:05Z"))
		if c := LeakCulpritLine(&s.Culprit); c != "" {
			fmt.Fprintf(w, "      culprit %s\n", c)
		}
		fmt.Fprintf(w, "      %s\n", OneLine(s.Headline))
		if s.Advice != "" {
			fmt.Fprintf(w, "      %s\n", OneLine(s.Advice))
		}
		for j, fr := range s.Culprit.Stack {
			if j == maxStackLines {
				fmt.Fprintf(w, "        … %d more frames\n", len(s.Culprit.Stack)-j)
				break
			}
			fmt.Fprintf(w, "        %s\n", OneLine(fr))
		}
	}
	if len(l.Notes) > 0 {
		fmt.Fprintf(w, "  (%s)\n", OneLine(strings.Join(l.Notes, "; ")))
	}
}

// LeakCulpritLine is a suspect's culprit on one line: "function file:line", the creating frame
// and the description when there are.
func LeakCulpritLine(c *runtimediag.LeakCulprit) string {
	var parts []string
	if c.Function != "" {
		p := c.Function
		if c.File != "" {
			p += " " + c.File + ":" + strconv.Itoa(c.Line)
		}
		parts = append(parts, p)
	}
	if c.CreatedBy != "" {
		parts = append(parts, "created by "+c.CreatedBy)
	}
	if c.Description != "" {
		parts = append(parts, c.Description)
	}
	return strings.Join(parts, "; ")
}

// LeakAmount formats a suspect's figure in its unit: bytes humanized, counts as counts.
func LeakAmount(v float64, unit string) string {
	if unit == "bytes" {
		if v < 0 {
			return "-" + humanize.Bytes(uint64(-v))
		}
		return humanize.Bytes(uint64(v))
	}
	return humanize.Count(v) + " " + unit
}
