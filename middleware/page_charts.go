package middleware

import (
	"html/template"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
)

// The page's plots over time. The server draws each one as SVG, so the page reads without a
// script; page.js redraws the same plots from the same rows (the history, then each point of
// /events) and adds hover read-outs, pause and zoom. Both read one description of each plot
// (chartSpec), sent to the script in the page's JSON, and one grammar of series keys:
//
//	column          a number of the Point (its JSON key), e.g. "goroutines"
//	rate:column     the column's increase per second between two points (a counter)
//	share:column    the column's increase as a percentage of cpu_available_seconds_total's
//	gc_pauses       each GC pause as a point: its end and its duration
//
// A value that was not measured is NaN here and null in the JSON: a gap in the plot, never a 0.

// Units of a plot's y axis.
const (
	bytesUnit   = "bytes"
	rate        = "bytes/s"
	percentUnit = "percent"
	countUnit   = "count"
	secondsUnit = "seconds"
	countRate   = "count/s"   // events per second
	secondsRate = "seconds/s" // time spent per second of wall time
)

// Chart geometry, in the viewBox's units; page.js uses the same numbers.
const (
	chartW, chartH        = 1000.0, 220.0
	chartLeft, chartRight = 78.0, 990.0
	chartTop, chartBottom = 10.0, 196.0
	chartYTicks           = 4
	// maxChartPoints bounds the history rows the page is rendered with; maxLiveRows bounds the
	// rows the script keeps as live points arrive (an hour of 1 s ticks).
	maxChartPoints = 600
	maxLiveRows    = 3600
	// maxPagePauses bounds the GC pauses the page carries.
	maxPagePauses = 2000
)

// pointColumn is one number of a Point that plots use.
type pointColumn struct {
	key string
	get func(p *runtimediag.Point) float64 // NaN when not measured
}

func unreadIfZero(v uint64) float64 {
	if v == 0 {
		return math.NaN()
	}
	return float64(v)
}

