package runtimediag

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/memdiag/memdiag/procself"
	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

// BenchmarkRSSAttribution measures a full attribution (smaps read and parse, arena location,
// classification, sums) at three resident sizes, and reports the classification alone against the
// smaps read: classify-ns/op and smaps-ns/op, and their ratio as classify-%.
func BenchmarkRSSAttribution(b *testing.B) {
	for _, size := range []struct {
		name  string
		bytes int
	}{{"10MiB", 0}, {"256MiB", 256 << 20}, {"1GiB", 1 << 30}} {
		b.Run(size.name, func(b *testing.B) {
			var blocks [][]byte
			for range size.bytes / (4 << 20) {
				blk := make([]byte, 4<<20)
				touch(blk)
				blocks = append(blocks, blk)
			}
			c, err := NewCollector()
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			a := rssattr.NewAttributor()
			fs := procself.New("/")
			s := c.Full(context.Background())
			var smapsTime, classifyTime time.Duration
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				ms, err := fs.Smaps()
				if err != nil {
					b.Fatal(err)
				}
				t1 := time.Now()
				s.Mappings = ms
				if _, err := measure(a, s); err != nil {
					b.Fatal(err)
				}
				smapsTime += t1.Sub(t0)
				classifyTime += time.Since(t1)
			}
			n := float64(b.N)
			b.ReportMetric(float64(smapsTime.Nanoseconds())/n, "smaps-ns/op")
			b.ReportMetric(float64(classifyTime.Nanoseconds())/n, "classify-ns/op")
			b.ReportMetric(100*float64(classifyTime)/float64(smapsTime), "classify-%")
			b.ReportMetric(float64(s.Statm.ResidentBytes)/(1<<20), "rss-MiB")
			_ = fmt.Sprint(len(blocks))
		})
	}
}
