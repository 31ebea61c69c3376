package middleware

import (
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
	"github.com/memdiag/memdiag/runtimediag/reporttext"
)

// The page's data: buildPageView assembles from a report and the newest tick everything the
// template shows, already formatted, so that the template computes nothing.

// pageView is the template's data: everything formatted, nothing left to compute in the template.
type pageView struct {
	Nonce string

	Live        liveView
	HaveReport  bool
	ReportErr   string
	ReportTime  string // RFC 3339, for data-report-time
	ReportClock string
	Window      string
	Tier        string
	// The report's window: a line for people, its ends and source for scripts and tests.
	WindowLine, WindowStart, WindowEnd, WindowSource string
	SelfCost                                         string // memdiag's own cost over the window

	Resident     figure
	GoManaged    figure
	GoManagedPct string
	NonGo        figure
	NonGoPct     string
	Unexplained  figure
	Largest      string
	LargestBytes figure
	LargestPct   string
	Findings     []findingView

	RSSBar     template.HTML
	Categories []categoryView

	AddressStrip template.HTML
	Classes      []classTotal
	MappingCount int
	NoMappings   string

	Charts []chartView

	Pauses       template.HTML
	PauseCount   int
	PauseP50     figure
	PauseP99     figure
	PauseMax     figure
	PauseWindowN uint64
	Efficiency   []kv

	Sites     []siteView
	SelfSite  *siteView // memdiag's own allocation, one line, not in the shares of Sites
	SitesNote string
	NoSites   string

	WhatIf *whatIfView // page_whatif.go; nil when the report has no window
	Leaks  *leaksView  // page_leaks.go; nil when leak tracking is off

	Routes   []routeView
	NoRoutes string

	Missing []sourceView
	Notes   []string

	HistoryData historyData
}

type liveView struct {
	Have       bool
	Time       string
	Clock      string
	Resident   figure
	GoTotal    figure
	HeapLive   figure
	HeapGoal   figure
	Goroutines string
	Threads    string
}

type findingView struct {
	Code, Severity, Headline, Advice, Doc string
	DocURL                                string // Doc on the project's site, when Doc is a docs/ path
	Evidence                              []kv
}

type categoryView struct {
	Name, Colour, Method, Pct string
	Bytes                     figure
	Empty                     bool
}

type kv struct {
	Name  string
	Value figure
}

type siteView struct {
	Function, Where  string
	Rate             figure
	Objects          figure
	Share            string
	ShareBarFraction string
}

type sourceView struct{ Name, Reason, Error string }

type routeView struct {
	Name, Requests, InFlight, Delayed string
	P50, P99, Max, STW                figure
	Alloc                             figure
	AllocNote                         string
	CPU                               figure
}