// pointColumns lists every column, in the order of the page's rows; custom is how many series
// of the application's own (runtimediag.WithCustomSeries) the Monitor has.
func pointColumns(custom int) []pointColumn {
	cols := []pointColumn{
		{"resident_bytes", func(p *runtimediag.Point) float64 { return unreadIfZero(p.ResidentBytes) }},
		{"go_total_bytes", func(p *runtimediag.Point) float64 { return float64(p.GoTotalBytes) }},
		{"heap_live_bytes", func(p *runtimediag.Point) float64 { return float64(p.HeapLiveBytes) }},
		{"heap_goal_bytes", func(p *runtimediag.Point) float64 { return float64(p.HeapGoalBytes) }},
		{"limit_bytes", func(p *runtimediag.Point) float64 { return unreadIfZero(p.LimitBytes) }},
		{"alloc_bytes_total", func(p *runtimediag.Point) float64 { return float64(p.AllocBytesTotal) }},
		{"gc_cpu_seconds_total", func(p *runtimediag.Point) float64 { return p.GCCPUSecondsTotal }},
		{"cpu_available_seconds_total", func(p *runtimediag.Point) float64 { return p.CPUSecondsTotal }},
		{"goroutines", func(p *runtimediag.Point) float64 { return float64(p.Goroutines) }},
		{"threads", func(p *runtimediag.Point) float64 { return float64(p.Threads) }},
		{"cpu_user_seconds_total", func(p *runtimediag.Point) float64 { return cpuClass(p, p.CPU.User) }},
		{"cpu_gc_mark_assist_seconds_total", func(p *runtimediag.Point) float64 { return cpuClass(p, p.CPU.GCMarkAssist) }},
		{"cpu_gc_mark_background_seconds_total", func(p *runtimediag.Point) float64 { return cpuClass(p, p.CPU.GCMarkBackground) }},
		{"cpu_gc_pause_seconds_total", func(p *runtimediag.Point) float64 { return cpuClass(p, p.CPU.GCPause) }},
		{"cpu_scavenge_seconds_total", func(p *runtimediag.Point) float64 { return cpuClass(p, p.CPU.Scavenge) }},
		{"cpu_idle_seconds_total", func(p *runtimediag.Point) float64 { return cpuClass(p, p.CPU.Idle) }},
		{"sched_latency_p50_seconds", func(p *runtimediag.Point) float64 { return sched(p, p.SchedLatency.P50) }},
		{"sched_latency_p99_seconds", func(p *runtimediag.Point) float64 { return sched(p, p.SchedLatency.P99) }},
		{"sched_latency_max_seconds", func(p *runtimediag.Point) float64 { return sched(p, p.SchedLatency.Max) }},
		{"gc_cycles_total", func(p *runtimediag.Point) float64 { return float64(p.GCCyclesTotal) }},
		{"mutex_wait_seconds_total", func(p *runtimediag.Point) float64 { return readOr(p.MutexWaitRead, p.MutexWaitSecondsTotal) }},
		{"cgo_calls_total", func(p *runtimediag.Point) float64 { return readOr(p.CgoCallsRead, float64(p.CgoCallsTotal)) }},
		{"gc_scan_heap_bytes", func(p *runtimediag.Point) float64 { return readOr(p.GCScanRead, float64(p.GCScanHeapBytes)) }},
		{"gc_scan_stack_bytes", func(p *runtimediag.Point) float64 { return readOr(p.GCScanRead, float64(p.GCScanStackBytes)) }},
		{"gc_scan_globals_bytes", func(p *runtimediag.Point) float64 { return readOr(p.GCScanRead, float64(p.GCScanGlobalsBytes)) }},
		{"stack_starting_size_bytes", func(p *runtimediag.Point) float64 { return readOr(p.StackStartingRead, float64(p.StackStartingBytes)) }},
	}
	for i := range min(custom, runtimediag.MaxCustomSeries) {
		cols = append(cols, pointColumn{"custom_series_values." + strconv.Itoa(i), func(p *runtimediag.Point) float64 {
			v, ok := p.CustomValue(i)
			return readOr(ok, v)
		}})
	}
	for i, name := range runtimediag.RSSCategoryNames() {
		cols = append(cols, pointColumn{"rss_" + name + "_bytes", func(p *runtimediag.Point) float64 {
			if !p.RSSEstimated || (i >= 5 && !p.RSSClassified) {
				return math.NaN()
			}
			return float64(p.RSSCategoryBytes[i])
		}})
	}
	for i := range runtimediag.SizeBandBounds() {
		cols = append(cols, pointColumn{"live_objects_by_size_count." + strconv.Itoa(i), func(p *runtimediag.Point) float64 {
			if !p.LiveObjectsRead {
				return math.NaN()
			}
			return float64(p.LiveObjectsBySize[i])
		}})
	}
	return cols
}

// cpuClass is a CPU class's figure, NaN for a point without the classes (recorded before they
// were kept): all of them are 0 then, which the runtime never reports once it has run.
func cpuClass(p *runtimediag.Point, v float64) float64 {
	c := p.CPU
	if c.User == 0 && c.Idle == 0 && c.GCPause == 0 && c.GCMarkAssist == 0 && c.GCMarkBackground == 0 && c.Scavenge == 0 {
		return math.NaN()
	}
	return v
}

// readOr is v when it was read, NaN when not.
func readOr(read bool, v float64) float64 {
	if !read {
		return math.NaN()
	}
	return v
}

func sched(p *runtimediag.Point, v float64) float64 {
	if !p.SchedLatencyRead {
		return math.NaN()
	}
	return v
}

// jsonNum is a float64 whose NaN is JSON null.
type jsonNum float64

