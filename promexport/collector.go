package promexport

import (
	"errors"
	"runtime/debug"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memdiag/memdiag/runtimediag"
)

// source is what Collect reads: the Monitor, or a fixed point and report in tests.
type source interface {
	Latest() (runtimediag.Point, *runtimediag.Report)
	Stats() runtimediag.MonitorStats
}

// Collector is a prometheus.Collector over a Monitor's newest tick and last full report. It is
// safe for concurrent scrapes.
type Collector struct {
	src   source
	cfg   config
	now   func() time.Time
	d     descs
	known known
	info  prometheus.Metric

	// The report's families change only when the Monitor publishes a new report, so they are
	// built once per report and every scrape in between sends the same values.
	mu        sync.Mutex
	cachedFor *runtimediag.Report
	cached    []prometheus.Metric
}

// NewCollector returns a Collector over mon. It starts nothing and reads nothing: register it and
// start the Monitor in either order; until the Monitor's first tick a scrape carries memdiag_info
// alone.
func NewCollector(mon *runtimediag.Monitor, opts ...Option) (*Collector, error) {
	if mon == nil {
		return nil, errors.New("promexport: NewCollector: nil Monitor")
	}
	return newCollector(mon, opts...)
}

func newCollector(src source, opts ...Option) (*Collector, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	c := &Collector{src: src, cfg: cfg, now: time.Now, d: newDescs(), known: newKnown()}
	c.info = prometheus.MustNewConstMetric(c.d.info, prometheus.GaugeValue, 1, moduleVersion())
	return c, nil
}

// Describe sends every family the Collector can export, whether or not the next scrape has a
// value for it.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.d.all() {
		ch <- d
	}
}

// Collect sends the newest tick's values, the last report's (built once per report) and the
// Monitor's own counters. It never triggers a collection.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	p, rep := c.src.Latest()
	now := c.now()
	ch <- c.info
	if !p.Time.IsZero() {
		c.collectPoint(ch, &p, now)
	}
	if rep != nil {
		ch <- gauge(c.d.reportAge, max(0, now.Sub(rep.Time).Seconds()))
		for _, m := range c.reportMetrics(rep) {
			ch <- m
		}
	}
	st := c.src.Stats()
	ch <- counter(c.d.ticks, float64(st.Ticks))
	ch <- counter(c.d.tickSeconds, st.TickTime.Seconds())
	ch <- counter(c.d.fullReports, float64(st.FullReports))
	ch <- counter(c.d.selfCPU, st.SelfCPU.Seconds())
}

func (c *Collector) collectPoint(ch chan<- prometheus.Metric, p *runtimediag.Point, now time.Time) {
	d := &c.d
	ch <- gauge(d.tickAge, max(0, now.Sub(p.Time).Seconds()))
	if p.ResidentBytes > 0 {
		ch <- gauge(d.resident, float64(p.ResidentBytes))
	}
	ch <- gauge(d.goMapped, float64(p.GoTotalBytes))
	ch <- gauge(d.heapObjects, float64(p.HeapObjectsBytes))
	ch <- gauge(d.heapLive, float64(p.HeapLiveBytes))
	ch <- gauge(d.heapGoal, float64(p.HeapGoalBytes))
	ch <- gauge(d.heapReleased, float64(p.HeapReleasedBytes))
	if p.LimitBytes > 0 {
		ch <- gauge(d.limit, float64(p.LimitBytes))
	}
	if p.CgroupUsageBytes > 0 {
		ch <- gauge(d.cgroupUsage, float64(p.CgroupUsageBytes))
	}
	ch <- counter(d.allocBytes, float64(p.AllocBytesTotal))
	ch <- counter(d.gcCycles, float64(p.GCCyclesTotal))
	ch <- counter(d.gcCPU, p.GCCPUSecondsTotal)
	ch <- counter(d.cpuAvailable, p.CPUSecondsTotal)
	ch <- gauge(d.goroutines, float64(p.Goroutines))
	ch <- gauge(d.threads, float64(p.Threads))
}

// reportMetrics returns rep's families, building them when rep is not the one cached.
func (c *Collector) reportMetrics(rep *runtimediag.Report) []prometheus.Metric {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cachedFor != rep {
		// A fresh slice: scrapes still ranging over the old one outside the lock keep it.
		c.cached = c.buildReport(rep, make([]prometheus.Metric, 0, len(c.cached)))
		c.cachedFor = rep
	}
	return c.cached
}

// known holds the label values memdiag defines. A report's categories, codes and severities are
// exported only when known and only once, so that a scrape can neither grow without bound nor
// fail on a duplicate series (which would fail the whole /metrics response).
type known struct {
	categories, codes, severities map[string]bool
}

