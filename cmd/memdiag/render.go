package main

import (
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// writeReport renders a report as text for a terminal: where the resident memory is, how the
// process allocates and collects, what to change, and which code allocates. The CLI renders
// rather than fetching report.txt so that it checks it is talking to memdiag (see decodeReport).
func writeReport(w io.Writer, rep *runtimediag.Report, source string) {
	r := &rep.RSS
	window := "one snapshot, no rates"
	if rep.WindowSeconds > 0 {
		window = fmt.Sprintf("window %s", seconds(rep.WindowSeconds))
	}
	fmt.Fprintf(w, "memdiag report  %s  %s  (%s tier)\n", rep.Time.UTC().Format(time.RFC3339), window, r.Tier)
	if source != "" {
		fmt.Fprintf(w, "from %s\n", source)
	}

	fmt.Fprintf(w, "\nRESIDENT %s   Go-managed %s   non-Go %s   unexplained %s\n",
		iec(r.ResidentBytes), iec(r.GoManagedBytes), iec(r.NonGoBytes), signedIEC(r.UnexplainedBytes))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, c := range r.Categories {
		if c.Bytes == 0 {
			continue
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t  %s\n", c.Name, iec(c.Bytes), share(float64(c.Bytes), float64(r.ResidentBytes)), c.Method)
	}
	tw.Flush()
	var extra []string
	if r.LazyFreeBytes > 0 {
		extra = append(extra, "lazy free "+iec(r.LazyFreeBytes))
	}
	if r.SwapBytes > 0 {
		extra = append(extra, "swapped "+iec(r.SwapBytes))
	}
	if r.AnonHugePagesBytes > 0 {
		extra = append(extra, "in huge pages "+iec(r.AnonHugePagesBytes))
	}
	if ck := r.ArenaCheck; ck != nil && !ck.OK {
		extra = append(extra, "arena self-check failed: "+ck.Message)
	}
	if r.Tier == runtimediag.TierCheap && r.ClassificationAgeSeconds > 0 {
		extra = append(extra, "classified "+seconds(r.ClassificationAgeSeconds)+" ago")
	}
	for _, e := range extra {
		fmt.Fprintf(w, "  (%s)\n", e)
	}

	e := &rep.Efficiency
	fmt.Fprintln(w, "\nEFFICIENCY")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if rep.WindowSeconds > 0 {
		fmt.Fprintf(tw, "  allocation\t%s/s, %s objects/s, mean %s, tiny %s, large %s\n",
			iec(uint64(e.AllocBytesPerSecond)), count(e.AllocObjectsPerSecond), iec(uint64(e.MeanObjectBytes)),
			pct(e.TinyAllocShare), pct(e.LargeAllocShare))
		fmt.Fprintf(tw, "  GC\t%.2f cycles/s (%.2f forced), %s of busy CPU (assist %s), %s of all CPU, busy %.2f cores\n",
			e.GCCyclesPerSecond, e.ForcedGCCyclesPerSecond, pct(e.GCBusyCPUShare), pct(e.GCAssistBusyCPUShare),
			pct(e.GCCPUFraction), e.BusyCores)
		fmt.Fprintf(tw, "  pauses\tGC %s; stopping %s; other %s\n", pauses(e.PauseGC), pauses(e.StoppingGC), pauses(e.PauseOther))
	}
	fmt.Fprintf(tw, "  heap\tlive %s, goal %s, churn %.2f, unused/objects %.2f, free/mapped %.2f, pointer-bearing %s\n",
		iec(e.HeapLiveBytes), iec(e.HeapGoalBytes), e.Churn, e.HeapUnusedRatio, e.HeapFreeRatio, pct(e.ScanHeapShare))
	fmt.Fprintf(tw, "  limits\t%s\n", limits(e))
	fmt.Fprintf(tw, "  runtime\t%d goroutines, %d threads, GOMAXPROCS %d, stacks %s%s%s\n",
		e.Goroutines, e.Threads, e.GOMAXPROCS, iec(e.StackBytes), fds(e), backlog(e))
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
			fmt.Fprintf(w, "      see %s\n", f.Doc)
		}
	}

	if s := rep.TopAllocationSites; s != nil {
		fmt.Fprintf(w, "\nTOP ALLOCATION SITES (estimates: one sample per %s allocated; %s/s in all)\n",
			iec(uint64(s.SampleRateBytes)), iec(uint64(s.TotalBytesPerSecond)))
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		for _, site := range s.Sites {
			fmt.Fprintf(tw, "  %s/s\t%s\t%s\t%s:%d\n", iec(uint64(site.BytesPerSecond)), pct(site.Share), site.Function, site.File, site.Line)
		}
		tw.Flush()
	}

	var missing []string
	for _, s := range rep.Sources {
		if !s.OK {
			why := s.Reason
			if why == "" {
				why = s.Error
			}
			missing = append(missing, fmt.Sprintf("%s (%s)", s.Name, why))
		}
	}
	if len(missing) > 0 {
		fmt.Fprintf(w, "\nUNREAD SOURCES\n  %s\n", strings.Join(missing, "\n  "))
	}
	notes := append(append([]string(nil), r.Notes...), rep.Notes...)
	if len(notes) > 0 {
		fmt.Fprintf(w, "\nNOTES\n  %s\n", strings.Join(notes, "\n  "))
	}
}

