package runtimediag

import (
	"context"
	"github.com/memdiag/memdiag/runtimediag/rssattr"
	"testing"
)

// TestPointRSSMatchesEstimate: the tick's allocation-free category figures are Estimate's, before
// and after a full classification.
func TestPointRSSMatchesEstimate(t *testing.T) {
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	a := rssattr.NewAttributor()
	for _, classify := range []bool{false, true} {
		if classify {
			if _, err := measure(a, c.Full(context.Background())); err != nil {
				t.Fatal(err)
			}
		}
		s := c.Cheap()
		est := estimate(a, s)
		in := rssCheapReading(s)
		var got [rssattr.NumCategories]uint64
		if classified := a.EstimateBytes(&in, &got); classified != classify {
			t.Errorf("classified %v, want %v", classified, classify)
		}
		for i, cat := range est.Categories {
			if cat.Name != rssattr.CategoryNames()[i] || (cat.Method != MethodNotMeasured && cat.Bytes != got[i]) {
				t.Errorf("classified %v: %s is %d in Estimate, %d at the tick", classify, cat.Name, cat.Bytes, got[i])
			}
		}
	}
}
