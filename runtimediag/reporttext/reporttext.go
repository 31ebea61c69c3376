// Package reporttext renders a runtimediag.Report as plain text: the /report.txt endpoint and
// the memdiag report and watch commands print the same thing.
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

// NotRead is what the text shows for a figure whose source could not be read.
const NotRead = "not read"

// Write renders rep as text for a terminal: where the resident memory is, how the process
// allocates and collects, what to change, which code allocates, and which sources could not be
// read. source, when not empty, names where the report came from. It returns the first error
// from w.
func Write(w io.Writer, rep *runtimediag.Report, source string) error {
	ew := &errWriter{w: w}
	w = ew
	r := &rep.RSS
	window := "one snapshot, no rates"
	if rep.WindowSeconds > 0 {
		window = fmt.Sprintf("window %s", humanize.Duration(rep.WindowSeconds))
	}
	fmt.Fprintf(w, "memdiag report  %s  %s  (%s tier)\n", rep.Time.UTC().Format(time.RFC3339), window, r.Tier)
	if source != "" {
		fmt.Fprintf(w, "from %s\n", source)
	}
	if win := rep.Window; win != nil {
		fmt.Fprintf(w, "%s\n", WindowLine(win))
	}

	resident, unexplained, nonGo := NotRead, NotRead, "not measured"
	if r.ResidentKnown() {
		resident, unexplained = humanize.Bytes(r.ResidentBytes), humanize.SignedBytes(r.UnexplainedBytes)
	}
	if r.NonGoMeasured() {
		nonGo = humanize.Bytes(r.NonGoBytes)
	}
	fmt.Fprintf(w, "\nRESIDENT %s   Go-managed %s   non-Go %s   unexplained %s\n",
		resident, humanize.Bytes(r.GoManagedBytes), nonGo, unexplained)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	var unmeasured []string
	for _, c := range r.Categories {
		if c.Method == runtimediag.MethodNotMeasured {
			unmeasured = append(unmeasured, c.Name)
			continue
		}
		if c.Bytes == 0 {
			continue
		}
		share := NotRead
		if r.ResidentKnown() {
			share = humanize.Share(float64(c.Bytes), float64(r.ResidentBytes))
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t  %s\n", c.Name, humanize.Bytes(c.Bytes), share, c.Method)
	}
	tw.Flush()
	var extra []string
	if len(unmeasured) > 0 {
		extra = append(extra, "not measured: "+strings.Join(unmeasured, ", "))
	}
	if r.LazyFreeBytes > 0 {
		extra = append(extra, "lazy free "+humanize.Bytes(r.LazyFreeBytes))
	}
	if r.SwapBytes > 0 {
		extra = append(extra, "swapped "+humanize.Bytes(r.SwapBytes))
	}
	if r.AnonHugePagesBytes > 0 {
		extra = append(extra, "in huge pages "+humanize.Bytes(r.AnonHugePagesBytes))
	}
	if ck := r.ArenaCheck; ck != nil && !ck.OK {
		extra = append(extra, "arena self-check failed: "+ck.Message)
	}
	if r.Tier == runtimediag.TierCheap && r.ClassificationAgeSeconds > 0 {
		extra = append(extra, "classified "+humanize.Duration(r.ClassificationAgeSeconds)+" ago")
	}
	for _, e := range extra {
		fmt.Fprintf(w, "  (%s)\n", e)
	}

	e := &rep.Efficiency
	fmt.Fprintln(w, "\nEFFICIENCY")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if rep.WindowSeconds > 0 {
		fmt.Fprintf(tw, "  allocation\t%s/s, %s objects/s, mean %s, tiny %s, large %s\n",
			humanize.Bytes(uint64(e.AllocBytesPerSecond)), humanize.Count(e.AllocObjectsPerSecond), humanize.Bytes(uint64(e.MeanObjectBytes)),
			humanize.Percent(e.TinyAllocShare), humanize.Percent(e.LargeAllocShare))
		if x := e.MemdiagExcluded; x != nil {
			fmt.Fprintf(tw, "  \tthe application's: memdiag's own %s of bytes taken out of the process's %s/s (GC CPU %s before)\n",
				humanize.Percent(x.AllocBytesShare), humanize.Bytes(uint64(e.ProcessAllocBytesPerSecond)), humanize.Percent(e.ProcessGCCPUFraction))
		} else if e.ProcessAllocBytesPerSecond > 0 {
			fmt.Fprintf(tw, "  \tthe whole process's, memdiag included: no allocation profile for the window to take its share out\n")
		}
		fmt.Fprintf(tw, "  GC\t%.2f cycles/s (%.2f forced), %s of busy CPU (assist %s), %s of all CPU, busy %.2f cores\n",
			e.GCCyclesPerSecond, e.ForcedGCCyclesPerSecond, humanize.Percent(e.GCBusyCPUShare), humanize.Percent(e.GCAssistBusyCPUShare),
			humanize.Percent(e.GCCPUFraction), e.BusyCores)
		fmt.Fprintf(tw, "  pauses\tGC %s; stopping %s; other %s\n", pauses(e.PauseGC), pauses(e.StoppingGC), pauses(e.PauseOther))
	}
	fmt.Fprintf(tw, "  heap\tlive %s, goal %s, churn %.2f, unused/objects %.2f, free/mapped %.2f, pointer-bearing %s\n",
		humanize.Bytes(e.HeapLiveBytes), humanize.Bytes(e.HeapGoalBytes), e.Churn, e.HeapUnusedRatio, e.HeapFreeRatio, humanize.Percent(e.ScanHeapShare))
	fmt.Fprintf(tw, "  limits\t%s\n", limits(e))
	fmt.Fprintf(tw, "  runtime\t%d goroutines, %d threads, GOMAXPROCS %d, stacks %s%s%s\n",
		e.Goroutines, e.Threads, e.GOMAXPROCS, humanize.Bytes(e.StackBytes), fds(e), backlog(e))
	if e.LimiterEngaged {
		fmt.Fprintf(tw, "  limiter\tthe GC CPU limiter was engaged\n")
	}
	tw.Flush()

	fmt.Fprintf(w, "\nFINDINGS (%d)\n", len(rep.Findings))
	if len(rep.Findings) == 0 {
		fmt.Fprintln(w, "  none")
	}
	for _, f := range rep.Findings {
		fmt.Fprintf(w, "  [%s] %s: %s\n", f.Severity, f.Code, f.Headline)
		if f.Advice != "" {
			fmt.Fprintf(w, "      %s\n", f.Advice)
		}
		if f.Doc != "" {
			fmt.Fprintf(w, "      see %s\n", DocLink(f.Doc))
		}
	}

	if rep.Leaks != nil {
		fmt.Fprintln(w)
		writeLeaks(w, rep.Leaks)
	}

	writeWhatIf(w, rep.WhatIf)

	if s := rep.TopAllocationSites; s != nil {
		fmt.Fprintf(w, "\nTOP ALLOCATION SITES (estimates: one sample per %s allocated; %s/s in all)\n",
			humanize.Bytes(uint64(s.SampleRateBytes)), humanize.Bytes(uint64(s.TotalBytesPerSecond)))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, site := range s.Sites {
			fmt.Fprintf(tw, "  %s/s\t%s\t%s\t%s:%d\n", humanize.Bytes(uint64(site.BytesPerSecond)), humanize.Percent(site.Share), site.Function, site.File, site.Line)
			if a := site.AppFrame; a != nil && (a.Function != site.Function || a.Line != site.Line || a.File != site.File) {
				// The application's line that reached the library's allocating line.
				fmt.Fprintf(tw, "  \t\t  from %s\t%s:%d\n", a.Function, a.File, a.Line)
			}
		}
		if m := s.MemdiagItself; m != nil {
			fmt.Fprintf(tw, "  %s/s\t%s\t%s\t(not in the shares above: %s of all sampled bytes)\n",
				humanize.Bytes(uint64(m.BytesPerSecond)), "–", runtimediag.MemdiagItself, humanize.Percent(m.Share))
		}
		tw.Flush()
		if s.Note != "" {
			fmt.Fprintf(w, "  (%s)\n", s.Note)
		}
	}

	if sc := rep.MemdiagSelf; sc != nil {
		fmt.Fprintf(w, "\nMEMDIAG ITSELF  CPU %s in the window (%s of the process's busy CPU), allocation %s/s (%s of sampled bytes), live heap %s (%s of resident)\n",
			humanize.Duration(sc.CPUSeconds), humanize.Percent(sc.CPUShare), humanize.Bytes(uint64(sc.AllocBytesPerSecond)), humanize.Percent(sc.AllocShare),
			humanize.Bytes(sc.HeapInuseBytes), humanize.Percent(sc.ResidentShare))
	}

	writeRoutes(w, rep.Routes)
	writeMappingChanges(w, rep.Leaks)
	writeSources(w, rep.Sources)
	notes := append(append([]string(nil), r.Notes...), rep.Notes...)
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nNOTES\n  %s\n", strings.Join(notes, "\n  "))
	}
	return ew.err
}

