package pprofstack

import (
	"errors"
	"testing"

	"github.com/google/pprof/profile"

	"github.com/memdiag/memdiag/internal/appframe"
)

func loc(id uint64, fn, file string, line int64) *profile.Location {
	return &profile.Location{ID: id, Line: []profile.Line{{Function: &profile.Function{Name: fn, Filename: file}, Line: line}}}
}

func TestAllocSites(t *testing.T) {
	split := []*profile.Location{loc(1, "strings.genSplit", "strings.go", 10), loc(2, "example.com/app.parse", "parse.go", 7)}
	own := []*profile.Location{loc(3, "example.com/app.build", "build.go", 3)}
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "alloc_objects"}, {Type: "alloc_space"}, {Type: "inuse_objects"}, {Type: "inuse_space"}},
		Sample: []*profile.Sample{
			{Location: split, Value: []int64{2, 64, 0, 0}},
			{Location: own, Value: []int64{1, 16, 0, 0}},
			{Location: split, Value: []int64{4, 128, 0, 0}},
			{Location: own, Value: []int64{9}}, // too few values: left out
		},
	}
	got, err := AllocSites(p, appframe.Matcher{Modules: []string{"example.com/app"}}, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := []Site{
		{Stack: appframe.Stack{Leaf: appframe.Frame{Function: "strings.genSplit", File: "strings.go", Line: 10},
			App: appframe.Frame{Function: "example.com/app.parse", File: "parse.go", Line: 7}}, Objects: 3, Bytes: 96},
		{Stack: appframe.Stack{Leaf: appframe.Frame{Function: "example.com/app.build", File: "build.go", Line: 3},
			App: appframe.Frame{Function: "example.com/app.build", File: "build.go", Line: 3}}, Objects: 0.5, Bytes: 8},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d sites %+v, want %d", len(got), got, len(want))
	}
	for i := range want {
		if got[i].App != want[i].App || got[i].Leaf != want[i].Leaf || got[i].Objects != want[i].Objects || got[i].Bytes != want[i].Bytes {
			t.Errorf("site %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestAllocSitesNotAllocProfile(t *testing.T) {
	p := &profile.Profile{SampleType: []*profile.ValueType{{Type: "inuse_objects"}, {Type: "inuse_space"}}}
	if _, err := AllocSites(p, appframe.Matcher{}, 1); !errors.Is(err, ErrNotAllocProfile) {
		t.Fatalf("err = %v, want ErrNotAllocProfile", err)
	}
}

func TestSampleIndex(t *testing.T) {
	p := &profile.Profile{SampleType: []*profile.ValueType{
		{Type: "samples", Unit: "count"}, {Type: "cpu", Unit: "nanoseconds"}, {Type: "inuse_space", Unit: "bytes"},
	}}
	for _, tt := range []struct {
		typ, unit string
		want      int
	}{
		{"cpu", "nanoseconds", 1}, {"cpu", "", 1}, {"cpu", "microseconds", -1},
		{"inuse_space", "", 2}, {"alloc_space", "", -1},
	} {
		if got := SampleIndex(p, tt.typ, tt.unit); got != tt.want {
			t.Errorf("SampleIndex(%q, %q) = %d, want %d", tt.typ, tt.unit, got, tt.want)
		}
	}
}