func buildPageView(in *pageInput) *pageView {
	v := &pageView{Nonce: in.Nonce, ReportErr: in.ReportErr}
	p := in.Point
	if !p.Time.IsZero() {
		v.Live = liveView{Have: true, Time: p.Time.UTC().Format(time.RFC3339Nano), Clock: humanize.Clock(p.Time),
			Resident: knownBytesFigure(p.ResidentBytes), GoTotal: bytesFigure(p.GoTotalBytes),
			HeapLive: bytesFigure(p.HeapLiveBytes), HeapGoal: bytesFigure(p.HeapGoalBytes),
			Goroutines: strconv.FormatUint(uint64(p.Goroutines), 10), Threads: strconv.FormatUint(uint64(p.Threads), 10)}
	}
	v.Charts, v.HistoryData = buildCharts(downsample(in.History, maxChartPoints), in.History, in.Custom)
	v.NoRoutes = "no per-route statistics: wrap the service's handler with middleware.Instrument"
	rep := in.Report
	if rep == nil {
		return v
	}
	v.HaveReport = true
	v.ReportTime = rep.Time.UTC().Format(time.RFC3339Nano)
	v.ReportClock = rep.Time.UTC().Format("2006-01-02 15:04:05 UTC")
	v.Window = windowSpan(rep.WindowSeconds)
	if win := rep.Window; win != nil {
		v.WindowLine = reporttext.WindowLine(win)
		v.WindowStart, v.WindowEnd = win.Start.UTC().Format(time.RFC3339Nano), win.End.UTC().Format(time.RFC3339Nano)
		v.WindowSource = win.Source
	}
	if sc := rep.MemdiagSelf; sc != nil {
		v.SelfCost = fmt.Sprintf("memdiag itself over the window: CPU %s (%s of the process's busy CPU), allocation %s/s (%s of sampled bytes), live heap %s (%s of resident), kept out of the application's figures",
			humanize.Duration(sc.CPUSeconds), humanize.Percent(sc.CPUShare), humanize.FloatBytes(sc.AllocBytesPerSecond), humanize.Percent(sc.AllocShare),
			humanize.Bytes(sc.HeapInuseBytes), humanize.Percent(sc.ResidentShare))
	}
	rss := &rep.RSS
	v.Tier = rss.Tier
	v.Resident = knownBytesFigure(rss.ResidentBytes)
	res := float64(max(rss.ResidentBytes, 1))
	pct := func(b uint64) string {
		if !rss.ResidentKnown() {
			return humanize.Absent
		}
		return humanize.Percent(float64(b) / res)
	}
	v.GoManaged, v.GoManagedPct = bytesFigure(rss.GoManagedBytes), pct(rss.GoManagedBytes)
	v.NonGo, v.NonGoPct = bytesFigure(rss.NonGoBytes), pct(rss.NonGoBytes)
	if !rss.NonGoMeasured() {
		v.NonGo, v.NonGoPct = notReadFigure, humanize.Absent
	}
	v.Unexplained = notReadFigure
	if rss.ResidentKnown() {
		v.Unexplained = signedBytesFigure(rss.UnexplainedBytes)
	}
	v.Largest = rss.LargestCategory
	v.LargestBytes = bytesFigure(rss.Category(rss.LargestCategory))
	v.LargestPct = pct(rss.Category(rss.LargestCategory))
	for _, f := range rep.Findings {
		fv := findingView{Code: f.Code, Severity: string(f.Severity), Headline: f.Headline, Advice: f.Advice, Doc: f.Doc}
		if fv.Doc == "" {
			fv.Doc = "docs/findings.md#" + f.Code
		}
		fv.DocURL = docURL(fv.Doc)
		for _, e := range f.Evidence {
			fv.Evidence = append(fv.Evidence, kv{Name: e.Name, Value: evidenceFigure(e)})
		}
		v.Findings = append(v.Findings, fv)
	}

	v.RSSBar = rssBar(rss)
	for _, c := range rss.Categories {
		cv := categoryView{Name: c.Name, Colour: categoryColour(c.Name), Method: c.Method,
			Bytes: bytesFigure(c.Bytes), Pct: pct(c.Bytes), Empty: c.Bytes == 0}
		if c.Method == runtimediag.MethodNotMeasured {
			cv.Bytes, cv.Pct = notReadFigure, humanize.Absent
		}
		v.Categories = append(v.Categories, cv)
	}

	v.MappingCount = len(rss.Mappings)
	if len(rss.Mappings) > 0 {
		v.AddressStrip = addressStrip(rss.Mappings)
		v.Classes = classTotals(rss.Mappings)
	} else {
		v.NoMappings = noMappingsReason(rep)
	}

	e := &rep.Efficiency
	v.Pauses = pauseHistogram(e.LastPauses, e.PauseGC)
	v.PauseCount = len(e.LastPauses)
	v.PauseWindowN = e.PauseGC.Count
	v.PauseP50 = rangeFigure(e.PauseGC.P50Range(), e.PauseGC.P50Lower, e.PauseGC.P50)
	v.PauseP99 = rangeFigure(e.PauseGC.P99Range(), e.PauseGC.P99Lower, e.PauseGC.P99)
	v.PauseMax = rangeFigure(e.PauseGC.MaxRange(), e.PauseGC.MaxLower, e.PauseGC.Max)
	v.Efficiency = efficiencyRows(e)

	if s := rep.TopAllocationSites; s != nil {
		v.SitesNote = fmt.Sprintf("estimates from the runtime's sampled allocation profile (one sample about every %s allocated), over the %s of GC cycles completed in the window; %s/s allocated by the application's sites",
			humanize.Bytes(uint64(max(s.SampleRateBytes, 0))), windowSpan(s.WindowSeconds), humanize.FloatBytes(s.TotalBytesPerSecond))
		for _, site := range s.Sites {
			v.Sites = append(v.Sites, siteView{Function: site.Function, Where: fmt.Sprintf("%s:%d", site.File, site.Line),
				Rate:             floatFigure(humanize.FloatBytes(site.BytesPerSecond)+"/s", site.BytesPerSecond, "bytes/s"),
				Objects:          floatFigure(humanize.Count(site.ObjectsPerSecond)+"/s", site.ObjectsPerSecond, "objects/s"),
				Share:            humanize.Percent(site.Share),
				ShareBarFraction: num(math.Min(math.Max(site.Share, 0), 1) * 100)})
		}
		if m := s.MemdiagItself; m != nil && s.GCCycles > 0 && s.TotalBytesPerSecond+m.BytesPerSecond > 0 {
			v.SelfSite = &siteView{Function: runtimediag.MemdiagItself, Where: "every memdiag site, not in the application's shares",
				Rate:    floatFigure(humanize.FloatBytes(m.BytesPerSecond)+"/s", m.BytesPerSecond, "bytes/s"),
				Objects: floatFigure(humanize.Count(m.ObjectsPerSecond)+"/s", m.ObjectsPerSecond, "objects/s"),
				Share:   humanize.Percent(m.Share) + " of all"}
		}
		if s.Note != "" {
			v.SitesNote += "; " + s.Note
		}
		if len(v.Sites) == 0 {
			v.NoSites = "no allocation of the application's was sampled in the window"
			if s.Note != "" {
				v.NoSites += " (" + s.Note + ")"
			}
		}
	} else {
		v.NoSites = "no allocation profile delta for this report: the Monitor has no window yet (it takes a reading at Start and one every step)"
	}

	v.WhatIf = whatIfTable(rep.WhatIf)
	v.Leaks = leaksSection(rep.Leaks)
	v.Routes = routeRows(rep.Routes)

	for _, s := range rep.Sources {
		if !s.OK {
			v.Missing = append(v.Missing, sourceView{Name: s.Name, Reason: s.Reason, Error: s.Error})
		}
	}
	v.Notes = append(append(v.Notes, rep.Notes...), rss.Notes...)
	return v
}

