package runtimediag

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// MaxCustomSeries bounds the application's own series (WithCustomSeries): each takes one float64
// in every history point, so that the tick stores them without allocating.
const MaxCustomSeries = 8

// Units a custom series may be plotted in: the page formats its axis and read-outs by them.
const (
	UnitBytes         = "bytes"     // a size
	UnitBytesPerSec   = "bytes/s"   // a throughput
	UnitCount         = "count"     // a number of things
	UnitCountPerSec   = "count/s"   // events per second
	UnitSeconds       = "seconds"   // a duration
	UnitSecondsPerSec = "seconds/s" // time spent per second of wall time
	UnitPercent       = "percent"   // 0–100
)

var customSeriesUnits = [...]string{UnitBytes, UnitBytesPerSec, UnitCount, UnitCountPerSec, UnitSeconds, UnitSecondsPerSec, UnitPercent}

// maxCustomSeriesName bounds a series' name, which labels its plot on the page.
const maxCustomSeriesName = 64

// CustomSeries names one of the application's own series and its unit; Monitor.CustomSeries lists
// them in the order of Point.Custom.
type CustomSeries struct {
	Name string `json:"name"`
	Unit string `json:"unit"`
}

// customSeries is a series and the function the tick samples it with.
type customSeries struct {
	CustomSeries
	sample func() float64
}

// WithCustomSeries adds a series of the application's own to the Monitor's history: at every
// tick the Monitor calls sample and stores its value in the history point (Point.Custom), and the
// page plots it next to the runtime's series, live. At most MaxCustomSeries series; name is 1 to
// 64 characters and unique; unit is one of the Unit* constants (UnitCount, UnitBytes, …).
//
// sample runs on the Monitor's tick goroutine: it must be fast, safe to call from another
// goroutine, and should not allocate (an atomic load, a len of a guarded slice). A NaN or
// ±Inf value, or a panic, leaves the tick's value unread (null in JSON, a gap in the plot);
// a panic is recovered. For a counter, give its rate: the page plots the value as it is.
func WithCustomSeries(name, unit string, sample func() float64) Option {
	return monitorOption{"WithCustomSeries", func(c *config) error {
		switch {
		case name == "" || utf8.RuneCountInString(name) > maxCustomSeriesName || !utf8.ValidString(name):
			return fmt.Errorf("runtimediag: WithCustomSeries: name %q is not 1 to %d characters of UTF-8", name, maxCustomSeriesName)
		case sample == nil:
			return fmt.Errorf("runtimediag: WithCustomSeries %q: nil sample function", name)
		case len(c.monitor.custom) == MaxCustomSeries:
			return fmt.Errorf("runtimediag: WithCustomSeries %q: more than %d series", name, MaxCustomSeries)
		}
		known := false
		for _, u := range customSeriesUnits {
			known = known || u == unit
		}
		if !known {
			return fmt.Errorf("runtimediag: WithCustomSeries %q: unit %q is not one of %v", name, unit, customSeriesUnits)
		}
		for _, s := range c.monitor.custom {
			if s.Name == name {
				return fmt.Errorf("runtimediag: WithCustomSeries: %q given twice", name)
			}
		}
		c.monitor.custom = append(c.monitor.custom, customSeries{CustomSeries{name, unit}, sample})
		return nil
	}}
}

// CustomSeries lists the series of WithCustomSeries, in the order of Point.Custom.
func (m *Monitor) CustomSeries() []CustomSeries {
	out := make([]CustomSeries, len(m.mc.custom))
	for i, s := range m.mc.custom {
		out[i] = s.CustomSeries
	}
	return out
}

// sampleCustom stores each series' value in p; it allocates nothing of its own.
func sampleCustom(p *Point, series []customSeries) {
	p.Custom, p.CustomRead = [MaxCustomSeries]float64{}, 0
	for i := range series {
		if v, ok := sampleOne(series[i].sample); ok {
			p.Custom[i] = v
			p.CustomRead |= 1 << i
		}
	}
}

// sampleOne calls f, reporting false for a panic or a value that is not a finite number.
func sampleOne(f func() float64) (v float64, ok bool) {
	defer func() {
		if recover() != nil {
			v, ok = 0, false
		}
	}()
	v = f()
	return v, !math.IsNaN(v) && !math.IsInf(v, 0)
}

// CustomValue is the value of the i-th custom series at this point; ok is false when it was not
// read (no such series, or its function gave no finite number).
func (p *Point) CustomValue(i int) (v float64, ok bool) {
	if i < 0 || i >= MaxCustomSeries || p.CustomRead&(1<<i) == 0 {
		return 0, false
	}
	return p.Custom[i], true
}