func limits(e *runtimediag.Efficiency) string {
	gogc := fmt.Sprintf("GOGC %d", e.GOGC)
	if e.GOGC < 0 {
		gogc = "GOGC off"
	}
	parts := []string{gogc}
	if e.GOMEMLIMITBytes != nil {
		s := "GOMEMLIMIT " + humanize.Bytes(uint64(*e.GOMEMLIMITBytes))
		if e.GOMEMLIMITHeadroomBytes != nil {
			s += " (headroom " + humanize.SignedBytes(*e.GOMEMLIMITHeadroomBytes) + ")"
		}
		parts = append(parts, s)
	} else {
		parts = append(parts, "no GOMEMLIMIT")
	}
	if e.CgroupLimitBytes != nil {
		s := "cgroup limit " + humanize.Bytes(*e.CgroupLimitBytes)
		if e.CgroupHeadroomBytes != nil {
			s += " (headroom " + humanize.SignedBytes(*e.CgroupHeadroomBytes) + ")"
		}
		if e.CgroupWorkingSetBytes != nil {
			s += ", working set " + humanize.Bytes(*e.CgroupWorkingSetBytes)
		}
		parts = append(parts, s)
	} else {
		parts = append(parts, "no cgroup limit")
	}
	return strings.Join(parts, ", ")
}

