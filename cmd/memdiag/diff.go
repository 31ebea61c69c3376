package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"text/tabwriter"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
)

const diffSynopsis = `usage: memdiag diff A.json B.json

Compares two saved reports (memdiag report --json, or report.json fetched with curl): resident
bytes by category, the efficiency figures, findings that appeared, cleared or stayed, and the
allocation sites whose rates changed most. A is the earlier report, B the later.

exit status:
  0  the comparison was printed (whatever changed: diff reports, it does not judge)
  2  bad usage, or a file that cannot be read or is not a memdiag report
`

func diffUsage(w io.Writer) { io.WriteString(w, diffSynopsis) }

func runDiff(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("diff", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		diffUsage(stdout)
		return 0
	}
	if err == nil && len(pos) != 2 {
		err = fmt.Errorf("want A.json B.json, have %d arguments", len(pos))
	}
	if err != nil {
		return cmdUsageError(stderr, "diff", err)
	}
	var reps [2]*runtimediag.Report
	for i, p := range pos {
		if reps[i], err = readReportFile(p); err != nil {
			fmt.Fprintf(stderr, "memdiag diff: %v\n", err)
			return exitUsage
		}
	}
	writeDiff(stdout, pos[0], pos[1], reps[0], reps[1])
	return 0
}

// kpi is one efficiency figure as diff shows it.
type kpi struct {
	name string
	get  func(*runtimediag.Efficiency) float64
	form func(float64) string
	// text, when set, is how a side is printed: a pause quantile is a histogram bucket, printed
	// as its range; the change is that of the upper bounds (get).
	text func(*runtimediag.Efficiency) string
}

func bytesForm(v float64) string     { return humanize.SignedBytes(int64(v)) }
func bytesRateForm(v float64) string { return humanize.SignedBytes(int64(v)) + "/s" }
func plainForm(v float64) string     { return fmt.Sprintf("%.3g", v) }
func optionalInt(p *int64) float64   { return ifNil(p == nil, func() float64 { return float64(*p) }) }
func optionalUint(p *uint64) float64 { return ifNil(p == nil, func() float64 { return float64(*p) }) }
func ifNil(isNil bool, v func() float64) float64 {
	if isNil {
		return math.NaN()
	}
	return v()
}

// diffKPIs are the efficiency figures a change in code or configuration moves; rates are only
// meaningful when both reports had a window.
var diffKPIs = []kpi{
	{"alloc_bytes_per_second", func(e *runtimediag.Efficiency) float64 { return e.AllocBytesPerSecond }, bytesRateForm, nil},
	{"alloc_objects_per_second", func(e *runtimediag.Efficiency) float64 { return e.AllocObjectsPerSecond }, plainForm, nil},
	{"mean_object_bytes", func(e *runtimediag.Efficiency) float64 { return e.MeanObjectBytes }, plainForm, nil},
	{"gc_cycles_per_second", func(e *runtimediag.Efficiency) float64 { return e.GCCyclesPerSecond }, plainForm, nil},
	{"gc_busy_cpu_share", func(e *runtimediag.Efficiency) float64 { return e.GCBusyCPUShare }, humanize.Percent, nil},
	{"gc_assist_busy_cpu_share", func(e *runtimediag.Efficiency) float64 { return e.GCAssistBusyCPUShare }, humanize.Percent, nil},
	{"gc_cpu_fraction", func(e *runtimediag.Efficiency) float64 { return e.GCCPUFraction }, humanize.Percent, nil},
	{"busy_cores", func(e *runtimediag.Efficiency) float64 { return e.BusyCores }, plainForm, nil},
	{"pause_gc.p99", func(e *runtimediag.Efficiency) float64 { return e.PauseGC.P99 }, humanize.Duration,
		func(e *runtimediag.Efficiency) string { return e.PauseGC.P99Range() }},
	{"pause_gc.max", func(e *runtimediag.Efficiency) float64 { return e.PauseGC.Max }, humanize.Duration,
		func(e *runtimediag.Efficiency) string { return e.PauseGC.MaxRange() }},
	{"heap_live_bytes", func(e *runtimediag.Efficiency) float64 { return float64(e.HeapLiveBytes) }, bytesForm, nil},
	{"heap_goal_bytes", func(e *runtimediag.Efficiency) float64 { return float64(e.HeapGoalBytes) }, bytesForm, nil},
	{"churn", func(e *runtimediag.Efficiency) float64 { return e.Churn }, plainForm, nil},
	{"heap_unused_ratio", func(e *runtimediag.Efficiency) float64 { return e.HeapUnusedRatio }, plainForm, nil},
	{"heap_free_ratio", func(e *runtimediag.Efficiency) float64 { return e.HeapFreeRatio }, plainForm, nil},
	{"gomemlimit_headroom_bytes", func(e *runtimediag.Efficiency) float64 { return optionalInt(e.GOMEMLIMITHeadroomBytes) }, bytesForm, nil},
	{"cgroup_working_set_bytes", func(e *runtimediag.Efficiency) float64 { return optionalUint(e.CgroupWorkingSetBytes) }, bytesForm, nil},
	{"goroutines", func(e *runtimediag.Efficiency) float64 { return float64(e.Goroutines) }, plainForm, nil},
	{"threads", func(e *runtimediag.Efficiency) float64 { return float64(e.Threads) }, plainForm, nil},
	{"stack_bytes", func(e *runtimediag.Efficiency) float64 { return float64(e.StackBytes) }, bytesForm, nil},
	{"open_fds", func(e *runtimediag.Efficiency) float64 { return optionalZero(e.OpenFDs) }, plainForm, nil},
	{"resident_bytes", func(e *runtimediag.Efficiency) float64 { return optionalZero(e.ResidentBytes) }, bytesForm, nil},
	{"cgroup_usage_bytes", func(e *runtimediag.Efficiency) float64 { return optionalZero(e.CgroupUsageBytes) }, bytesForm, nil},
}

