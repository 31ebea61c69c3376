// Package trend decides whether a series grows: a Theil–Sen slope (the median of the slopes
// between every pair of points, robust to a few outliers) and a Mann–Kendall test (does the
// series rise more often than chance allows, with no assumption about the shape of the rise).
// It is pure: series in, a verdict out, no time and no I/O.
//
// "Last minus first" calls a cache that warmed up and then held still a leak forever; Test looks
// at the recent part of the series too, so growth that has stopped stops being reported.
package trend

import (
	"math"
	"slices"
)

// Theil–Sen is O(n²) in time and space; MaxPoints bounds n so a test costs at most
// MaxPoints²/2 slopes. Callers thin longer series before testing.
const MaxPoints = 128

// TheilSen returns the median of the pairwise slopes (y[j]-y[i])/(x[j]-x[i]) over i<j with
// x[j] != x[i], and the intercept median(y - slope·x). ok is false when fewer than two distinct x
// exist or a value is not finite. scratch is reused when large enough (nil is fine).
func TheilSen(x, y []float64, scratch []float64) (slope, intercept float64, ok bool) {
	n := min(len(x), len(y))
	if n < 2 {
		return 0, 0, false
	}
	s := scratch[:0]
	for i := 0; i < n; i++ {
		if !finite(x[i]) || !finite(y[i]) {
			return 0, 0, false
		}
		for j := i + 1; j < n; j++ {
			if dx := x[j] - x[i]; dx != 0 {
				s = append(s, (y[j]-y[i])/dx)
			}
		}
	}
	if len(s) == 0 {
		return 0, 0, false
	}
	slope = median(s)
	r := s[:0]
	for i := 0; i < n; i++ {
		r = append(r, y[i]-slope*x[i])
	}
	return slope, median(r), true
}

// MannKendall returns the Mann–Kendall statistic S (the number of rising pairs minus falling
// pairs, in time order), its normal approximation Z with the tie correction and the continuity
// correction, and the one-sided p-value of "the series rises" (small p: rises significantly).
// The normal approximation is good from about 8 points; below 3 points p is 1.
func MannKendall(y []float64) (s int, z, p float64) { return mannKendall(y, nil) }

// mannKendall is MannKendall with a scratch buffer for the tie count.
func mannKendall(y, scratch []float64) (s int, z, p float64) {
	n := len(y)
	if n < 3 {
		return 0, 0, 1
	}
	for i := 0; i < n; i++ {
		for j := i + 1; j < n; j++ {
			switch {
			case y[j] > y[i]:
				s++
			case y[j] < y[i]:
				s--
			}
		}
	}
	// Variance with ties: n(n-1)(2n+5) - Σ t(t-1)(2t+5), over 18.
	fn := float64(n)
	v := fn * (fn - 1) * (2*fn + 5)
	c := append(scratch[:0], y...)
	slices.Sort(c)
	for i := 0; i < len(c); {
		j := i + 1
		for j < len(c) && c[j] == c[i] {
			j++
		}
		ft := float64(j - i)
		v -= ft * (ft - 1) * (2*ft + 5)
		i = j
	}
	v /= 18
	if v <= 0 {
		return s, 0, 1
	}
	switch {
	case s > 0:
		z = float64(s-1) / math.Sqrt(v)
	case s < 0:
		z = float64(s+1) / math.Sqrt(v)
	}
	return s, z, 0.5 * math.Erfc(z/math.Sqrt2)
}

// Config says what counts as growth. The zero value is not useful: start from DefaultConfig.
type Config struct {
	// Alpha is the significance level: the series grows significantly when the Mann–Kendall
	// one-sided p-value is below it (over the whole series and over its recent part).
	Alpha float64
	// MinPoints is the fewest points a verdict is given on; fewer is "not enough data".
	MinPoints int
	// RecentFraction is the share of the newest points (at least MinPoints of them) that must
	// still rise: growth that has stopped is not growth now.
	RecentFraction float64
	// MinRelativeGrowth is the least growth over the series, as a share of its median level,
	// that counts: a significant but negligible rise (a counter creeping by a byte) is not a
	// suspect. Zero accepts any rise.
	MinRelativeGrowth float64
}

