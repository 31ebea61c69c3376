package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/memdiag/memdiag/middleware"
	"github.com/memdiag/memdiag/runtimediag"
)

// TestGCAndSetGC runs a GC and sets GOGC through a tree that allows it, and checks the refusal
// of one that does not. Not parallel: setgc changes this process's GOGC (restored at the end).
func TestGCAndSetGC(t *testing.T) {
	mon, err := runtimediag.NewMonitor(runtimediag.WithTickInterval(time.Second), runtimediag.WithFullInterval(0), runtimediag.WithLogInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	tree, err := middleware.NewHandler(mon, middleware.WithRuntimeControl())
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(defaultTree, tree)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	off := treeServer(t)
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	for _, tc := range []struct {
		name   string
		args   []string
		exit   int
		stdout []string
		stderr string
	}{
		{"gc", []string{"gc", srv.URL}, 0, []string{"ran a full GC in ", "heap objects ", " -> "}, ""},
		{"setgc", []string{"setgc", srv.URL, "150"}, 0, []string{"GOGC 100 -> 150 (GOMEMLIMIT "}, ""},
		{"setgc-off", []string{"setgc", "--timeout=5s", srv.URL + defaultTree, "off"}, 0, []string{"GOGC 150 -> off"}, ""},
		{"gc-refused", []string{"gc", off.URL}, 1, nil, "forbidden: " + off.URL + defaultTree + "gc: gc changes the service's runtime, so it is off unless the service passes middleware.WithRuntimeControl()"},
		{"setgc-refused", []string{"setgc", off.URL, "50"}, 1, nil, "middleware.WithRuntimeControl()"},
		{"gc-not-mounted", []string{"gc", srv.URL + "/elsewhere/"}, 1, nil, "the memdiag tree is not mounted there; mount it"},
		{"setgc-zero", []string{"setgc", srv.URL, "0"}, 2, nil, `N "0": must be off (or -1, after --) or between 1 and 1000000`},
		{"setgc-minus-one", []string{"setgc", srv.URL, "--", "-1"}, 0, []string{"GOGC off -> off"}, ""},
		{"setgc-no-n", []string{"setgc", srv.URL}, 2, nil, "want 2 arguments (URL N), have 1"},
		{"help-setgc", []string{"help", "setgc"}, 0, []string{"usage: memdiag setgc", "WithRuntimeControl"}, ""},
	} {
		var stdout, stderr bytes.Buffer
		if got := run(tc.args, &stdout, &stderr); got != tc.exit {
			t.Fatalf("%s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", tc.name, got, tc.exit, stdout.String(), stderr.String())
		}
		for _, want := range tc.stdout {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("%s: stdout lacks %q:\n%s", tc.name, want, stdout.String())
			}
		}
		if !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%s: stderr lacks %q:\n%s", tc.name, tc.stderr, stderr.String())
		}
	}
	if now := debug.SetGCPercent(prev); now != -1 {
		t.Errorf("GOGC after setgc -1 is %d", now)
	}
}
