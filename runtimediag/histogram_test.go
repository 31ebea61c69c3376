package runtimediag

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHistogramQuantile(t *testing.T) {
	inf := math.Inf(1)
	h := Histogram{Counts: []uint64{0, 5, 4, 1}, Buckets: []float64{math.Inf(-1), 1, 2, 4, inf}}
	tests := []struct {
		q    float64
		want float64
	}{
		{0, 2}, {0.5, 2}, {0.51, 4}, {0.9, 4}, {0.95, 4}, {1, 4}, {-1, 2}, {2, 4},
	}
	for _, tt := range tests {
		if got := h.Quantile(tt.q); got != tt.want {
			t.Errorf("Quantile(%v) = %v, want %v", tt.q, got, tt.want)
		}
	}
	if got := h.Max(); got != 4 {
		t.Errorf("Max = %v, want 4 (the lower bound of the +Inf bucket)", got)
	}
	if got := h.Total(); got != 10 {
		t.Errorf("Total = %d, want 10", got)
	}
	if !math.IsNaN((Histogram{}).Quantile(0.5)) || !math.IsNaN((Histogram{}).Max()) {
		t.Error("an empty histogram must give NaN, not a number nobody measured")
	}
	bad := Histogram{Counts: []uint64{1}, Buckets: []float64{0}}
	if !math.IsNaN(bad.Quantile(0.5)) || !math.IsNaN(bad.Max()) {
		t.Error("a histogram with mismatched buckets must give NaN")
	}
}

func TestHistogramDelta(t *testing.T) {
	b := []float64{0, 1, 2, 3}
	cur := Histogram{Counts: []uint64{5, 7, 9}, Buckets: b}
	tests := []struct {
		name string
		prev Histogram
		want []uint64
	}{
		{"window", Histogram{Counts: []uint64{1, 7, 2}, Buckets: b}, []uint64{4, 0, 7}},
		{"no previous", Histogram{}, []uint64{5, 7, 9}},
		{"other buckets", Histogram{Counts: []uint64{1}, Buckets: b[:2]}, []uint64{5, 7, 9}},
		{"other buckets, as many", Histogram{Counts: []uint64{1, 1, 1}, Buckets: []float64{0, 10, 20, 30}}, []uint64{5, 7, 9}},
		{"same buckets, another slice", Histogram{Counts: []uint64{1, 7, 2}, Buckets: []float64{0, 1, 2, 3}}, []uint64{4, 0, 7}},
		{"went backwards (restart)", Histogram{Counts: []uint64{9, 0, 0}, Buckets: b}, []uint64{5, 7, 9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var dst Histogram
			cur.Delta(tt.prev, &dst)
			if diff := cmp.Diff(tt.want, dst.Counts); diff != "" {
				t.Errorf("Delta counts (-want +got):\n%s", diff)
			}
		})
	}
}
