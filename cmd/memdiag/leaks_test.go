package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/memdiag/memdiag/middleware"
	"github.com/memdiag/memdiag/runtimediag"
)

// leaksServer serves a real Monitor's tree at the default prefix, a tree whose Monitor tracks no
// leaks at /off/, and something that is not memdiag at /other/.
func leaksServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	for prefix, opts := range map[string][]runtimediag.Option{
		"/debug/memdiag/":     nil,
		"/off/debug/memdiag/": {runtimediag.WithLeakTracking(false)},
	} {
		mon, err := runtimediag.NewMonitor(append(opts, runtimediag.WithTickInterval(50*time.Millisecond), runtimediag.WithFullInterval(0), runtimediag.WithLogInterval(0))...)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { mon.Close() })
		if err := mon.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		h, err := middleware.NewHandler(mon, middleware.WithPrefix(prefix))
		if err != nil {
			t.Fatal(err)
		}
		mux.Handle(prefix, h)
	}
	mux.HandleFunc("GET /named/leaks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"suspects":[{"kind":"heap_site","certainty":"significant","p_value":0.0004,"unit":"bytes",
			"growth_per_second":17476,"current":50331648,"since":"2026-12-05T06:31:02Z",
			"culprit":{"function":"main.remember","file":"/src/main.go","line":18,"stack":["main.remember /src/main.go:18","main.main /src/main.go:32"]},
			"series":[{"time":"2026-12-05T06:31:02Z","value":1048576}],"headline":"heap retained at main.remember grows",
			"advice":"evict","finding":"heap_growing_at_site"}]}`))
	})
	mux.HandleFunc("GET /other/leaks.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"rss":{}}`))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestLeaksCommand(t *testing.T) {
	srv := leaksServer(t)
	for _, tc := range []struct {
		name   string
		args   []string
		exit   int
		stdout []string
		stderr string
	}{
		{"text", []string{"leaks", srv.URL}, 0, []string{"WHAT GROWS ("}, ""},
		{"tree url", []string{"leaks", srv.URL + "/debug/memdiag/"}, 0, []string{"WHAT GROWS ("}, ""},
		{"json", []string{"leaks", "--json", srv.URL}, 0, []string{`"suspects": [`}, ""},
		{"named", []string{"leaks", srv.URL + "/named/leaks.json"}, 0, []string{"WHAT GROWS (1 suspect;", "[significant p=0.0004] heap_site  +1024 KiB/min  now 48.0 MiB",
			"culprit main.remember /src/main.go:18", "main.main /src/main.go:32", "evict"}, ""},
		{"tracking off", []string{"leaks", srv.URL + "/off/debug/memdiag/"}, 1, nil, "leak tracking off"},
		{"not memdiag", []string{"leaks", srv.URL + "/other/leaks.json"}, 1, nil, `no "suspects" array`},
		{"no tree", []string{"leaks", srv.URL + "/nothing/"}, 1, nil, "not found"},
		{"unreachable", []string{"leaks", "http://" + closedPort(t)}, 1, nil, "memdiag leaks: cannot reach"},
		{"no-url", []string{"leaks"}, 2, nil, "want one URL"},
		{"bad timeout", []string{"leaks", "--timeout", "0s", srv.URL}, 2, nil, "must be positive"},
		{"help", []string{"help", "leaks"}, 0, []string{"usage: memdiag leaks", "exit status:"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if got := run(tc.args, &stdout, &stderr); got != tc.exit {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tc.exit, stdout.String(), stderr.String())
			}
			for _, want := range tc.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr lacks %q:\n%s", tc.stderr, stderr.String())
			}
		})
	}
}
