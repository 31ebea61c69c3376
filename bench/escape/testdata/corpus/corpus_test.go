package corpus

import (
	"strings"
	"testing"
)

var (
	words   = strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega one two three four five six seven eight")
	keyByte = []byte("content-type-of-the-request-body-and-more")
	long1   = "the-first-part-of-a-long-path"
	long2   = "the-second-part-of-a-long-path"
	buf     = make([]byte, 0, 256)
	size    = 100
)

func BenchmarkReturned(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkInt = Returned(i)
	}
}

func BenchmarkCapture(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkInt = Capture(i)
	}
}

func BenchmarkBox(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Box(1 << 20)
	}
}

func BenchmarkFormat(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		buf = Format(buf[:0], 123456)
	}
}

func BenchmarkSum(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkInt = Sum(size)
	}
}

func BenchmarkSquares(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkInt = Squares(size)
	}
}

func BenchmarkCount(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkInt = Count(words)
	}
}

func BenchmarkJoin(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		buf = Join(buf[:0], long1, long2)
	}
}

func BenchmarkDashes(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkInt = Dashes(keyByte)
	}
}

func BenchmarkApply(b *testing.B) {
	b.ReportAllocs()
	var c Counter
	for b.Loop() {
		Apply(&c, 2)
	}
}

func BenchmarkLarge(b *testing.B) {
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		sinkInt = Large(i)
	}
}

func BenchmarkFields(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		sinkInt = Fields("a,b,c,d")
	}
}
