package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memdiag/memdiag/middleware"
	"github.com/memdiag/memdiag/runtimediag"
)

// treeServer serves a real memdiag tree at the default prefix, and nothing elsewhere.
func treeServer(t *testing.T) *httptest.Server {
	t.Helper()
	mon, err := runtimediag.NewMonitor(runtimediag.WithTickInterval(time.Second), runtimediag.WithFullInterval(0), runtimediag.WithLogInterval(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	tree, err := middleware.NewHandler(mon)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(defaultTree, tree)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestStackAndHeap fetches the goroutine dump and the in-use heap from a real tree, and checks
// that each command taking a URL says what to mount when nothing is mounted there.
func TestStackAndHeap(t *testing.T) {
	srv := treeServer(t)
	saved := filepath.Join(t.TempDir(), "heap.pb.gz")
	for _, tc := range []struct {
		name   string
		args   []string
		exit   int
		stdout []string
		stderr string
	}{
		{"stack", []string{"stack", srv.URL}, 0, []string{"goroutine 1 [", "TestStackAndHeap"}, ""},
		{"stack-grouped", []string{"stack", "--debug=1", srv.URL + defaultTree}, 0, []string{"goroutine profile: total "}, ""},
		{"heap", []string{"heap", "--top=5", strings.TrimPrefix(srv.URL, "http://")}, 0, []string{"in-use heap: ", "IN-USE", "FUNCTION"}, ""},
		{"heap-saved", []string{"heap", "-o", saved, srv.URL}, 0, []string{"saved the in-use heap profile to " + saved}, ""},
		{"stack-bad-debug", []string{"stack", "--debug=0", srv.URL}, 2, nil, "--debug 0: must be 1 or 2"},
		{"heap-bad-top", []string{"heap", "--top=0", srv.URL}, 2, nil, "--top 0"},
		{"stack-not-mounted", []string{"stack", srv.URL + "/elsewhere/"}, 1, nil, `the memdiag tree is not mounted there; mount it in the service with mux.Handle("/debug/memdiag/", middleware.Handler(mon))`},
		{"heap-not-mounted", []string{"heap", srv.URL + "/elsewhere"}, 1, nil, "not found: " + srv.URL + "/elsewhere/pprof/heap: the memdiag tree is not mounted there; mount it"},
		{"whatif-not-mounted", []string{"whatif", srv.URL + "/elsewhere/"}, 1, nil, "not mounted there; mount it in the service"},
		{"watch-not-mounted", []string{"watch", "--count=1", srv.URL + "/elsewhere/"}, 1, []string{"not mounted there; mount it in the service"}, ""},
		{"help-stack", []string{"help", "stack"}, 0, []string{"usage: memdiag stack", "stops the service's world"}, ""},
		{"help-heap", []string{"help", "heap"}, 0, []string{"usage: memdiag heap", "--gc"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(tc.args, &stdout, &stderr); got != tc.exit {
				t.Fatalf("exit %d, want %d\nstdout:\n%.2000s\nstderr:\n%s", got, tc.exit, stdout.String(), stderr.String())
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%.2000s", want, stdout.String())
				}
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr.String())
			}
		})
	}
	if fi, err := os.Stat(saved); err != nil || fi.Size() == 0 {
		t.Errorf("saved profile: %v", err)
	}
}
