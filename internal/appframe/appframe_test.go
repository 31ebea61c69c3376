package appframe

import "testing"

func TestPackage(t *testing.T) {
	for fn, want := range map[string]string{
		"strings.genSplit":                          "strings",
		"runtime.growslice":                         "runtime",
		"github.com/a/b.(*T).M":                     "github.com/a/b",
		"example.com/x.F[...].func1":                "example.com/x",
		"internal/runtime/maps.(*Map).putSlotSmall": "internal/runtime/maps",
		"encoding/json.Marshal":                     "encoding/json",
		"main.main":                                 "main",
	} {
		if got := Package(fn); got != want {
			t.Errorf("Package(%q) = %q, want %q", fn, got, want)
		}
	}
}

func TestOwn(t *testing.T) {
	mod := Matcher{Modules: []string{"example.com/app"}}
	any := Matcher{}
	for _, tc := range []struct {
		fn       string
		mod, any bool
	}{
		{"example.com/app.F", true, true},
		{"example.com/app/sub.(*T).M", true, true},
		{"example.com/application.F", false, true},
		{"strings.genSplit", false, false},
		{"runtime.growslice", false, false},
		{"main.main", false, false},
		{"github.com/other/lib.F", false, true},
	} {
		if got := mod.Own(tc.fn); got != tc.mod {
			t.Errorf("module matcher: Own(%q) = %v", tc.fn, got)
		}
		if got := any.Own(tc.fn); got != tc.any {
			t.Errorf("no-module matcher: Own(%q) = %v", tc.fn, got)
		}
	}
	fns := []string{"runtime.growslice", "strings.genSplit", "example.com/app.Parse", "example.com/app.Bench"}
	if i := mod.Pick(len(fns), func(i int) string { return fns[i] }); i != 2 {
		t.Errorf("Pick = %d, want 2", i)
	}
}

// TestInService: a running service's own frames are its main package, its own modules and
// third-party ones; not the standard library, not memdiag (but memdiag's examples and tests).
func TestInService(t *testing.T) {
	for _, c := range []struct {
		fn, file string
		want     bool
	}{
		{"main.handler", "/app/main.go", true},
		{"main.main", "/tmp/go-build1/b001/_testmain.go", false},
		{"example.com/app/store.(*Cache).Put", "/app/store/cache.go", true},
		{"github.com/lib/pq.(*conn).recv", "/mod/pq/conn.go", true},
		{"strings.genSplit", "/go/src/strings/strings.go", false},
		{"net/http.(*conn).serve", "/go/src/net/http/server.go", false},
		{"runtime.growslice", "/go/src/runtime/slice.go", false},
		{Module + "/runtimediag.(*Monitor).tick", "/m/runtimediag/monitor.go", false},
		{Module + "/runtimediag.splitForTest", "/m/runtimediag/analyze_test.go", true},
		{Module + "/examples/service.handler", "/m/examples/service/main.go", true},
		{Module + "examplesX.F", "/m/x.go", true}, // another module that only shares the prefix
	} {
		if got := InService(c.fn, c.file); got != c.want {
			t.Errorf("InService(%q, %q) = %v, want %v", c.fn, c.file, got, c.want)
		}
	}
}