// DefaultConfig: 1% significance, 8 points, the newest half must rise too, and growth of at least
// 5% of the level over the series.
func DefaultConfig() Config {
	return Config{Alpha: 0.01, MinPoints: 8, RecentFraction: 0.5, MinRelativeGrowth: 0.05}
}

// RecentPoints is how many of n points make the recent part: RecentFraction of them, at least
// MinPoints, at most n.
func (c Config) RecentPoints(n int) int {
	return min(max(c.MinPoints, int(math.Ceil(float64(n)*c.RecentFraction))), n)
}

// Verdict is what Test concluded.
type Verdict uint8

const (
	TooFewPoints Verdict = iota // fewer than Config.MinPoints points
	Flat                        // no significant rise over the series
	Stopped                     // rose over the series, but the recent part does not rise
	Negligible                  // rises significantly, but by less than MinRelativeGrowth
	Growing                     // rises significantly, still rising, by enough to matter
)

func (v Verdict) String() string {
	switch v {
	case TooFewPoints:
		return "too_few_points"
	case Flat:
		return "flat"
	case Stopped:
		return "stopped"
	case Negligible:
		return "negligible"
	case Growing:
		return "growing"
	}
	return "unknown"
}

// Result is a verdict and the figures it rests on.
type Result struct {
	Verdict Verdict
	N       int     // points tested
	Slope   float64 // Theil–Sen slope over the whole series, y units per x unit
	Recent  float64 // Theil–Sen slope over the recent part
	P       float64 // Mann–Kendall one-sided p-value over the whole series
	PRecent float64 // the same over the recent part
	Growth  float64 // Slope × (the x span), in y units: how much the fitted line rose
	// Since is where a growing series was last at its lowest: it has not been lower since. Set
	// only for Growing.
	Since float64
}

// Test decides whether y (over x, increasing) grows, with a fresh scratch buffer; a caller testing
// many series uses a Tester, which reuses one.
func Test(x, y []float64, cfg Config) Result {
	var t Tester
	return t.Test(x, y, cfg)
}

// Tester reuses its scratch buffer between tests; the zero value is ready. Not safe for
// concurrent use.
type Tester struct{ buf []float64 }

// Test decides whether y (over x, increasing) grows. x and y must have the same length; at most
// MaxPoints points are used (the newest).
func (t *Tester) Test(x, y []float64, cfg Config) Result {
	n := min(len(x), len(y))
	if n > MaxPoints {
		x, y = x[n-MaxPoints:n], y[n-MaxPoints:n]
		n = MaxPoints
	}
	x, y = x[:n], y[:n]
	r := Result{N: n, P: 1, PRecent: 1}
	if n < max(cfg.MinPoints, 3) {
		r.Verdict = TooFewPoints
		return r
	}
	if need := n * (n - 1) / 2; cap(t.buf) < need {
		t.buf = make([]float64, 0, need)
	}
	scratch := t.buf[:0]
	slope, _, ok := TheilSen(x, y, scratch)
	if !ok {
		r.Verdict = TooFewPoints
		return r
	}
	r.Slope = slope
	r.Growth = slope * (x[n-1] - x[0])
	_, _, r.P = mannKendall(y, scratch)
	k := cfg.RecentPoints(n)
	r.Recent, _, _ = TheilSen(x[n-k:], y[n-k:], scratch)
	_, _, r.PRecent = mannKendall(y[n-k:], scratch)
	switch {
	case r.P >= cfg.Alpha || slope <= 0:
		r.Verdict = Flat
		return r
	case r.PRecent >= cfg.Alpha || r.Recent <= 0:
		r.Verdict = Stopped
		return r
	}
	level := math.Abs(median(append(scratch, y...)))
	if cfg.MinRelativeGrowth > 0 && r.Growth < cfg.MinRelativeGrowth*level {
		r.Verdict = Negligible
		return r
	}
	r.Verdict = Growing
	// The rise's start: the last time the series was at its lowest ("not lower since").
	lo := 0
	for i := range y {
		if y[i] <= y[lo] {
			lo = i
		}
	}
	r.Since = x[lo]
	return r
}

func median(s []float64) float64 {
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
