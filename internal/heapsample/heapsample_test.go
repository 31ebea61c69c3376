package heapsample

import (
	"math"
	"testing"
)

func TestProbability(t *testing.T) {
	const rate = 512 * 1024
	for _, c := range []struct {
		size, rate, want float64
	}{
		{rate, rate, 1 - math.Exp(-1)},
		{16, rate, 1 - math.Exp(-16.0/rate)},
		{1 << 30, rate, 1},
		{100, 1, 1},
		{100, 0, 1},
		{0, rate, 0},
	} {
		if got := Probability(c.size, c.rate); math.Abs(got-c.want) > 1e-12*math.Max(1, c.want) || math.Abs(got-c.want)/math.Max(c.want, 1e-300) > 1e-9 {
			t.Errorf("Probability(%v, %v) = %v, want %v", c.size, c.rate, got, c.want)
		}
	}
	// Far below the rate, 1-exp loses the digits that expm1 keeps.
	if got, want := Probability(1, 1e12), 1e-12; math.Abs(got-want)/want > 1e-9 {
		t.Errorf("Probability(1, 1e12) = %v, want %v", got, want)
	}
}

// TestScale: scaling a bucket as runtime/pprof does (scaleHeapSample in runtime/pprof/protomem.go).
func TestScale(t *testing.T) {
	const rate = 512 * 1024
	p := 1 - math.Exp(-1.0)
	if c, b := Scale(10, 10*rate, rate); c != int64(10/p) || b != int64(10*rate/p) {
		t.Errorf("Scale at the rate = %d, %d, want %d, %d", c, b, int64(10/p), int64(10*rate/p))
	}
	if c, b := Scale(3, 300, 1); c != 3 || b != 300 {
		t.Errorf("Scale with every allocation sampled = %d, %d, want 3, 300", c, b)
	}
	if c, b := Scale(0, 300, rate); c != 0 || b != 0 {
		t.Errorf("Scale of an empty bucket = %d, %d", c, b)
	}
}
