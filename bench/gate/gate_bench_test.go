package gate

import (
	"bytes"
	"fmt"
	"io"
	"testing"
)

// largeInput is n benchmarks × 10 samples of the units package bench reports.
func largeInput(n int, shift float64) []byte {
	var b bytes.Buffer
	b.WriteString("goos: linux\ngoarch: amd64\ngoversion: go1.26.8\npkg: example.com/big\n")
	for i := range n {
		for s := range 10 {
			fmt.Fprintf(&b, "BenchmarkCase%d/size=%d-2 \t100000\t%g ns/op\t%g B/op\t%d allocs/op\t%g frac-allocs/op\t%g frac-B/op\t0.0001 gc-cycles/op\t%g stw-ns/op\n",
				i, i%7, 100+float64(s)+shift, 64.0, 1+i%3, 1.00001*float64(1+i%3), 64.0001, 2+float64(s)/10)
		}
	}
	return b.Bytes()
}

// BenchmarkGateLarge reads and compares two files of 1,000 benchmarks × 10 samples
// (about 1.7 MB each): the cost of one gate run in CI.
func BenchmarkGateLarge(b *testing.B) {
	base, newer := largeInput(1000, 0), largeInput(1000, 3)
	b.SetBytes(int64(len(base) + len(newer)))
	b.ReportAllocs()
	for b.Loop() {
		bs, err := Read([]string{"base"}, []io.Reader{bytes.NewReader(base)})
		if err != nil {
			b.Fatal(err)
		}
		ns, err := Read([]string{"new"}, []io.Reader{bytes.NewReader(newer)})
		if err != nil {
			b.Fatal(err)
		}
		rep, err := Compare(bs, ns, nil, DefaultOptions())
		if err != nil {
			b.Fatal(err)
		}
		if err := WriteText(io.Discard, rep); err != nil {
			b.Fatal(err)
		}
	}
}
