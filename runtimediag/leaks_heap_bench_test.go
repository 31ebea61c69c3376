package runtimediag

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"
)

// syntheticHeap is a heap profile's in-use figures at n sites: most hold still with sampling
// noise, growing of them rise by a sample's worth or more at every reading.
type syntheticHeap struct {
	p       *AllocProfile
	growing int
	rng     *rand.Rand
	t       time.Time
}

func newSyntheticHeap(n, growing int) *syntheticHeap {
	s := &syntheticHeap{growing: growing, rng: rand.New(rand.NewPCG(1, 2)), t: time.Unix(1_700_000_000, 0)}
	p := &AllocProfile{SampleRateBytes: 512 << 10, keys: make([]siteKey, n), inuse: make([]siteCount, n)}
	for i := range n {
		p.keys[i] = siteKey{function: fmt.Sprintf("example.com/app.f%d", i), file: "/src/app/f.go", line: int64(i)}
		p.inuse[i] = siteCount{bytes: int64(1+s.rng.IntN(64)) << 19, objects: 1 + int64(s.rng.IntN(1000))}
	}
	s.p = p
	return s
}

// next moves the profile on by one reading a minute later (and a GC cycle later).
func (s *syntheticHeap) next() *windowReading {
	s.t = s.t.Add(time.Minute)
	s.p.Time = s.t
	s.p.GCCycles++
	for i := range s.p.inuse {
		c := &s.p.inuse[i]
		if i < s.growing {
			c.bytes += 4 << 20
			c.objects += 256
			continue
		}
		c.bytes = max(c.bytes+int64(s.rng.IntN(3)-1)<<19, 1<<19)
	}
	return &windowReading{prof: s.p}
}

// BenchmarkHeapLeakStep is the heap-by-site source's work at one window reading, once its series
// are full (an hour of readings): choosing the sites to follow among all of them, appending to
// their series and testing each for a trend. The profile's own read (runtime.MemProfile) is the
// window reading's, measured with it.
func BenchmarkHeapLeakStep(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("sites=%d", n), func(b *testing.B) {
			s := newSyntheticHeap(n, 8)
			h := newHeapSource(newAllocReader())
			for range heapMaxPoints {
				h.sampleWindow(s.next())
			}
			b.ReportAllocs()
			for b.Loop() {
				h.sampleWindow(s.next())
			}
			b.ReportMetric(float64(len(h.series)), "series")
		})
	}
}

// TestHeapLeakHourMemory measures what an hour of heap-by-site tracking keeps (an hour of
// one-minute readings over 10,000 sites, 64 of them growing: every series slot taken) and holds
// it to 1 MiB. Measured with ReadMemStats in a test, never on the Monitor's path.
func TestHeapLeakHourMemory(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector changes allocation sizes")
	}
	s := newSyntheticHeap(10000, heapTopSites+heapRisingSites)
	h := newHeapSource(newAllocReader())
	for range 60 {
		h.sampleWindow(s.next())
	}
	l := &Leaks{}
	h.fill(s.t, l)
	// What the source and the section keep: the live heap with them, less the live heap once
	// they are released.
	var with, without runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&with)
	runtime.KeepAlive(h)
	runtime.KeepAlive(l)
	suspects, series := len(l.Suspects), len(h.series)
	h, l = nil, nil
	runtime.GC()
	runtime.ReadMemStats(&without)
	runtime.KeepAlive(s)
	kept := int64(with.HeapAlloc) - int64(without.HeapAlloc)
	t.Logf("an hour over 10,000 sites: %d series, %d suspects, %d bytes kept (source and the Leaks section)", series, suspects, kept)
	if kept > 1<<20 {
		t.Errorf("an hour of heap-by-site tracking keeps %d bytes, over 1 MiB", kept)
	}
	if suspects < heapTopSites {
		t.Errorf("%d suspects, want the %d growing sites", suspects, heapTopSites+heapRisingSites)
	}
}
