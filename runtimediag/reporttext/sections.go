package reporttext

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
)

// FindingsDocURL is where a finding's anchor in docs/findings.md is read: a link, so that a
// terminal or a page opens it.
const FindingsDocURL = "https://github.com/memdiag/memdiag/blob/main/docs/findings.md"

// DocLink turns a finding's Doc ("docs/findings.md#code") into a link to the docs on GitHub;
// anything else is returned as it is.
func DocLink(doc string) string {
	if rest, ok := strings.CutPrefix(doc, "docs/findings.md"); ok {
		return FindingsDocURL + rest
	}
	return doc
}

// writeRoutes writes the per-route statistics Instrument gathered, as the page's routes table.
func writeRoutes(w io.Writer, routes []runtimediag.RouteStats) {
	if len(routes) == 0 {
		fmt.Fprintln(w, "\nROUTES  none: wrap the service's handler with middleware.Instrument for per-route statistics")
		return
	}
	fmt.Fprintf(w, "\nROUTES (%d)\n", len(routes))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  route\trequests\tin flight\tp50\tp99\tmax\tGC pauses sat through\talloc/request\tCPU\n")
	for _, r := range routes {
		inFlight := "?"
		if r.InFlight != nil {
			inFlight = fmt.Sprint(*r.InFlight)
		}
		alloc := "–"
		if a := r.Alloc; a != nil {
			alloc = fmt.Sprintf("%s ±%.0f%%", humanize.Bytes(uint64(max(a.BytesPerRequest, 0))), 100*a.RelativeError)
		} else if r.AllocNote != "" {
			alloc = "– (" + OneLine(r.AllocNote) + ")"
		}
		cpu := "–"
		if c := r.CPU; c != nil {
			cpu = fmt.Sprintf("%s of %s profiled", seconds(c.CPUSeconds), seconds(c.ProfileSeconds))
		}
		fmt.Fprintf(tw, "  %s\t%d\t%s\t%s\t%s\t%s\t%s in %d requests\t%s\t%s\n", OneLine(r.Route), r.Requests, inFlight,
			optSeconds(r.LatencyP50Seconds), optSeconds(r.LatencyP99Seconds), optSeconds(r.LatencyMaxSeconds),
			seconds(r.STWSeconds), r.DelayedRequests, alloc, cpu)
	}
	tw.Flush()
}

// writeSources says how many sources were read and what each unread one lacked.
func writeSources(w io.Writer, sources []runtimediag.SourceHealth) {
	var missing []string
	var cost float64
	for _, s := range sources {
		cost += s.CostSec
		if !s.OK {
			why := s.Reason
			if why == "" {
				why = s.Error
			}
			missing = append(missing, fmt.Sprintf("%s (%s)", s.Name, why))
		}
	}
	fmt.Fprintf(w, "\nSOURCES  %d read, %d unread, %s reading them\n", len(sources)-len(missing), len(missing), seconds(cost))
	if len(missing) > 0 {
		fmt.Fprintf(w, "  unread: %s\n", strings.Join(missing, "\n  unread: "))
	}
}

func seconds(s float64) string {
	return time.Duration(s * float64(time.Second)).Round(time.Microsecond).String()
}

func optSeconds(s *float64) string {
	if s == nil {
		return "–"
	}
	return seconds(*s)
}

// OneLine keeps a value on one line of a text table: newlines, carriage returns and tabs
// become spaces. The text report and the tree's other text tables use it.
func OneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s)
}
