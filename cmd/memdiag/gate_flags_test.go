package main

import (
	"math"
	"testing"
)

// FuzzParseTolerance: a --tolerance spec either is refused or gives finite amounts of 0 or
// more; a NaN or an infinity there would switch the gate off without a word.
func FuzzParseTolerance(f *testing.F) {
	for _, s := range []string{"16,1%", "+64/run", "NaN", "Inf%", "-1/run", "1e308%,1e308", "5%%", ",,", "0x10"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		tol, err := parseTolerance(spec)
		if err != nil {
			return
		}
		for _, v := range []float64{tol.Abs, tol.Rel, tol.PerRun} {
			if !(v >= 0) || math.IsInf(v, 0) {
				t.Fatalf("parseTolerance(%q) = %+v", spec, tol)
			}
		}
	})
}