func writeDiff(w io.Writer, nameA, nameB string, a, b *runtimediag.Report) {
	fmt.Fprintf(w, "memdiag diff\n  A %s  %s\n  B %s  %s  (%s later)\n",
		nameA, a.Time.UTC().Format(time.RFC3339), nameB, b.Time.UTC().Format(time.RFC3339),
		b.Time.Sub(a.Time).Round(time.Second))

	fmt.Fprintln(w, "\nRSS")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  \tA\tB\tchange\t\n")
	row := func(name string, x, y float64) {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", name, optional(x, bytesForm), optional(y, bytesForm), change(x, y, bytesForm))
	}
	row("resident_bytes", residentOf(&a.RSS), residentOf(&b.RSS))
	for _, name := range runtimediag.RSSCategoryNames() {
		x, y := categoryOf(&a.RSS, name), categoryOf(&b.RSS, name)
		if x == 0 && y == 0 || math.IsNaN(x) && math.IsNaN(y) {
			continue
		}
		row(name, x, y)
	}
	row("unexplained_bytes", unexplainedOf(&a.RSS), unexplainedOf(&b.RSS))
	tw.Flush()

	fmt.Fprintln(w, "\nEFFICIENCY")
	if a.WindowSeconds == 0 || b.WindowSeconds == 0 {
		fmt.Fprintln(w, "  (a report without a window has no rates: rate changes are not meaningful)")
	}
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "  \tA\tB\tchange\t\n")
	for _, k := range diffKPIs {
		x, y := k.get(&a.Efficiency), k.get(&b.Efficiency)
		if x == y || math.IsNaN(x) && math.IsNaN(y) {
			continue
		}
		sa, sb := optional(x, k.form), optional(y, k.form)
		if k.text != nil {
			sa, sb = k.text(&a.Efficiency), k.text(&b.Efficiency)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t\n", k.name, sa, sb, change(x, y, k.form))
	}
	tw.Flush()

	fmt.Fprintln(w, "\nFINDINGS")
	inA := map[string]runtimediag.Finding{}
	for _, f := range a.Findings {
		inA[f.Code] = f
	}
	inB := map[string]bool{}
	lines := 0
	for _, f := range b.Findings {
		inB[f.Code] = true
		if old, ok := inA[f.Code]; ok {
			sev := ""
			if old.Severity != f.Severity {
				sev = fmt.Sprintf(" (was %s)", old.Severity)
			}
			fmt.Fprintf(w, "  still     [%s] %s%s: %s\n", f.Severity, f.Code, sev, f.Headline)
		} else {
			fmt.Fprintf(w, "  appeared  [%s] %s: %s\n", f.Severity, f.Code, f.Headline)
		}
		lines++
	}
	for _, f := range a.Findings {
		if !inB[f.Code] {
			fmt.Fprintf(w, "  cleared   [%s] %s: %s\n", f.Severity, f.Code, f.Headline)
			lines++
		}
	}
	if lines == 0 {
		fmt.Fprintln(w, "  none in either report")
	}

	writeSitesDiff(w, a.TopAllocationSites, b.TopAllocationSites)
}

