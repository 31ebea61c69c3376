package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/pprof/profile"
)

// TestHeapTopChargesOwnCode: a heap sample is charged to the service's first frame, not to
// runtime.mallocgc or a library; memdiag's own memory is one line, named as such; a service
// handler run under memdiag's middleware is the service's.
func TestHeapTopChargesOwnCode(t *testing.T) {
	fn := func(id uint64, name, file string, line int64) *profile.Location {
		return &profile.Location{ID: id, Line: []profile.Line{{Function: &profile.Function{ID: id, Name: name, Filename: file}, Line: line}}}
	}
	malloc := fn(1, "runtime.mallocgc", "malloc.go", 1)
	growslice := fn(2, "runtime.growslice", "slice.go", 1)
	appFn := fn(3, "main.cache.put", "/svc/cache.go", 42)
	lib := fn(4, "encoding/json.Marshal", "encode.go", 1)
	ring := fn(5, "github.com/memdiag/memdiag/runtimediag.newHistoryRing", "history.go", 36)
	mw := fn(6, "github.com/memdiag/memdiag/middleware.(*instrumented).ServeHTTP", "instrument.go", 9)
	handler := fn(7, "example.com/svc/api.(*Server).handle", "/svc/api/server.go", 77)
	p := &profile.Profile{
		SampleType: []*profile.ValueType{{Type: "inuse_objects", Unit: "count"}, {Type: "inuse_space", Unit: "bytes"}},
		Period:     512 << 10,
		Sample: []*profile.Sample{
			{Location: []*profile.Location{malloc, growslice, appFn}, Value: []int64{10, 8 << 20}},
			{Location: []*profile.Location{malloc, ring}, Value: []int64{1, 2 << 20}},
			{Location: []*profile.Location{malloc, lib, handler, mw}, Value: []int64{3, 1 << 20}},
			{Location: []*profile.Location{malloc, fn(8, "runtime.allocm", "proc.go", 3)}, Value: []int64{1, 512 << 10}},
		},
	}
	var out bytes.Buffer
	if err := writeHeapTop(&out, p, 10); err != nil {
		t.Fatal(err)
	}
	got := out.String()
	for _, want := range []string{
		"main.cache.put", "/svc/cache.go:42",
		"memdiag itself",
		"example.com/svc/api.(*Server).handle", "/svc/api/server.go:77",
		"runtime.allocm",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("heap top lacks %q:\n%s", want, got)
		}
	}
	for _, never := range []string{"runtime.mallocgc", "runtime.growslice", "newHistoryRing", "encoding/json.Marshal", "instrumented"} {
		if strings.Contains(got, never) {
			t.Errorf("heap top charges a sample to %q:\n%s", never, got)
		}
	}
}