func (n jsonNum) MarshalJSON() ([]byte, error) {
	f := float64(n)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// historyData is what the script starts from: the rows (the time in Unix milliseconds, then the
// columns), the GC pauses as [end in Unix milliseconds, seconds], and the plots to draw.
type historyData struct {
	Columns []string     `json:"columns"`
	Rows    [][]jsonNum  `json:"rows"`
	Pauses  [][2]jsonNum `json:"pauses"`
	Max     int          `json:"max"`
	Charts  []chartSpec  `json:"charts"`
	Bands   []string     `json:"bands"` // the size bands' labels
}

// chartSpec describes one plot.
type chartSpec struct {
	ID     string      `json:"id"`
	Title  string      `json:"title"`
	Kind   string      `json:"kind"` // "line", "stack" (areas stacked, except series marked Line) or "points"
	Unit   string      `json:"unit"`
	Note   string      `json:"-"`
	Series []seriesDef `json:"series"`
}

// seriesDef is one series of a plot.
type seriesDef struct {
	Key    string `json:"key"`
	Label  string `json:"label"`
	Colour string `json:"colour"`
	Dash   bool   `json:"dash,omitempty"`
	Line   bool   `json:"line,omitempty"` // drawn as a line over a stack
	values []float64
	Last   figure `json:"-"`
}

// chartView is a plot as the template shows it.
type chartView struct {
	chartSpec
	SVG template.HTML
}

var cpuClassColours = []string{"#1f5fa8", "#d43f3a", "#f08c2e", "#7b5cc4", "#3a9a3a", "#d8d8d8"}

var sizeBandLabels = []string{"≤ 16 B", "≤ 64 B", "≤ 256 B", "≤ 1 KiB", "≤ 4 KiB", "≤ 32 KiB", "> 32 KiB"}

// customColours are the colours of the application's own series, one per plot.
var customColours = [runtimediag.MaxCustomSeries]string{"#1f5fa8", "#d43f3a", "#3a9a3a", "#7b5cc4", "#f08c2e", "#17a2b8", "#8c564b", "#e377c2"}

var sizeBandColours = []string{"#c6dbef", "#9ecae1", "#6baed6", "#4292c6", "#2171b5", "#08519c", "#08306b"}

// chartSpecs are the page's plots; the limit line only when some point had a limit; a plot for
// each series of the application's own (custom) last.
func chartSpecs(haveLimit bool, custom []runtimediag.CustomSeries) []chartSpec {
	c := categoryColours
	mem := []seriesDef{
		{Key: "resident_bytes", Label: "resident (statm)", Colour: "currentColor"},
		{Key: "go_total_bytes", Label: "Go total (runtime/metrics, mapped)", Colour: c[runtimediag.CategoryGoRuntime]},
		{Key: "heap_live_bytes", Label: "live heap (last GC)", Colour: c[runtimediag.CategoryGoHeapObjects]},
		{Key: "heap_goal_bytes", Label: "heap goal", Colour: c[runtimediag.CategoryGoHeapUnused], Dash: true},
	}
	if haveLimit {
		mem = append(mem, seriesDef{Key: "limit_bytes", Label: "limit (GOMEMLIMIT or cgroup, the smaller)", Colour: c[runtimediag.CategoryCHeap], Dash: true})
	}
	var rss []seriesDef
	for _, name := range runtimediag.RSSCategoryNames() {
		rss = append(rss, seriesDef{Key: "rss_" + name + "_bytes", Label: name, Colour: categoryColour(name)})
	}
	rss = append(rss, seriesDef{Key: "resident_bytes", Label: "resident (statm)", Colour: "currentColor", Line: true})
	var sizes []seriesDef
	for i := range runtimediag.SizeBandBounds() {
		sizes = append(sizes, seriesDef{Key: "live_objects_by_size_count." + strconv.Itoa(i), Label: sizeBandLabels[i], Colour: sizeBandColours[i]})
	}
	cpu := []seriesDef{
		{Key: "share:cpu_user_seconds_total", Label: "user (not GC, scavenger or idle)"},
		{Key: "share:cpu_gc_mark_assist_seconds_total", Label: "GC mark assist"},
		{Key: "share:cpu_gc_mark_background_seconds_total", Label: "GC mark, background workers"},
		{Key: "share:cpu_gc_pause_seconds_total", Label: "GC pause"},
		{Key: "share:cpu_scavenge_seconds_total", Label: "scavenger"},
		{Key: "share:cpu_idle_seconds_total", Label: "idle"},
	}
	for i := range cpu {
		cpu[i].Colour = cpuClassColours[i]
	}
	specs := []chartSpec{
		{ID: "chart-memory", Title: "Memory: resident, Go total, live heap vs goal vs limit", Kind: "line", Unit: bytesUnit, Series: mem},
		{ID: "chart-rss", Title: "Resident by category (each tick's cheap estimate, stacked)", Kind: "stack", Unit: bytesUnit, Series: rss,
			Note: "The Go categories come from runtime/metrics at every tick; the others scale the last full classification and are gaps before the first one."},
		{ID: "chart-alloc", Title: "Allocation rate", Kind: "line", Unit: rate,
			Series: []seriesDef{{Key: "rate:alloc_bytes_total", Label: "allocated bytes/s", Colour: c[runtimediag.CategoryGoHeapObjects]}}},
		{ID: "chart-cpu", Title: "CPU by class (share of GOMAXPROCS × wall, stacked; /cpu/classes)", Kind: "stack", Unit: percentUnit, Series: cpu,
			Note: "The runtime's own estimate of its CPU classes; user is what it did not account to the GC, the scavenger or idleness."},
		{ID: "chart-gccpu", Title: "GC CPU", Kind: "line", Unit: percentUnit,
			Series: []seriesDef{{Key: "share:gc_cpu_seconds_total", Label: "GC CPU % (of GOMAXPROCS × wall)", Colour: c[runtimediag.CategoryGoRuntime]}}},
		{ID: "chart-goroutines", Title: "Goroutines", Kind: "line", Unit: countUnit,
			Series: []seriesDef{{Key: "goroutines", Label: "goroutines", Colour: c[runtimediag.CategoryGoStacks]}}},
		{ID: "chart-threads", Title: "OS threads", Kind: "line", Unit: countUnit,
			Series: []seriesDef{{Key: "threads", Label: "threads the runtime knows of", Colour: c[runtimediag.CategoryThreadStacks]}}},
		{ID: "chart-pauses", Title: "GC pauses (each pause a point: when it ended, how long the world stopped)", Kind: "points", Unit: secondsUnit,
			Series: []seriesDef{{Key: "gc_pauses", Label: "stop-the-world pause", Colour: c[runtimediag.CategoryCHeap]}},
			Note:   "From runtime/debug.ReadGCStats at each tick; when more than four pauses ended within one tick, its four longest are drawn."},
		{ID: "chart-sched", Title: "Scheduler latency (time runnable before running, /sched/latencies)", Kind: "line", Unit: secondsUnit,
			Series: []seriesDef{
				{Key: "sched_latency_p50_seconds", Label: "p50", Colour: "#4f93d6"},
				{Key: "sched_latency_p99_seconds", Label: "p99", Colour: "#f08c2e"},
				{Key: "sched_latency_max_seconds", Label: "max", Colour: "#d43f3a", Dash: true},
			},
			Note: "Between consecutive ticks; each figure is its histogram bucket's upper bound."},
		{ID: "chart-sizes", Title: "Live heap objects by size (stacked; /gc/heap/allocs-by-size less frees-by-size)", Kind: "stack", Unit: countUnit, Series: sizes,
			Note: "Objects, not bytes; tiny allocations (under 16 B, pointer-free) count as the 16 B blocks that hold them."},
		{ID: "chart-gccycles", Title: "GC cycles per second (/gc/cycles/total)", Kind: "line", Unit: countRate,
			Series: []seriesDef{{Key: "rate:gc_cycles_total", Label: "GC cycles/s", Colour: c[runtimediag.CategoryGoRuntime]}},
			Note:   "Completed cycles between consecutive points, per second: a rate rather than a count per tick, so that it reads the same at any tick and zoom."},
		{ID: "chart-gcscan", Title: "GC scan work: what the last cycle had to scan (stacked; /gc/scan)", Kind: "stack", Unit: bytesUnit,
			Series: []seriesDef{
				{Key: "gc_scan_heap_bytes", Label: "heap (pointer-bearing)", Colour: c[runtimediag.CategoryGoHeapObjects]},
				{Key: "gc_scan_stack_bytes", Label: "goroutine stacks", Colour: c[runtimediag.CategoryGoStacks]},
				{Key: "gc_scan_globals_bytes", Label: "globals", Colour: c[runtimediag.CategoryBinary]},
			},
			Note: "The mark phase's work grows with these bytes, not with the heap's size: pointer-free memory is never scanned."},
		{ID: "chart-stackstart", Title: "Goroutine stack starting size (/gc/stack/starting-size)", Kind: "line", Unit: bytesUnit,
			Series: []seriesDef{{Key: "stack_starting_size_bytes", Label: "a new goroutine's stack", Colour: c[runtimediag.CategoryGoStacks]}},
			Note:   "At each GC the runtime sizes new goroutines' stacks from the average stack it scanned; GODEBUG=adaptivestackstart=0 keeps them at the minimum."},
		{ID: "chart-mutex", Title: "Mutex wait (time goroutines spent blocked on sync.Mutex and RWMutex, per second; /sync/mutex/wait/total)", Kind: "line", Unit: secondsRate,
			Series: []seriesDef{{Key: "rate:mutex_wait_seconds_total", Label: "wait per second", Colour: "#d43f3a"}},
			Note:   "The runtime's approximate total over all goroutines: 1 s/s means one goroutine blocked all the time, on average. pprof/mutex says where, once mutex profiling is on."},
		{ID: "chart-cgo", Title: "cgo calls per second (/cgo/go-to-c-calls)", Kind: "line", Unit: countRate,
			Series: []seriesDef{{Key: "rate:cgo_calls_total", Label: "Go→C calls/s", Colour: c[runtimediag.CategoryCHeap]}}},
	}
	for i, cs := range custom[:min(len(custom), runtimediag.MaxCustomSeries)] {
		specs = append(specs, chartSpec{ID: "chart-custom-" + strconv.Itoa(i), Title: cs.Name + " (the application's own series)", Kind: "line", Unit: cs.Unit,
			Series: []seriesDef{{Key: "custom_series_values." + strconv.Itoa(i), Label: cs.Name, Colour: customColours[i]}}})
	}
	return specs
}

// buildCharts computes every plot over hist (thinned from all) and the script's starting data;
// the GC pauses come from every point of all.
func buildCharts(hist, all []runtimediag.Point, custom []runtimediag.CustomSeries) ([]chartView, historyData) {
	cols := pointColumns(len(custom))
	colIdx := make(map[string]int, len(cols))
	hd := historyData{Columns: make([]string, len(cols)), Rows: make([][]jsonNum, 0, len(hist)), Pauses: [][2]jsonNum{},
		Max: maxLiveRows, Bands: sizeBandLabels}
	for i, c := range cols {
		hd.Columns[i] = c.key
		colIdx[c.key] = i
	}
	table := make([][]float64, len(hist)) // the columns of each point
	times := make([]int64, len(hist))
	haveLimit := false
	for i := range hist {
		p := &hist[i]
		times[i] = p.Time.UnixMilli()
		row := make([]float64, len(cols))
		jrow := make([]jsonNum, len(cols)+1)
		jrow[0] = jsonNum(times[i])
		for j, c := range cols {
			row[j] = c.get(p)
			jrow[j+1] = jsonNum(row[j])
		}
		table[i] = row
		hd.Rows = append(hd.Rows, jrow)
		haveLimit = haveLimit || p.LimitBytes > 0
	}
	// The pauses of every point of the ring, not only of the thinned points: a pause timeline
	// must not lose the pauses of the points thinning left out.
	var pauses [][2]float64
	for i := range all {
		for _, pp := range all[i].Pauses() {
			pauses = append(pauses, [2]float64{float64(pp.EndUnixNano) / 1e6, float64(pp.DurationNanos) / 1e9})
		}
	}
	sort.Slice(pauses, func(a, b int) bool { return pauses[a][0] < pauses[b][0] })
	if len(pauses) > maxPagePauses {
		pauses = pauses[len(pauses)-maxPagePauses:]
	}
	hd.Pauses = toJSONPauses(pauses)
	hd.Charts = chartSpecs(haveLimit, custom)
	value := func(key string, i int) float64 {
		kind, col, ok := strings.Cut(key, ":")
		if !ok {
			return table[i][colIdx[key]]
		}
		j := colIdx[col]
		if i == 0 || times[i] <= times[i-1] {
			return math.NaN()
		}
		d := counterDelta(table[i-1][j], table[i][j])
		switch kind {
		case "rate":
			return d / (float64(times[i]-times[i-1]) / 1000)
		case "share":
			a := colIdx["cpu_available_seconds_total"]
			cpu := table[i][a] - table[i-1][a]
			if !(cpu > 0) {
				return math.NaN()
			}
			return 100 * d / cpu
		}
		return math.NaN()
	}
	charts := make([]chartView, len(hd.Charts))
	for k, spec := range hd.Charts {
		cv := chartView{chartSpec: spec}
		cv.Series = append([]seriesDef(nil), spec.Series...)
		for s := range cv.Series {
			sd := &cv.Series[s]
			if sd.Key == "gc_pauses" {
				sd.values = make([]float64, len(pauses))
				for i, p := range pauses {
					sd.values[i] = p[1]
				}
			} else {
				sd.values = make([]float64, len(hist))
				for i := range hist {
					sd.values[i] = value(sd.Key, i)
				}
			}
			sd.Last = lastFigure(sd.values, spec.Unit)
		}
		cv.SVG = drawChart(&cv.chartSpec, cv.Series, times, pauses)
		charts[k] = cv
	}
	return charts, hd
}

func toJSONPauses(ps [][2]float64) [][2]jsonNum {
	out := make([][2]jsonNum, len(ps))
	for i, p := range ps {
		out[i] = [2]jsonNum{jsonNum(p[0]), jsonNum(p[1])}
	}
	return out
}

func counterDelta(a, b float64) float64 { return math.Max(b-a, 0) } // a restart reads as no change

func lastFigure(vs []float64, unit string) figure {
	for i := len(vs) - 1; i >= 0; i-- {
		if !math.IsNaN(vs[i]) {
			return floatFigure(fmtUnit(vs[i], unit), vs[i], unit)
		}
	}
	return figure{Text: humanize.Absent, Exact: "no value yet"}
}

// downsample keeps at most n points, evenly spaced, always keeping the newest.
func downsample(ps []runtimediag.Point, n int) []runtimediag.Point {
	if len(ps) <= n {
		return ps
	}
	out := make([]runtimediag.Point, 0, n)
	step := float64(len(ps)-1) / float64(n-1)
	for i := range n {
		out = append(out, ps[int(math.Round(float64(i)*step))])
	}
	return out
}

// drawChart draws a plot over its rows' times (or, for pauses, their own times): y from 0 to a
// rounded maximum with chartYTicks gridlines, and time labels at a round step.
func drawChart(spec *chartSpec, series []seriesDef, times []int64, pauses [][2]float64) template.HTML {
	var t0, t1 int64
	xs := times
	if spec.Kind == "points" {
		xs = make([]int64, len(pauses))
		for i, p := range pauses {
			xs[i] = int64(p[0])
		}
		if len(times) > 0 {
			t0, t1 = times[0], times[len(times)-1]
		}
	}
	if len(xs) > 0 {
		t0, t1 = min(t0, xs[0]), max(t1, xs[len(xs)-1])
		if t0 == 0 {
			t0 = xs[0]
		}
	}
	// Stacks: each series' top is the sum of those below it and itself; a series not measured at
	// a row adds nothing there and is not drawn there.
	tops := make([][]float64, len(series))
	bottoms := make([][]float64, len(series))
	ymax := 0.0
	if spec.Kind == "stack" {
		var acc []float64
		for s := range series {
			if series[s].Line {
				continue
			}
			if acc == nil {
				acc = make([]float64, len(times))
			}
			bottoms[s] = append([]float64(nil), acc...)
			for i, v := range series[s].values {
				if !math.IsNaN(v) {
					acc[i] += v
				}
			}
			tops[s] = append([]float64(nil), acc...)
		}
		for _, v := range acc {
			ymax = math.Max(ymax, v)
		}
	}
	for _, sd := range series {
		if spec.Kind == "stack" && !sd.Line {
			continue
		}
		for _, v := range sd.values {
			if !math.IsNaN(v) {
				ymax = math.Max(ymax, v)
			}
		}
	}
	ymax = niceCeil(ymax, spec.Unit)
	if spec.Kind == "stack" && spec.Unit == percentUnit {
		ymax = 100 // the CPU classes sum to all of the CPU available
	}
	x := func(t int64) float64 {
		if t1 <= t0 {
			return chartLeft
		}
		return chartLeft + (chartRight-chartLeft)*float64(t-t0)/float64(t1-t0)
	}
	y := func(v float64) float64 { return chartBottom - (chartBottom-chartTop)*v/ymax }

	var s svgWriter
	s.open("svg", "class", "ts", "id", spec.ID, "viewBox", "0 0 1000 220", "role", "img", "aria-label", spec.Title,
		"data-kind", spec.Kind, "data-unit", spec.Unit, "data-t0", strconv.FormatInt(t0, 10), "data-t1", strconv.FormatInt(t1, 10))
	for i := 0; i <= chartYTicks; i++ {
		v := ymax * float64(i) / chartYTicks
		yy := y(v)
		s.void("line", "x1", num(chartLeft), "x2", num(chartRight), "y1", num(yy), "y2", num(yy), "class", "grid")
		s.elem("text", fmtUnit(v, spec.Unit), "x", num(chartLeft-6), "y", num(yy+4), "class", "ylab", "text-anchor", "end")
	}
	if t1 > t0 {
		for _, t := range timeTicks(t0, t1) {
			xx := x(t.at)
			s.void("line", "x1", num(xx), "x2", num(xx), "y1", num(chartTop), "y2", num(chartBottom), "class", "grid")
			s.elem("text", t.label, "x", num(xx), "y", "214", "class", "xlab", "text-anchor", "middle", "data-xtick", strconv.FormatInt(t.at, 10))
		}
	}
	switch spec.Kind {
	case "points":
		sd := series[0]
		s.open("g", "data-series", sd.Key, "fill", sd.Colour)
		for i, v := range sd.values {
			s.void("circle", "cx", num(x(xs[i])), "cy", num(y(v)), "r", "3")
		}
		s.close("g")
	default:
		for k, sd := range series {
			if spec.Kind == "stack" && !sd.Line {
				s.open("path", "d", areaPath(times, tops[k], bottoms[k], sd.values, x, y), "fill", sd.Colour, "fill-opacity", "0.85",
					"stroke", "none", "data-series", sd.Key)
				s.elem("title", sd.Label)
				s.close("path")
				continue
			}
			attrs := []string{"d", linePath(times, sd.values, x, y), "fill", "none", "stroke", sd.Colour, "stroke-width", "2", "data-series", sd.Key}
			if sd.Dash {
				attrs = append(attrs, "stroke-dasharray", "6 4")
			}
			s.open("path", attrs...)
			s.elem("title", sd.Label)
			s.close("path")
		}
	}
	if (spec.Kind != "points" && len(times) < 2) || (spec.Kind == "points" && len(pauses) == 0) {
		msg := "collecting points…"
		if spec.Kind == "points" {
			msg = "no GC pause in this history yet"
		}
		s.elem("text", msg, "x", "500", "y", "110", "text-anchor", "middle", "class", "empty")
	}
	s.close("svg")
	return s.html()
}

// linePath joins the measured values; an unmeasured one leaves a gap.
func linePath(times []int64, vs []float64, x func(int64) float64, y func(float64) float64) string {
	var b strings.Builder
	move := true
	for i, v := range vs {
		if i >= len(times) || math.IsNaN(v) {
			move = true
			continue
		}
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		if move {
			b.WriteByte('M')
		} else {
			b.WriteByte('L')
		}
		move = false
		b.WriteString(num(x(times[i])))
		b.WriteByte(',')
		b.WriteString(num(y(v)))
	}
	return b.String()
}

// areaPath is the band between bottom and top over each run of rows where own is measured.
func areaPath(times []int64, top, bottom, own []float64, x func(int64) float64, y func(float64) float64) string {
	var b strings.Builder
	for i := 0; i < len(own); {
		if math.IsNaN(own[i]) {
			i++
			continue
		}
		j := i
		for j < len(own) && !math.IsNaN(own[j]) {
			j++
		}
		for k := i; k < j; k++ {
			if k == i {
				b.WriteString("M")
			} else {
				b.WriteString(" L")
			}
			b.WriteString(num(x(times[k])) + "," + num(y(top[k])))
		}
		for k := j - 1; k >= i; k-- {
			b.WriteString(" L" + num(x(times[k])) + "," + num(y(bottom[k])))
		}
		b.WriteString("Z")
		i = j
	}
	return b.String()
}

// timeTick is a labelled instant on a time axis.
type timeTick struct {
	at    int64 // Unix milliseconds
	label string
}

// tickSteps are the time axis' steps, in milliseconds: the smallest that gives at most
// maxTimeTicks labels is used, so that a time can be read off any plot to within a step.
var tickSteps = []int64{1e3, 2e3, 5e3, 10e3, 15e3, 30e3, 60e3, 120e3, 300e3, 600e3, 900e3, 1800e3, 3600e3, 7200e3, 21600e3, 43200e3, 86400e3}

const maxTimeTicks = 7

// timeTicks places labels at multiples of a round step between t0 and t1, in UTC.
func timeTicks(t0, t1 int64) []timeTick {
	step := tickSteps[len(tickSteps)-1]
	for _, st := range tickSteps {
		if (t1-t0)/st < maxTimeTicks {
			step = st
			break
		}
	}
	layout := "15:04:05"
	if step >= 60e3 {
		layout = "15:04"
	}
	var out []timeTick
	for t := (t0 + step - 1) / step * step; t <= t1; t += step {
		out = append(out, timeTick{at: t, label: time.UnixMilli(t).UTC().Format(layout)})
	}
	return out
}

// niceCeil rounds a chart's maximum up to 1, 2, 2.5 or 5 times a power of the unit's base (1024
// for bytes, so that gridlines fall on whole MiB), keeping a margin of headroom.
func niceCeil(v float64, unit string) float64 {
	if v <= 0 || math.IsNaN(v) {
		switch unit {
		case bytesUnit, rate:
			return 1 << 20
		case secondsUnit, secondsRate:
			return 1e-3
		}
		return 1
	}
	v *= 1.05
	base := 1.0
	if unit == bytesUnit || unit == rate {
		for base*1024 <= v {
			base *= 1024
		}
	}
	x := v / base
	p := math.Pow(10, math.Floor(math.Log10(x)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*p >= x {
			return m * p * base
		}
	}
	return 10 * p * base
}

func fmtUnit(v float64, unit string) string {
	switch unit {
	case bytesUnit:
		return humanize.FloatBytes(v)
	case rate:
		return humanize.FloatBytes(v) + "/s"
	case percentUnit:
		if v < 10 {
			return strconv.FormatFloat(v, 'f', 2, 64) + "%"
		}
		return strconv.FormatFloat(v, 'f', 1, 64) + "%"
	case secondsUnit:
		return humanize.Duration(v)
	case countUnit:
		return humanize.Count(v)
	case countRate:
		return humanize.Count(v) + "/s"
	case secondsRate:
		return humanize.Duration(v) + "/s"
	}
	return strconv.FormatFloat(v, 'g', 4, 64)
}
