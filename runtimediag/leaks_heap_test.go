package runtimediag

import "testing"

// TestHeapChurn: one GC cycle of the site's mean allocation over the points, and nothing when
// they cannot say.
func TestHeapChurn(t *testing.T) {
	pt := func(alloc int64, cycles uint64) heapPoint { return heapPoint{alloc: alloc, cycles: cycles} }
	for _, c := range []struct {
		name string
		pts  []heapPoint
		want float64
	}{
		{"8 MiB a cycle", []heapPoint{pt(0, 10), pt(16<<20, 11), pt(40<<20, 15)}, 8 << 20},
		{"one point", []heapPoint{pt(0, 10)}, 0},
		{"no cycle passed", []heapPoint{pt(0, 10), pt(1<<20, 10)}, 0},
		{"no allocation counts", []heapPoint{pt(-1, 10), pt(-1, 12)}, 0},
		{"counts that went back (a new table)", []heapPoint{pt(5<<20, 10), pt(1<<20, 12)}, 0},
	} {
		if got := heapChurn(c.pts); got != c.want {
			t.Errorf("%s: heapChurn = %v, want %v", c.name, got, c.want)
		}
	}
}
