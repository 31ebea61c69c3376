package planted

import (
	"fmt"
	"io"
	"testing"

	"github.com/memdiag/memdiag/bench"
)

func TestMain(m *testing.M) { bench.Main(m) }

func BenchmarkParseKV(b *testing.B) {
	b.ReportAllocs()
	bench.Measure(b)
	for b.Loop() {
		ParseKV("content-type=text/plain")
	}
}

func BenchmarkAppendFields(b *testing.B) {
	b.ReportAllocs()
	fields := []string{"alpha", "beta", "gamma", "delta"}
	dst := make([]byte, 0, 64)
	bench.Measure(b)
	for b.Loop() {
		dst = AppendFields(dst[:0], fields)
	}
}

func BenchmarkIndex(b *testing.B) {
	for _, n := range []int{8, 64} {
		words := make([]string, n)
		for i := range words {
			words[i] = fmt.Sprintf("w%d", i)
		}
		b.Run(fmt.Sprintf("words=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			bench.Measure(b)
			for b.Loop() {
				Index(words)
			}
		})
	}
}

// BenchmarkHeader measures the project's own header writer, which allocates a few strings.
func BenchmarkHeader(b *testing.B) {
	b.ReportAllocs()
	bench.Measure(b)
	for b.Loop() {
		if err := bench.Header(io.Discard); err != nil {
			b.Fatal(err)
		}
	}
}
