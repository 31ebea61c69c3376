package middleware

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
	"github.com/memdiag/memdiag/runtimediag/reporttext"
)

// renderReportText writes /report.txt: the same text `memdiag report` prints (runtimediag/reporttext).
func renderReportText(w io.Writer, rep *runtimediag.Report) error {
	return reporttext.Write(w, rep, "")
}

// renderSites writes allocation sites as a table with a header, for the allocs endpoint.
func renderSites(w io.Writer, sites []runtimediag.AllocationSite) {
	if len(sites) == 0 {
		fmt.Fprintln(w, "  none sampled")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  bytes/s\tobjects/s\tshare\tsite\n")
	for _, s := range sites {
		fmt.Fprintf(tw, "  %s\t%.0f\t%.1f%%\t%s %s:%d\n", humanize.Bytes(uint64(s.BytesPerSecond)), s.ObjectsPerSecond, 100*s.Share, s.Function, s.File, s.Line)
	}
	tw.Flush()
}