func fds(e *runtimediag.Efficiency) string {
	switch {
	case e.OpenFDs == 0:
		return ""
	case e.OpenFDsLimit == 0:
		return fmt.Sprintf(", %d fds (no limit read)", e.OpenFDs)
	}
	return fmt.Sprintf(", %d of %d fds", e.OpenFDs, e.OpenFDsLimit)
}

func backlog(e *runtimediag.Efficiency) string {
	if e.FinalizerBacklog+e.CleanupBacklog == 0 {
		return ""
	}
	return fmt.Sprintf(", %d finalizers and %d cleanups queued", e.FinalizerBacklog, e.CleanupBacklog)
}

func pauses(p runtimediag.PauseSummary) string {
	if p.Count == 0 {
		return "none"
	}
	// Bucket bounds, not measurements: each figure is the range its histogram bucket gives.
	return fmt.Sprintf("%d, p50 %s, p99 %s, max %s", p.Count, p.P50Range(), p.P99Range(), p.MaxRange())
}

// errWriter keeps the first write error and drops every write after it, so Write can print
// without checking each line and still report a failed write.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

// WriteWhatIf renders the what-if table alone (memdiag whatif): the measured setting, then each
// predicted one, or why the window carries none; nothing when wi is nil. It returns the first
// error from w.
func WriteWhatIf(w io.Writer, wi *runtimediag.WhatIf) error {
	ew := &errWriter{w: w}
	writeWhatIf(ew, wi)
	return ew.err
}

func writeWhatIf(w io.Writer, wi *runtimediag.WhatIf) {
	if wi == nil {
		return
	}
	fmt.Fprintln(w, "\nWHAT IF (predicted by gcmodel from this window; see docs/whatif.md)")
	if len(wi.Refused) > 0 {
		for _, r := range wi.Refused {
			fmt.Fprintf(w, "  no prediction: %s: %s\n", r.Reason, r.Detail)
		}
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  setting\tcycles/s\tGC CPU\t(assist)\tpeak heap\tpeak resident\tcontainer headroom\tnotes\n")
	c := wi.Current
	fmt.Fprintf(tw, "  %s (now, measured)\t%.2f\t%s\t%s\t\t\t\t\n", c.Setting, c.GCCyclesPerSecond, humanize.Percent(c.GCCPUFraction), humanize.Percent(c.GCAssistCPUFraction))
	for _, p := range wi.Predictions {
		var notes []string
		if p.LimitBinds {
			notes = append(notes, "limit binds")
		}
		if p.LimiterEngages {
			notes = append(notes, "limiter engages")
		}
		fmt.Fprintf(tw, "  %s\t%.2f\t%s\t%s\t%s\t%s\t%s\t%s\n", p.Setting, p.GCCyclesPerSecond, humanize.Percent(p.GCCPUFraction),
			humanize.Percent(p.GCAssistCPUFraction), optBytes(p.PeakHeapBytes, p.HeapUnbounded), optBytes(p.PeakResidentBytes, p.HeapUnbounded),
			optSigned(p.ContainerHeadroomBytes), strings.Join(notes, ", "))
	}
	tw.Flush()
	fmt.Fprintf(w, "  assuming %s\n", wi.Assumptions)
}

func optBytes(b *uint64, unbounded bool) string {
	switch {
	case unbounded:
		return "unbounded"
	case b == nil:
		return "–"
	}
	return humanize.Bytes(*b)
}

func optSigned(b *int64) string {
	if b == nil {
		return "–"
	}
	return humanize.SignedBytes(*b)
}

// WindowLine describes a report's window in one line: its ends, its length and how it was chosen.
func WindowLine(win *runtimediag.ReportWindow) string {
	var how string
	switch win.Source {
	case runtimediag.WindowFullInterval:
		how = "the last full interval"
	case runtimediag.WindowSinceStart:
		how = "since the Monitor's first reading (no full interval completed yet)"
	case runtimediag.WindowRequested:
		how = "asked for " + humanize.Duration(win.RequestedSeconds)
	default:
		return fmt.Sprintf("window: none yet (the Monitor takes a reading at Start and every %s)", humanize.Duration(win.StepSeconds))
	}
	return fmt.Sprintf("window %s – %s (%s), %s; readings every %s, up to %s back; %d GC cycles",
		win.Start.UTC().Format("15:04:05"), win.End.UTC().Format("15:04:05 UTC"), humanize.Duration(win.Seconds), how,
		humanize.Duration(win.StepSeconds), humanize.Duration(win.MaxSeconds), win.GCCycles)
}
