package runtimediag

import (
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestWithCustomSeriesValidates(t *testing.T) {
	f := func() float64 { return 1 }
	nine := make([]Option, 0, MaxCustomSeries+1)
	for i := range MaxCustomSeries + 1 {
		nine = append(nine, WithCustomSeries(strings.Repeat("s", i+1), UnitCount, f))
	}
	for _, tc := range []struct {
		name string
		opts []Option
		want string // "" for accepted
	}{
		{"one", []Option{WithCustomSeries("queue depth", UnitCount, f)}, ""},
		{"every unit", []Option{WithCustomSeries("a", UnitBytes, f), WithCustomSeries("b", UnitBytesPerSec, f),
			WithCustomSeries("c", UnitCountPerSec, f), WithCustomSeries("d", UnitSeconds, f), WithCustomSeries("e", UnitSecondsPerSec, f),
			WithCustomSeries("f", UnitPercent, f), WithCustomSeries("g", UnitCount, f)}, ""},
		{"eight", nine[:MaxCustomSeries], ""},
		{"nine", nine, "more than 8 series"},
		{"empty name", []Option{WithCustomSeries("", UnitCount, f)}, "is not 1 to 64"},
		{"long name", []Option{WithCustomSeries(strings.Repeat("x", 65), UnitCount, f)}, "is not 1 to 64"},
		{"bad utf-8", []Option{WithCustomSeries("\xff", UnitCount, f)}, "is not 1 to 64"},
		{"nil func", []Option{WithCustomSeries("q", UnitCount, nil)}, "nil sample function"},
		{"unknown unit", []Option{WithCustomSeries("q", "furlongs", f)}, `unit "furlongs"`},
		{"twice", []Option{WithCustomSeries("q", UnitCount, f), WithCustomSeries("q", UnitBytes, f)}, "given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMonitor(tc.opts...)
			if m != nil {
				defer m.Close()
			}
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if got := len(m.CustomSeries()); got != len(tc.opts) {
					t.Errorf("%d series, want %d", got, len(tc.opts))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want one saying %q", err, tc.want)
			}
		})
	}
	if _, err := NewCollector(WithCustomSeries("q", UnitCount, f)); err == nil {
		t.Error("NewCollector accepted a Monitor option")
	}
}

// TestCustomSeriesOnTheTick: each tick stores every series' value in its point, without
// allocating; a panic, NaN or Inf is an unread value, never a 0.
func TestCustomSeriesOnTheTick(t *testing.T) {
	var depth atomic.Int64
	mode := atomic.Int32{}
	m := newTestMonitor(t, WithTickInterval(10*time.Millisecond), WithHistory(time.Second),
		WithCustomSeries("queue depth", UnitCount, func() float64 { return float64(depth.Load()) }),
		WithCustomSeries("flaky", UnitSeconds, func() float64 {
			switch mode.Load() {
			case 1:
				panic("boom")
			case 2:
				return math.NaN()
			case 3:
				return math.Inf(1)
			}
			return 0.25
		}))
	if got := m.CustomSeries(); len(got) != 2 || got[0] != (CustomSeries{"queue depth", UnitCount}) || got[1].Unit != UnitSeconds {
		t.Fatalf("CustomSeries() = %+v", got)
	}
	depth.Store(42)
	m.tick()
	p, _ := m.Latest()
	if v, ok := p.CustomValue(0); !ok || v != 42 {
		t.Errorf("queue depth %v, %v; want 42", v, ok)
	}
	if v, ok := p.CustomValue(1); !ok || v != 0.25 {
		t.Errorf("flaky %v, %v; want 0.25", v, ok)
	}
	if _, ok := p.CustomValue(2); ok {
		t.Error("a series that does not exist was read")
	}
	for _, md := range []int32{1, 2, 3} {
		mode.Store(md)
		m.tick()
		p, _ = m.Latest()
		if _, ok := p.CustomValue(1); ok {
			t.Errorf("mode %d: read as %v", md, p.Custom[1])
		}
		if v, ok := p.CustomValue(0); !ok || v != 42 {
			t.Errorf("mode %d: the other series is %v, %v", md, v, ok)
		}
	}
	if raceEnabled {
		return
	}
	mode.Store(0)
	if n := testing.AllocsPerRun(100, m.tick); n != 0 {
		t.Errorf("a tick with custom series allocates %v times", n)
	}
}