// docsBase is where the project's docs/ are read on the web: the page links a finding's doc
// there (a link is followed only when clicked; the page itself loads nothing from it).
const docsBase = "https://github.com/memdiag/memdiag/blob/main/"

// docURL is the web address of a docs/ path with its anchor, or "" for anything else.
func docURL(doc string) string {
	if !strings.HasPrefix(doc, "docs/") || strings.ContainsAny(doc, " \"<>") || strings.Contains(doc, "..") {
		return ""
	}
	return docsBase + doc
}

// noMappingsReason says why the report has no per-mapping table: the smaps source's error when
// it was not read, else the attribution's notes.
func noMappingsReason(rep *runtimediag.Report) string {
	var smapsErr string
	mapsRead := false
	for _, s := range rep.Sources {
		switch {
		case s.Name == "smaps" && !s.OK:
			smapsErr = firstNonEmpty(s.Reason, s.Error)
		case s.Name == "maps" && s.OK:
			mapsRead = true
		case s.Name == "maps" && !s.OK && smapsErr != "":
			return "smaps was not read (" + smapsErr + "), nor maps (" + firstNonEmpty(s.Reason, s.Error) + ")"
		}
	}
	if smapsErr != "" {
		if mapsRead {
			return "smaps was not read (" + smapsErr + "); maps was, but it has no per-mapping sizes, so nothing could be attributed per mapping"
		}
		return "smaps was not read: " + smapsErr
	}
	if len(rep.RSS.Notes) > 0 {
		return strings.Join(rep.RSS.Notes, "; ")
	}
	if rep.RSS.Tier == runtimediag.TierCheap {
		return "this report is the cheap tier (statm and runtime/metrics): it has no per-mapping table"
	}
	return "the report has no per-mapping table"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return "unknown reason"
}