// writeSitesDiff lists the allocation sites of either report by the size of their rate change.
// Sites are matched by function, file and line; a site only in one report's top list had an
// unknown (smaller) rate in the other, shown as "not listed" with no change.
func writeSitesDiff(w io.Writer, a, b *runtimediag.AllocationSites) {
	fmt.Fprintln(w, "\nTOP ALLOCATION SITES (sampled estimates, bytes/s)")
	if a == nil || b == nil {
		fmt.Fprintln(w, "  not in both reports")
		return
	}
	type key struct {
		fn, file string
		line     int
	}
	type pair struct {
		k    key
		x, y float64
	}
	idx := map[key]int{}
	var ps []pair
	for i, s := range [2]*runtimediag.AllocationSites{a, b} {
		for _, site := range s.Sites {
			k := key{site.Function, site.File, site.Line}
			j, ok := idx[k]
			if !ok {
				j = len(ps)
				idx[k] = j
				ps = append(ps, pair{k: k, x: math.NaN(), y: math.NaN()})
			}
			if i == 0 {
				ps[j].x = site.BytesPerSecond
			} else {
				ps[j].y = site.BytesPerSecond
			}
		}
	}
	// Largest absolute change first; a stable insertion sort keeps equal changes in report order.
	// A site listed on one side only sorts by its listed rate.
	size := func(p pair) float64 { return math.Abs(zeroIfNaN(p.y) - zeroIfNaN(p.x)) }
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && size(ps[j]) > size(ps[j-1]); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "  total\t%s\t%s\t%s\t\n", bytesRateForm(a.TotalBytesPerSecond), bytesRateForm(b.TotalBytesPerSecond),
		change(a.TotalBytesPerSecond, b.TotalBytesPerSecond, bytesRateForm))
	for i, p := range ps {
		if i == 10 {
			fmt.Fprintf(tw, "  … %d more\n", len(ps)-i)
			break
		}
		fmt.Fprintf(tw, "  %s:%d %s\t%s\t%s\t%s\t\n", p.k.file, p.k.line, p.k.fn, listed(p.x), listed(p.y), change(p.x, p.y, bytesRateForm))
	}
	tw.Flush()
}

// residentOf, unexplainedOf and categoryOf are the RSS figures as diff compares them: NaN where
// the report did not read the figure (JSON null), which prints as "unread" and has no change.
func residentOf(r *runtimediag.RSS) float64 {
	return ifNil(!r.ResidentKnown(), func() float64 { return float64(r.ResidentBytes) })
}

func unexplainedOf(r *runtimediag.RSS) float64 {
	return ifNil(!r.ResidentKnown(), func() float64 { return float64(r.UnexplainedBytes) })
}

func categoryOf(r *runtimediag.RSS, name string) float64 {
	for _, c := range r.Categories {
		if c.Name == name {
			return ifNil(c.Method == runtimediag.MethodNotMeasured, func() float64 { return float64(c.Bytes) })
		}
	}
	return math.NaN() // absent from this report
}

func zeroIfNaN(v float64) float64 {
	if math.IsNaN(v) {
		return 0
	}
	return v
}

// listed is a site's rate, or "not listed" when the site was not in that report's top list.
func listed(v float64) string {
	if math.IsNaN(v) {
		return "not listed"
	}
	return bytesRateForm(v)
}

// optionalZero is v, or NaN for a figure whose 0 means "not read" (JSON null).
func optionalZero(v uint64) float64 { return ifNil(v == 0, func() float64 { return float64(v) }) }

// optional is v in its form, or "unread" for a figure the report did not read (NaN).
func optional(v float64, form func(float64) string) string {
	if math.IsNaN(v) {
		return "unread"
	}
	return form(v)
}

// change is the difference with a sign, and relative to A when A is not zero.
func change(x, y float64, form func(float64) string) string {
	if math.IsNaN(x) || math.IsNaN(y) {
		return ""
	}
	d := y - x
	s := form(d)
	if d > 0 {
		s = "+" + s
	}
	if x != 0 && d != 0 {
		s += fmt.Sprintf(" (%+.0f%%)", d/math.Abs(x)*100)
	}
	return s
}