func newKnown() known {
	return known{
		categories: setOf(runtimediag.RSSCategoryNames()),
		codes:      setOf(runtimediag.FindingCodes()),
		severities: setOf([]string{
			string(runtimediag.SeverityInfo), string(runtimediag.SeverityWarning), string(runtimediag.SeverityCritical),
		}),
	}
}

func setOf(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[n] = true
	}
	return m
}

func (c *Collector) buildReport(rep *runtimediag.Report, out []prometheus.Metric) []prometheus.Metric {
	d := &c.d
	out = append(out, gauge(d.reportWindow, rep.WindowSeconds))

	rss := &rep.RSS
	seen := make(map[string]bool, len(rss.Categories))
	for _, cat := range rss.Categories {
		if !c.known.categories[cat.Name] || seen[cat.Name] || cat.Method == runtimediag.MethodNotMeasured {
			continue // not measured: no sample, never a 0 that looks measured
		}
		seen[cat.Name] = true
		out = append(out, gauge(d.category, float64(cat.Bytes), cat.Name, cat.Method))
	}
	if len(seen) > 0 && rss.ResidentKnown() {
		out = append(out, gauge(d.unexplained, float64(rss.UnexplainedBytes)))
	}
	if len(seen) > 0 {
		out = append(out, gauge(d.goManaged, float64(rss.GoManagedBytes)), gauge(d.lazyFree, float64(rss.LazyFreeBytes)))
	}
	if rss.NonGoMeasured() {
		out = append(out, gauge(d.nonGo, float64(rss.NonGoBytes)))
	}
	if rss.ArenaCheck != nil {
		out = append(out, gauge(d.arenaOK, boolFloat(rss.ArenaCheck.OK)))
	}

	e := &rep.Efficiency
	if rep.WindowSeconds > 0 {
		out = append(out,
			gauge(d.gcCPURatio, e.GCCPUFraction),
			gauge(d.gcAssistRatio, e.GCAssistCPUFraction),
			gauge(d.gcBusyRatio, e.GCBusyCPUShare),
		)
		for _, s := range [...]struct {
			kind string
			p    *runtimediag.PauseSummary
		}{{"gc", &e.PauseGC}, {"gc_stopping", &e.StoppingGC}, {"other", &e.PauseOther}} {
			if s.p.Count == 0 {
				continue
			}
			out = append(out, gauge(d.stwP50, s.p.P50, s.kind), gauge(d.stwP99, s.p.P99, s.kind), gauge(d.stwMax, s.p.Max, s.kind),
				gauge(d.stwP50Lower, s.p.P50Lower, s.kind), gauge(d.stwP99Lower, s.p.P99Lower, s.kind), gauge(d.stwMaxLower, s.p.MaxLower, s.kind))
		}
	}
	out = append(out,
		gauge(d.heapUnusedRatio, e.HeapUnusedRatio),
		gauge(d.heapFreeRatio, e.HeapFreeRatio),
	)

	if sc := rep.MemdiagSelf; sc != nil {
		// The allocation rate exists only where the window's profile did (a GC cycle ended in it);
		// the live heap only where the profile was read: never a 0 that looks measured.
		if s := rep.TopAllocationSites; s != nil && s.MemdiagItself != nil && s.GCCycles > 0 {
			out = append(out, gauge(d.selfAllocRate, sc.AllocBytesPerSecond))
		}
		if sc.HeapInuseBytes > 0 {
			out = append(out, gauge(d.selfHeapInuse, float64(sc.HeapInuseBytes)))
		}
	}

	type key struct{ code, sev string }
	fired := make(map[key]bool, len(rep.Findings))
	for _, f := range rep.Findings {
		k := key{f.Code, string(f.Severity)}
		if !c.known.codes[k.code] || !c.known.severities[k.sev] || fired[k] {
			continue
		}
		fired[k] = true
		out = append(out, gauge(d.finding, 1, k.code, k.sev))
	}
	return c.appendRoutes(rep, out)
}

func boolFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func gauge(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
}

func counter(d *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(d, prometheus.CounterValue, v, labels...)
}

// moduleVersion is memdiag's version as the binary was built with it: the module's own version
// when memdiag is the main module, its requirement otherwise, "unknown" without build info.
func moduleVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	const path = "github.com/memdiag/memdiag"
	if bi.Main.Path == path {
		return bi.Main.Version
	}
	for _, m := range bi.Deps {
		if m.Path == path {
			if m.Replace != nil && m.Replace.Version != "" {
				return m.Replace.Version
			}
			return m.Version
		}
	}
	return "unknown"
}
