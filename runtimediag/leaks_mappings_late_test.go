package runtimediag

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

// TestMappingLeakAfterFlatHours: a leak that starts after a long flat stretch — up to the whole
// series of 128 readings and past it — is significant within ten readings of its start, and its
// rate is the leak's, not one diluted by the flat stretch.
func TestMappingLeakAfterFlatHours(t *testing.T) {
	for _, flat := range []int{10, 60, 127, 300} {
		t.Run(fmt.Sprintf("flat=%d", flat), func(t *testing.T) {
			s := newMappingSource()
			t0 := time.Unix(1700000000, 0).UTC()
			for i := 0; i < flat+40; i++ {
				ms := steadyTable()
				if i >= flat {
					// 2 MiB a minute.
					ms = append(ms, cm(300, 300+uint64(2*(i-flat+1)), rssattr.ClassFileMapping, "/data.db", uint64(2*(i-flat+1))))
				}
				slices.SortFunc(ms, func(a, b ClassifiedMapping) int { return int(a.Start) - int(b.Start) })
				r := rssOfMappings(ms)
				s.sample(t0.Add(time.Duration(i)*time.Minute), ms, &r)
				if len(s.suspects) == 0 || s.suspects[0].Certainty != LeakSignificant {
					continue
				}
				sus := s.suspects[0]
				if leaking := i - flat + 1; leaking > 10 {
					t.Fatalf("significant only after %d leaking readings", leaking)
				}
				if rate, want := sus.GrowthPerSecond, float64(2<<20)/60; rate < want*0.9 || rate > want*1.1 {
					t.Errorf("rate %.0f B/s, the leak's is %.0f", rate, want)
				}
				if want := t0.Add(time.Duration(flat-1) * time.Minute); !sus.Since.Equal(want) {
					t.Errorf("since %v, want the last flat reading %v", sus.Since, want)
				}
				t.Logf("after %d leaking readings: %s", i-flat+1, sus.Headline)
				return
			}
			t.Fatal("never significant")
		})
	}
}
