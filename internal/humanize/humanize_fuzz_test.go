package humanize

import (
	"math"
	"strconv"
	"strings"
	"testing"
)

// FuzzComma checks that Comma only groups: without its commas it is the number, and every group
// after the first has three digits.
func FuzzComma(f *testing.F) {
	for _, n := range []uint64{0, 999, 1000, 58761216, math.MaxUint64} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n uint64) {
		got := Comma(n)
		if plain := strings.ReplaceAll(got, ",", ""); plain != strconv.FormatUint(n, 10) {
			t.Fatalf("Comma(%d) = %q: not the number without its commas", n, got)
		}
		groups := strings.Split(got, ",")
		if len(groups[0]) == 0 || len(groups[0]) > 3 {
			t.Fatalf("Comma(%d) = %q: first group of %d digits", n, got, len(groups[0]))
		}
		for _, g := range groups[1:] {
			if len(g) != 3 {
				t.Fatalf("Comma(%d) = %q: a group of %d digits", n, got, len(g))
			}
		}
	})
}

// FuzzFloatBytes checks that a byte figure given as a float prints as the same figure given as
// an integer, with the one minus sign, and that what is not a number prints as Absent.
func FuzzFloatBytes(f *testing.F) {
	for _, v := range []float64{0, -2048, 48.6, 1 << 40, math.NaN(), math.Inf(1)} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v float64) {
		got := FloatBytes(v)
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			if got != Absent {
				t.Fatalf("FloatBytes(%v) = %q, want %q", v, got, Absent)
			}
		case math.Abs(v) < 1<<62:
			if want := SignedBytes(int64(math.Round(v))); got != want {
				t.Fatalf("FloatBytes(%v) = %q, want %q", v, got, want)
			}
		}
		if strings.Contains(got, "−") {
			t.Fatalf("FloatBytes(%v) = %q: U+2212, not the ASCII minus", v, got)
		}
	})
}
