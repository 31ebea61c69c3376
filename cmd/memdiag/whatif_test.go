package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// whatifServer serves the recorded report with a what_if section added: predictions at /, a
// refusal at /refused/, and none at /none/.
func whatifServer(t *testing.T) *httptest.Server {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", "report-b.json"))
	if err != nil {
		t.Fatal(err)
	}
	with := func(whatIf string) []byte {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatal(err)
		}
		if whatIf != "" {
			m["what_if"] = json.RawMessage(whatIf)
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	predicted := with(`{"assumptions":"steady allocation rate","current":{"setting":"GOGC=100","gogc":100,"gc_cycles_per_second":4,"gc_cpu_fraction":0.118,"gc_mark_cpu_fraction":0.1,"gc_assist_cpu_fraction":0.015,"gc_pause_cpu_fraction":0.003},
		"predictions":[{"setting":"GOGC=200","gogc":200,"gc_cycles_per_second":2,"gc_cpu_fraction":0.061,"gc_mark_cpu_fraction":0.05,"gc_assist_cpu_fraction":0.008,"gc_pause_cpu_fraction":0.002,"heap_goal_bytes":500000000,"peak_heap_bytes":492830720,"peak_resident_bytes":629145600,"container_headroom_bytes":188743680},
		{"setting":"GOGC=off","gogc":-1,"gc_cycles_per_second":0,"gc_cpu_fraction":0,"gc_mark_cpu_fraction":0,"gc_assist_cpu_fraction":0,"gc_pause_cpu_fraction":0,"heap_unbounded":true}]}`)
	refused := with(`{"refused":[{"reason":"live_heap_unsteady","detail":"live heap went from 10 to 20 MiB"}],"assumptions":"steady","current":{"setting":"GOGC=100","gogc":100,"gc_cycles_per_second":4,"gc_cpu_fraction":0.1,"gc_mark_cpu_fraction":0.1,"gc_assist_cpu_fraction":0,"gc_pause_cpu_fraction":0}}`)
	none := with("")
	mux := http.NewServeMux()
	for prefix, body := range map[string][]byte{"/": predicted, "/refused/": refused, "/none/": none} {
		mux.HandleFunc("GET "+prefix+"debug/memdiag/report.json", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.Write(body)
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestWhatif(t *testing.T) {
	srv := whatifServer(t)
	for _, tc := range []struct {
		name   string
		args   []string
		exit   int
		stdout []string
		stderr string
	}{
		{"table", []string{"whatif", srv.URL}, 0, []string{"WHAT IF", "GOGC=100 (now, measured)", "11.8%", "GOGC=200", "6.1%", "470 MiB", "600 MiB", "180 MiB", "unbounded"}, ""},
		{"json", []string{"whatif", "--json", srv.URL}, 0, []string{`"predictions"`, `"peak_heap_bytes": 492830720`}, ""},
		{"refused", []string{"whatif", srv.URL + "/refused/debug/memdiag/"}, 0, []string{"no prediction: live_heap_unsteady: live heap went from 10 to 20 MiB"}, ""},
		{"no-window", []string{"whatif", srv.URL + "/none/debug/memdiag/"}, 0, []string{"no what-if table: the report has no window"}, ""},
		{"unreachable", []string{"whatif", "http://" + closedPort(t)}, 1, nil, "memdiag whatif: cannot reach"},
		{"no-url", []string{"whatif"}, 2, nil, "want one URL"},
		{"help", []string{"help", "whatif"}, 0, []string{"usage: memdiag whatif", "exit status:"}, ""},
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
