package promexport

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memdiag/memdiag/runtimediag"
)

// BenchmarkCollect is one scrape's Collect with the report's families cached (every scrape but the
// first after a report): the tick's ~16 metrics are built, the report's are sent as they are.
func BenchmarkCollect(b *testing.B) {
	c := newFixtureCollector(b, &fixedSource{p: fixturePoint(), rep: fixtureReport()})
	benchCollect(b, c)
}

// BenchmarkCollectNewReport is the first scrape after a report: every family is built.
func BenchmarkCollectNewReport(b *testing.B) {
	src := &fixedSource{p: fixturePoint()}
	c := newFixtureCollector(b, src)
	reps := [2]*runtimediag.Report{fixtureReport(), fixtureReport()}
	ch := make(chan prometheus.Metric, 256)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		src.rep = reps[i%2]
		i++
		c.Collect(ch)
		drain(ch)
	}
}

// BenchmarkGatherLive is a whole Gather (Collect, then the registry's checks and conversion to
// protobuf families) over a running Monitor with a report: what a scrape costs before encoding.
func BenchmarkGatherLive(b *testing.B) {
	mon, err := runtimediag.NewMonitor(runtimediag.WithTickInterval(time.Second), runtimediag.WithFullInterval(0))
	if err != nil {
		b.Fatal(err)
	}
	defer mon.Close()
	if err := mon.Start(b.Context()); err != nil {
		b.Fatal(err)
	}
	if _, err := mon.Report(b.Context()); err != nil {
		b.Fatal(err)
	}
	c, err := NewCollector(mon)
	if err != nil {
		b.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

func benchCollect(b *testing.B, c *Collector) {
	ch := make(chan prometheus.Metric, 256)
	b.ReportAllocs()
	for b.Loop() {
		c.Collect(ch)
		drain(ch)
	}
}

func drain(ch chan prometheus.Metric) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}
