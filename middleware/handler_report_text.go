package middleware

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/memdiag/memdiag/runtimediag"
)

// renderReportText writes a report for a terminal: the same sections as the page, in the same
// order — where resident memory is, what to change, how the process allocates, which code
// allocates, and which sources could not be read.
func renderReportText(w io.Writer, rep *runtimediag.Report) {
	fmt.Fprintf(w, "memdiag report at %s", rep.Time.UTC().Format("2006-01-02T15:04:05.000Z"))
	if rep.WindowSeconds > 0 {
		fmt.Fprintf(w, ", window %.1f s", rep.WindowSeconds)
	}
	fmt.Fprintln(w)

	rss := &rep.RSS
	fmt.Fprintf(w, "\nResident memory: %s (tier %s)\n", bytesText(rss.ResidentBytes), rss.Tier)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	for _, c := range rss.Categories {
		fmt.Fprintf(tw, "  %s\t%s\t%5.1f%%\t  %s\t\n", c.Name, bytesText(c.Bytes), percent(c.Bytes, rss.ResidentBytes), c.Method)
	}
	fmt.Fprintf(tw, "  unexplained\t%s\t\t\t\n", signedBytesText(rss.UnexplainedBytes))
	tw.Flush()
	if rss.LazyFreeBytes > 0 || rss.SwapBytes > 0 {
		fmt.Fprintf(w, "  lazily freed (MADV_FREE) %s, swapped out %s\n", bytesText(rss.LazyFreeBytes), bytesText(rss.SwapBytes))
	}
	for _, n := range rss.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}

	fmt.Fprintf(w, "\nFindings (%d)\n", len(rep.Findings))
	if len(rep.Findings) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, f := range rep.Findings {
		fmt.Fprintf(w, "  [%s] %s: %s\n", f.Severity, f.Code, f.Headline)
		for _, e := range f.Evidence {
			fmt.Fprintf(w, "      %s = %s %s\n", e.Name, strconv.FormatFloat(e.Value, 'g', 6, 64), e.Unit)
		}
		if f.Advice != "" {
			fmt.Fprintf(w, "    advice: %s\n", f.Advice)
		}
		if f.Doc != "" {
			fmt.Fprintf(w, "    see %s\n", f.Doc)
		}
	}

	e := &rep.Efficiency
	fmt.Fprintln(w, "\nEfficiency")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(name, value string) { fmt.Fprintf(tw, "  %s\t%s\n", name, value) }
	row("allocation rate", bytesText(uint64(e.AllocBytesPerSecond))+"/s, "+strconv.FormatFloat(e.AllocObjectsPerSecond, 'f', 0, 64)+" objects/s")
	row("mean object size", strconv.FormatFloat(e.MeanObjectBytes, 'f', 1, 64)+" B")
	row("GC cycles", strconv.FormatFloat(e.GCCyclesPerSecond, 'f', 3, 64)+"/s")
	row("GC CPU", fmt.Sprintf("%.2f%% of available, %.2f%% of used (assist %.2f%%)", 100*e.GCCPUFraction, 100*e.GCBusyCPUShare, 100*e.GCAssistBusyCPUShare))
	row("GC pauses", fmt.Sprintf("%d, p50 %s, p99 %s, max %s", e.PauseGC.Count, secondsText(e.PauseGC.P50), secondsText(e.PauseGC.P99), secondsText(e.PauseGC.Max)))
	row("heap live / goal", bytesText(e.HeapLiveBytes)+" / "+bytesText(e.HeapGoalBytes))
	row("churn", strconv.FormatFloat(e.Churn, 'f', 2, 64)+" × live heap per cycle")
	row("heap unused / free", fmt.Sprintf("%.2f / %.2f", e.HeapUnusedRatio, e.HeapFreeRatio))
	if e.GOMEMLIMITBytes != nil {
		row("GOMEMLIMIT", bytesText(uint64(*e.GOMEMLIMITBytes)))
	}
	if e.GOMEMLIMITHeadroomBytes != nil {
		row("GOMEMLIMIT headroom", signedBytesText(*e.GOMEMLIMITHeadroomBytes))
	}
	if e.CgroupLimitBytes != nil {
		row("cgroup limit", bytesText(*e.CgroupLimitBytes))
	}
	if e.CgroupHeadroomBytes != nil {
		row("cgroup headroom", signedBytesText(*e.CgroupHeadroomBytes))
	}
	row("GOGC", strconv.FormatInt(e.GOGC, 10))
	row("goroutines / threads", fmt.Sprintf("%d / %d", e.Goroutines, e.Threads))
	if e.OpenFDsLimit > 0 {
		row("open descriptors", fmt.Sprintf("%d of %d", e.OpenFDs, e.OpenFDsLimit))
	}
	tw.Flush()

	if s := rep.TopAllocationSites; s != nil {
		fmt.Fprintf(w, "\nTop allocation sites over %.1f s (%s/s in all; estimates from samples every %d bytes allocated)\n",
			s.WindowSeconds, bytesText(uint64(s.TotalBytesPerSecond)), s.SampleRateBytes)
		renderSites(w, s.Sites)
	}

	var missing []runtimediag.SourceHealth
	for _, sh := range rep.Sources {
		if !sh.OK {
			missing = append(missing, sh)
		}
	}
	fmt.Fprintf(w, "\nSources: %d read, %d missing\n", len(rep.Sources)-len(missing), len(missing))
	for _, sh := range missing {
		fmt.Fprintf(w, "  %s: %s (%s)\n", sh.Name, sh.Reason, sh.Error)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

func renderSites(w io.Writer, sites []runtimediag.AllocationSite) {
	if len(sites) == 0 {
		fmt.Fprintln(w, "  none sampled")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "  bytes/s\tobjects/s\tshare\tsite\n")
	for _, s := range sites {
		fmt.Fprintf(tw, "  %s\t%.0f\t%.1f%%\t%s %s:%d\n", bytesText(uint64(s.BytesPerSecond)), s.ObjectsPerSecond, 100*s.Share, s.Function, s.File, s.Line)
	}
	tw.Flush()
}

// bytesText is a byte count in binary units with three significant digits.
func bytesText(b uint64) string {
	const unit = 1024
	if b < unit {
		return strconv.FormatUint(b, 10) + " B"
	}
	v, i := float64(b), -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	return strconv.FormatFloat(v, 'f', precision(v), 64) + " " + "KMGTPE"[i:i+1] + "iB"
}

func signedBytesText(b int64) string {
	if b < 0 {
		return "-" + bytesText(uint64(-b))
	}
	return bytesText(uint64(b))
}

func precision(v float64) int {
	switch {
	case v >= 100:
		return 0
	case v >= 10:
		return 1
	}
	return 2
}

func percent(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

func secondsText(s float64) string {
	switch {
	case s == 0:
		return "0"
	case s < 1e-3:
		return strconv.FormatFloat(s*1e6, 'f', 0, 64) + " µs"
	case s < 1:
		return strconv.FormatFloat(s*1e3, 'f', 2, 64) + " ms"
	}
	return strconv.FormatFloat(s, 'f', 2, 64) + " s"
}

// oneLine keeps a value on one line of a text table.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == '\t' {
			return ' '
		}
		return r
	}, s)
}
