package trend

import (
	"math"
	"math/rand/v2"
	"testing"
)

func series(n int, f func(i int) float64) (x, y []float64) {
	for i := range n {
		x = append(x, float64(i)*10)
		y = append(y, f(i))
	}
	return x, y
}

func TestTheilSenIgnoresOutliers(t *testing.T) {
	x, y := series(20, func(i int) float64 { return 3*float64(i)*10 + 7 })
	y[4], y[11] = 1e9, -1e9
	slope, icpt, ok := TheilSen(x, y, nil)
	if !ok || math.Abs(slope-3) > 1e-9 || math.Abs(icpt-7) > 1e-9 {
		t.Fatalf("slope %v intercept %v ok %v, want 3, 7", slope, icpt, ok)
	}
}

func TestMannKendallKnownValues(t *testing.T) {
	// Strictly rising, n=10: S = 45, var = 10·9·25/18 = 125, z = 44/√125 = 3.9355.
	s, z, p := MannKendall([]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
	if s != 45 || math.Abs(z-44/math.Sqrt(125)) > 1e-9 || p > 1e-4 {
		t.Fatalf("S %d z %v p %v", s, z, p)
	}
	// Constant: every pair tied, no evidence either way.
	if s, _, p := MannKendall([]float64{5, 5, 5, 5, 5, 5}); s != 0 || p != 1 {
		t.Fatalf("constant: S %d p %v", s, p)
	}
	// Falling: p near 1.
	if _, _, p := MannKendall([]float64{9, 8, 7, 6, 5, 4, 3, 2}); p < 0.99 {
		t.Fatalf("falling: p %v", p)
	}
}

func TestVerdicts(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	noise := func(a float64) float64 { return (rng.Float64() - 0.5) * a }
	cases := []struct {
		name string
		f    func(i int) float64
		n    int
		want Verdict
	}{
		{"leak", func(i int) float64 { return 1e6 + 5e4*float64(i) + noise(2e4) }, 30, Growing},
		{"leak with outliers", func(i int) float64 {
			if i%7 == 3 {
				return 0
			}
			return 1e6 + 5e4*float64(i)
		}, 30, Growing},
		{"noise", func(i int) float64 { return 1e6 + noise(1e5) }, 40, Flat},
		{"warm-up then plateau", func(i int) float64 { return 1e6 * (1 - math.Exp(-float64(i)/3)) * (1 + noise(0.01)) }, 40, Stopped},
		{"sawtooth cache", func(i int) float64 { return 1e6 + float64(i%5)*1e5 }, 40, Flat},
		{"negligible creep", func(i int) float64 { return 1e9 + float64(i) }, 30, Negligible},
		{"too few", func(i int) float64 { return float64(i) }, 5, TooFewPoints},
		{"falling", func(i int) float64 { return 1e6 - 1e4*float64(i) }, 30, Flat},
	}
	for _, c := range cases {
		x, y := series(c.n, c.f)
		r := Test(x, y, DefaultConfig())
		if r.Verdict != c.want {
			t.Errorf("%s: %v (p %.3g, recent p %.3g, slope %.3g, recent %.3g), want %v", c.name, r.Verdict, r.P, r.PRecent, r.Slope, r.Recent, c.want)
		}
	}
}

func TestSinceIsWhereTheRiseStarted(t *testing.T) {
	x, y := series(40, func(i int) float64 {
		if i < 20 {
			return 100 + float64(i%3)
		}
		return 100 + 10*float64(i-19)
	})
	r := Test(x, y, DefaultConfig())
	if r.Verdict != Growing || r.Since < x[15] || r.Since > x[20] {
		t.Fatalf("verdict %v since %v, want growing since about %v", r.Verdict, r.Since, x[19])
	}
}

func TestTesterDoesNotAllocateAfterWarmUp(t *testing.T) {
	x, y := series(MaxPoints, func(i int) float64 { return float64(i) })
	var tr Tester
	tr.Test(x, y, DefaultConfig())
	if a := testing.AllocsPerRun(10, func() { tr.Test(x, y, DefaultConfig()) }); a > 1 {
		t.Fatalf("%v allocations per test", a)
	}
}

func FuzzTest(f *testing.F) {
	f.Add(1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
	f.Add(math.NaN(), 0.0, math.Inf(1), -1.0, 5.0, 5.0, 5.0, 5.0, 5.0)
	f.Fuzz(func(t *testing.T, a, b, c, d, e, g, h, i, j float64) {
		y := []float64{a, b, c, d, e, g, h, i, j}
		x := []float64{0, 1, 2, 3, 4, 5, 6, 7, 8}
		r := Test(x, y, DefaultConfig())
		if r.Verdict == Growing && (r.P >= 0.01 || r.Slope <= 0) {
			t.Fatalf("growing with p %v slope %v", r.P, r.Slope)
		}
		for _, v := range y {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				if r.Verdict != TooFewPoints {
					t.Fatalf("non-finite input gave %v", r.Verdict)
				}
			}
		}
	})
}