func limits(e *runtimediag.Efficiency) string {
	gogc := fmt.Sprintf("GOGC %d", e.GOGC)
	if e.GOGC < 0 {
		gogc = "GOGC off"
	}
	parts := []string{gogc}
	if e.GOMEMLIMITBytes != nil {
		s := "GOMEMLIMIT " + iec(uint64(*e.GOMEMLIMITBytes))
		if e.GOMEMLIMITHeadroomBytes != nil {
			s += " (headroom " + signedIEC(*e.GOMEMLIMITHeadroomBytes) + ")"
		}
		parts = append(parts, s)
	} else {
		parts = append(parts, "no GOMEMLIMIT")
	}
	if e.CgroupLimitBytes != nil {
		s := "cgroup limit " + iec(*e.CgroupLimitBytes)
		if e.CgroupHeadroomBytes != nil {
			s += " (headroom " + signedIEC(*e.CgroupHeadroomBytes) + ")"
		}
		if e.CgroupWorkingSetBytes != nil {
			s += ", working set " + iec(*e.CgroupWorkingSetBytes)
		}
		parts = append(parts, s)
	} else {
		parts = append(parts, "no cgroup limit")
	}
	return strings.Join(parts, ", ")
}

func fds(e *runtimediag.Efficiency) string {
	if e.OpenFDsLimit == 0 {
		return ""
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
	return fmt.Sprintf("%d, p50 ≤ %s, p99 ≤ %s, max ≤ %s", p.Count, seconds(p.P50), seconds(p.P99), seconds(p.Max))
}

// iec prints bytes with binary prefixes, three significant digits: what a person compares.
func iec(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	v := float64(b)
	i := -1
	for v >= unit && i < 5 {
		v /= unit
		i++
	}
	prec := 1
	if v >= 100 {
		prec = 0
	}
	return fmt.Sprintf("%.*f %ciB", prec, v, "KMGTPE"[i])
}

func signedIEC(b int64) string {
	if b < 0 {
		return "-" + iec(uint64(-b))
	}
	return iec(uint64(b))
}

func pct(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "?"
	}
	switch p := v * 100; {
	case p != 0 && math.Abs(p) < 0.1:
		return fmt.Sprintf("%.2f%%", p)
	default:
		return fmt.Sprintf("%.1f%%", p)
	}
}

func share(part, whole float64) string {
	if whole <= 0 {
		return ""
	}
	return pct(part / whole)
}

func count(v float64) string {
	switch {
	case v >= 1e9:
		return fmt.Sprintf("%.2fG", v/1e9)
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func seconds(s float64) string {
	d := time.Duration(s * float64(time.Second))
	switch a := d.Abs(); {
	case a >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case a >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	case a >= time.Microsecond:
		return d.Round(10 * time.Nanosecond).String()
	}
	return d.String()
}