func efficiencyRows(e *runtimediag.Efficiency) []kv {
	rows := []kv{
		{"allocation rate", floatFigure(humanize.FloatBytes(e.AllocBytesPerSecond)+"/s", e.AllocBytesPerSecond, "bytes/s")},
		{"objects allocated", floatFigure(humanize.Count(e.AllocObjectsPerSecond)+"/s", e.AllocObjectsPerSecond, "objects/s")},
		{"mean object size", floatFigure(humanize.FloatBytes(e.MeanObjectBytes), e.MeanObjectBytes, "bytes")},
		{"GC cycles", floatFigure(strconv.FormatFloat(e.GCCyclesPerSecond, 'f', 2, 64)+"/s", e.GCCyclesPerSecond, "cycles/s")},
		{"GC CPU (of GOMAXPROCS × wall)", floatFigure(humanize.Percent(e.GCCPUFraction), e.GCCPUFraction, "fraction")},
		{"GC CPU (of CPU used)", floatFigure(humanize.Percent(e.GCBusyCPUShare), e.GCBusyCPUShare, "fraction")},
		{"mark assist (of CPU used)", floatFigure(humanize.Percent(e.GCAssistBusyCPUShare), e.GCAssistBusyCPUShare, "fraction")},
		{"CPU used", floatFigure(strconv.FormatFloat(e.BusyCores, 'f', 2, 64)+" cores", e.BusyCores, "cores")},
		{"live heap", bytesFigure(e.HeapLiveBytes)},
		{"heap goal", bytesFigure(e.HeapGoalBytes)},
		{"churn (allocated per GC ÷ live heap)", floatFigure(strconv.FormatFloat(e.Churn, 'f', 2, 64), e.Churn, "ratio")},
		{"fragmentation (unused ÷ objects)", floatFigure(humanize.Percent(e.HeapUnusedRatio), e.HeapUnusedRatio, "ratio")},
		{"free not returned (÷ heap mapped)", floatFigure(humanize.Percent(e.HeapFreeRatio), e.HeapFreeRatio, "ratio")},
	}
	gogc := strconv.FormatInt(e.GOGC, 10)
	if e.GOGC < 0 {
		gogc = "off"
	}
	rows = append(rows, kv{"GOGC", figure{Text: gogc, Exact: strconv.FormatInt(e.GOGC, 10), Raw: strconv.FormatInt(e.GOGC, 10)}})
	if e.GOMEMLIMITBytes != nil {
		rows = append(rows, kv{"GOMEMLIMIT", signedBytesFigure(*e.GOMEMLIMITBytes)})
		if e.GOMEMLIMITHeadroomBytes != nil {
			rows = append(rows, kv{"headroom to GOMEMLIMIT", signedBytesFigure(*e.GOMEMLIMITHeadroomBytes)})
		}
	} else {
		rows = append(rows, kv{"GOMEMLIMIT", figure{Text: "none", Exact: "no soft memory limit", Raw: ""}})
	}
	if e.CgroupLimitBytes != nil {
		rows = append(rows, kv{"cgroup memory limit", bytesFigure(*e.CgroupLimitBytes)})
		if e.CgroupHeadroomBytes != nil {
			rows = append(rows, kv{"headroom to the cgroup limit", signedBytesFigure(*e.CgroupHeadroomBytes)})
		}
	}
	rows = append(rows,
		kv{"goroutines", countFigure(e.Goroutines)},
		kv{"OS threads", countFigure(e.Threads)},
		kv{"GOMAXPROCS", countFigure(e.GOMAXPROCS)},
	)
	if e.OpenFDsLimit > 0 {
		rows = append(rows, kv{"open descriptors", figure{Text: fmt.Sprintf("%d of %d", e.OpenFDs, e.OpenFDsLimit), Exact: fmt.Sprintf("%d open, soft limit %d", e.OpenFDs, e.OpenFDsLimit), Raw: strconv.FormatUint(e.OpenFDs, 10)}})
	}
	return rows
}

func routeRows(rs []runtimediag.RouteStats) []routeView {
	var out []routeView
	for i := range rs {
		r := &rs[i]
		rv := routeView{Name: r.Route, Requests: humanize.Comma(r.Requests), InFlight: humanize.Absent, Delayed: humanize.Comma(r.DelayedRequests),
			P50: quantileFigure(r.LatencyP50Seconds, "no requests"), P99: quantileFigure(r.LatencyP99Seconds, "too few requests for a p99 (it needs 100)"), Max: quantileFigure(r.LatencyMaxSeconds, "no requests"),
			STW: durationFigure(r.STWSeconds), AllocNote: r.AllocNote, CPU: figure{Text: humanize.Absent, Exact: "no CPU profile with route labels was taken"}}
		if r.InFlight != nil {
			rv.InFlight = strconv.FormatInt(*r.InFlight, 10)
		}
		if a := r.Alloc; a != nil {
			rv.Alloc = floatFigure(humanize.FloatBytes(a.BytesPerRequest)+" ± "+humanize.Percent(a.RelativeError), a.BytesPerRequest,
				fmt.Sprintf("bytes per request from %d samples at one per %d bytes", a.Samples, a.SampleRateBytes))
		} else {
			rv.Alloc = figure{Text: humanize.Absent, Exact: firstNonEmpty(r.AllocNote)}
		}
		if c := r.CPU; c != nil {
			rv.CPU = floatFigure(humanize.Duration(c.CPUSeconds), c.CPUSeconds, fmt.Sprintf("s of CPU in a %s profile; %s in the allocator, %s assisting the GC",
				windowSpan(c.ProfileSeconds), humanize.Duration(c.AllocCPUSeconds), humanize.Duration(c.AssistCPUSeconds)))
		}
		out = append(out, rv)
	}
	return out
}
