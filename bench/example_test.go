package bench_test

import (
	"fmt"
	"testing"

	"github.com/memdiag/memdiag/bench"
)

var sink []byte

// Measure is called once in a benchmark, right before its loop; its figures are reported with
// b.ReportMetric, so they print beside ns/op and reach the result's Extra. Here each iteration
// allocates one 4 KiB buffer: one object and 4096 bytes an iteration, not truncated.
func ExampleMeasure() {
	r := testing.Benchmark(func(b *testing.B) {
		b.ReportAllocs()
		bench.Measure(b)
		for b.Loop() {
			sink = make([]byte, 4096)
		}
	})
	fmt.Printf("%.0f frac-allocs/op, %.0f frac-B/op\n", r.Extra["frac-allocs/op"], r.Extra["frac-B/op"])
	// Output: 1 frac-allocs/op, 4096 frac-B/op
}
