package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/memdiag/memdiag/runtimediag/reporttext"
)

// reportServer serves the recorded report the way a memdiag tree does, and the answers a CLI
// meets when the URL is wrong: an HTML page, an empty body, a refusal, a slow service.
func reportServer(t *testing.T) *httptest.Server {
	t.Helper()
	report, err := os.ReadFile(filepath.Join("testdata", "report-b.json"))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/memdiag/report.json", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != "application/json" {
			http.Error(w, "want Accept: application/json", http.StatusNotAcceptable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(report)
	})
	mux.HandleFunc("GET /custom/tree/report.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(report)
	})
	// A tree whose window readings reach back 5 minutes: --window 5m is served, others refused
	// as the tree refuses them.
	mux.HandleFunc("GET /windowed/report.json", func(w http.ResponseWriter, r *http.Request) {
		if got := r.URL.Query().Get("window"); got != "5m0s" {
			http.Error(w, "window: window out of range: "+got+" is longer than the Monitor's readings reach back", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(report)
	})
	mux.HandleFunc("GET /html/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte("<!doctype html><html><body>Welcome</body></html>"))
	})
	mux.HandleFunc("GET /otherjson/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"status":"ok"}`))
	})
	mux.HandleFunc("GET /empty/", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /forbidden/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "forbidden", http.StatusForbidden)
	})
	mux.HandleFunc("GET /proxied/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "forbidden: the request came through a proxy (it carries the header \"Via\") \x1b[31m(docs/security.md)", http.StatusForbidden)
	})
	mux.HandleFunc("GET /broken/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "boom", http.StatusInternalServerError)
	})
	mux.HandleFunc("GET /slow/", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// closedPort returns an address nothing listens on.
func closedPort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

func TestReport(t *testing.T) {
	srv := reportServer(t)
	host := strings.TrimPrefix(srv.URL, "http://")
	for _, tc := range []struct {
		name   string
		args   []string
		exit   int
		stdout []string
		stderr string
	}{
		{"base-url", []string{"report", srv.URL}, 0, []string{"RESIDENT", "go_heap_objects", "FINDINGS (1)", "large_allocations_dominate", "TOP ALLOCATION SITES"}, ""},
		{"no-scheme", []string{"report", host}, 0, []string{"RESIDENT"}, ""},
		{"tree", []string{"report", srv.URL + "/debug/memdiag/"}, 0, []string{"RESIDENT"}, ""},
		{"tree-no-slash", []string{"report", srv.URL + "/custom/tree"}, 0, []string{"RESIDENT"}, ""},
		{"report-json", []string{"report", srv.URL + "/debug/memdiag/report.json"}, 0, []string{"RESIDENT"}, ""},
		{"report-txt", []string{"report", srv.URL + "/debug/memdiag/report.txt"}, 0, []string{"RESIDENT"}, ""},
		{"json", []string{"report", "--json", srv.URL}, 0, []string{`"resident_bytes"`, `"categories"`}, ""},
		{"window", []string{"report", "--window", "5m", srv.URL + "/windowed/"}, 0, []string{"RESIDENT"}, ""},
		{"window-refused", []string{"report", "--window=9h", srv.URL + "/windowed/"}, 1, nil, "window out of range: 9h0m0s"},
		{"window-negative", []string{"report", "--window=-1m", srv.URL}, 2, nil, "--window -1m0s: must be positive"},
		{"html", []string{"report", srv.URL + "/html/"}, 1, nil, `not a memdiag report at ` + srv.URL + `/html/report.json (got Content-Type "text/html; charset=utf-8", first bytes "<!doctype html>`},
		{"other-json", []string{"report", srv.URL + "/otherjson/"}, 1, nil, `no "rss" object`},
		{"empty", []string{"report", srv.URL + "/empty/"}, 1, nil, "first bytes (empty body)"},
		{"forbidden", []string{"report", srv.URL + "/forbidden/"}, 1, nil, "forbidden: " + srv.URL + "/forbidden/report.json: the tree only serves loopback callers unless an authorizer is configured (docs/security.md)"},
		{"forbidden-why", []string{"report", srv.URL + "/proxied/"}, 1, nil, "forbidden: " + srv.URL + `/proxied/report.json: the request came through a proxy (it carries the header "Via") [31m(docs/security.md)`},
		{"not-found", []string{"report", srv.URL + "/nothing/here/"}, 1, nil, "not found: " + srv.URL + "/nothing/here/report.json: the memdiag tree is not mounted there; mount it in the service with mux.Handle(\"/debug/memdiag/\", middleware.Handler(mon))"},
		{"server-error", []string{"report", srv.URL + "/broken/"}, 1, nil, "HTTP 500"},
		{"slow", []string{"report", "--timeout=200ms", srv.URL + "/slow/"}, 1, nil, "no answer in time"},
		{"refused", []string{"report", "http://" + closedPort(t)}, 1, nil, "connection refused (is the service running? is the tree mounted at /debug/memdiag/?)"},
		{"no-url", []string{"report"}, 2, nil, "want one URL"},
		{"bad-scheme", []string{"report", "ftp://x/"}, 2, nil, "scheme must be http or https"},
		{"bad-timeout", []string{"report", "--timeout=0s", srv.URL}, 2, nil, "--timeout"},
		{"help", []string{"help", "report"}, 0, []string{"usage: memdiag report", "exit status:", "-timeout"}, ""},
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

// TestReportText holds the text rendering of the recorded report to a golden file.
func TestReportText(t *testing.T) {
	rep, err := readReportFile(filepath.Join("testdata", "report-b.json"))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := reporttext.Write(&out, rep, ""); err != nil {
		t.Fatal(err)
	}
	golden(t, "report-b.txt", out.Bytes())
}

func TestWatch(t *testing.T) {
	srv := reportServer(t)
	var stdout, stderr bytes.Buffer
	if got := run([]string{"watch", "--count=2", "--interval=100ms", srv.URL}, &stdout, &stderr); got != 0 {
		t.Fatalf("exit %d\n%s%s", got, stdout.String(), stderr.String())
	}
	if n := strings.Count(stdout.String(), "memdiag report "); n != 2 {
		t.Errorf("%d reports, want 2:\n%s", n, stdout.String())
	}
	if n := strings.Count(stdout.String(), separator); n != 1 {
		t.Errorf("%d separators, want 1 between two reports", n)
	}
	if strings.Contains(stdout.String(), "\x1b[") {
		t.Error("escape sequences written to a non-terminal")
	}

	// A failed fetch is shown and watching goes on; the status is the last fetch's.
	stdout.Reset()
	if got := run([]string{"watch", "--count=2", "--interval=100ms", "http://" + closedPort(t)}, &stdout, &stderr); got != 1 {
		t.Errorf("exit %d, want 1", got)
	}
	if n := strings.Count(stdout.String(), "connection refused"); n != 2 {
		t.Errorf("%d errors shown, want 2:\n%s", n, stdout.String())
	}

	// Interrupted: watch returns at once with the status so far.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	stdout.Reset()
	if got := watch(ctx, &watchConfig{interval: time.Hour, timeout: time.Second}, srv.URL+"/debug/memdiag/report.json", true, &stdout); got != 0 {
		t.Errorf("interrupted watch: exit %d", got)
	}

	for _, args := range [][]string{{"watch", "--interval=1ms", srv.URL}, {"watch", "--count=-1", srv.URL}, {"watch"}} {
		if got := run(args, &stdout, &stderr); got != 2 {
			t.Errorf("%v: exit %d, want 2", args, got)
		}
	}
}

func TestDiff(t *testing.T) {
	a, b := filepath.Join("testdata", "report-a.json"), filepath.Join("testdata", "report-b.json")
	limiter := filepath.Join("..", "..", "runtimediag", "testdata", "analyze", "golden", "gc_limiter.report.json")
	notReport := filepath.Join(t.TempDir(), "other.json")
	os.WriteFile(notReport, []byte(`{"status":"ok"}`), 0o644)
	for _, tc := range []struct {
		name   string
		args   []string
		exit   int
		stdout []string
		stderr string
	}{
		{"recorded", []string{"diff", a, b}, 0, []string{"RSS", "go_heap_objects", "EFFICIENCY", "alloc_bytes_per_second", "FINDINGS", "TOP ALLOCATION SITES", "record_test.go", "still     [info] large_allocations_dominate", "pause_gc.p99  between 4.19 and 5.24 ms"}, ""},
		{"findings-appear", []string{"diff", b, limiter}, 0, []string{"appeared  [critical] gc_cpu_limiter_engaged", "cleared   [info] large_allocations_dominate"}, ""},
		{"findings-clear", []string{"diff", limiter, b}, 0, []string{"cleared   [critical] gc_cpu_limiter_engaged"}, ""},
		{"missing-file", []string{"diff", a, "nope.json"}, 2, nil, "nope.json"},
		{"not-a-report", []string{"diff", notReport, b}, 2, nil, notReport + ": not a memdiag report"},
		{"one-file", []string{"diff", a}, 2, nil, "want A.json B.json"},
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

func TestMaps(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if runtime.GOOS != "linux" {
		if got := run([]string{"maps", "self"}, &stdout, &stderr); got != 1 || !strings.Contains(stderr.String(), "needs Linux") {
			t.Errorf("exit %d, stderr %s", got, stderr.String())
		}
		return
	}
	t.Run("self", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if got := run([]string{"maps", "self"}, &stdout, &stderr); got != 0 {
			t.Fatalf("exit %d: %s", got, stderr.String())
		}
		for _, want := range []string{"ADDRESS", "PERMS", "CLASS", "go_heap", "binary", "[stack]", "total", "64 MiB-aligned runs"} {
			if !strings.Contains(stdout.String(), want) {
				t.Errorf("output lacks %q:\n%s", want, stdout.String())
			}
		}
	})
	t.Run("self-json", func(t *testing.T) {
		var stdout, stderr bytes.Buffer
		if got := run([]string{"maps", "--json", "self"}, &stdout, &stderr); got != 0 {
			t.Fatalf("exit %d: %s", got, stderr.String())
		}
		var res mapsResult
		if err := json.Unmarshal(stdout.Bytes(), &res); err != nil {
			t.Fatal(err)
		}
		if res.PID != os.Getpid() || !res.HaveSizes || len(res.Mappings) == 0 || res.ResidentBytes == 0 || len(res.Arenas) == 0 {
			t.Errorf("pid %d, sizes %v, %d mappings, %d resident, arenas %v", res.PID, res.HaveSizes, len(res.Mappings), res.ResidentBytes, res.Arenas)
		}
	})
	t.Run("pid1", func(t *testing.T) {
		// PID 1 is someone else's unless this runs as root in a container; either answer is fine,
		// as long as a refusal says what to do.
		var stdout, stderr bytes.Buffer
		switch got := run([]string{"maps", "--summary", "1"}, &stdout, &stderr); got {
		case 0:
			if !strings.Contains(stdout.String(), "process 1 ") {
				t.Errorf("output:\n%s", stdout.String())
			}
		case 1:
			if want := "cannot read /proc/1/smaps: permission denied (run as the same user or root)"; !strings.Contains(stderr.String(), want) {
				t.Errorf("stderr %q lacks %q", stderr.String(), want)
			}
		default:
			t.Errorf("exit %d: %s", got, stderr.String())
		}
	})
	for _, tc := range []struct {
		args   []string
		exit   int
		stderr string
	}{
		{[]string{"maps"}, 2, "want one PID"},
		{[]string{"maps", "0"}, 2, "not a process ID"},
		{[]string{"maps", "notapid"}, 2, "not a process ID"},
		{[]string{"maps", "2147483646"}, 1, "no process 2147483646"},
	} {
		stderr.Reset()
		if got := run(tc.args, &stdout, &stderr); got != tc.exit || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, got, tc.exit, stderr.String(), tc.stderr)
		}
	}
}

// TestInstalled installs the command as a user would (go install, into a temporary GOBIN) and
// runs memdiag report against a served report: main's exit status and the whole path through
// the binary, offline.
func TestInstalled(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	offline(t)
	gobin := t.TempDir()
	t.Setenv("GOBIN", gobin)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "install", ".").CombinedOutput(); err != nil {
		t.Fatalf("go install: %v\n%s", err, out)
	}
	bin := filepath.Join(gobin, "memdiag")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	srv := reportServer(t)
	out, err := exec.CommandContext(ctx, bin, "report", srv.URL).CombinedOutput()
	if err != nil {
		t.Fatalf("memdiag report: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "RESIDENT") || !strings.Contains(string(out), "go_heap_objects") {
		t.Errorf("memdiag report printed:\n%s", out)
	}
	err = exec.CommandContext(ctx, bin, "report", srv.URL+"/html/").Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("memdiag report on an HTML page: %v, want exit status 1", err)
	}
}

// TestDiffUnread: a figure that one report did not read (JSON null) prints as "unread" on that
// side and has no change; it is never read as a 0 with a delta of the whole other figure.
func TestDiffUnread(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "report-b.json"))
	if err != nil {
		t.Fatal(err)
	}
	var top map[string]any
	if err := json.Unmarshal(raw, &top); err != nil {
		t.Fatal(err)
	}
	rss := top["rss"].(map[string]any)
	rss["resident_bytes"], rss["unexplained_bytes"] = nil, nil
	var nulled string
	for _, c := range rss["categories"].([]any) {
		c := c.(map[string]any)
		if n, _ := c["bytes"].(float64); n > 0 && nulled == "" {
			nulled = c["name"].(string)
			c["bytes"], c["method"] = nil, "not measured"
		}
	}
	eff := top["efficiency"].(map[string]any)
	eff["open_fds"], eff["cgroup_usage_bytes"] = nil, nil
	unread, _ := json.Marshal(top)
	p := filepath.Join(t.TempDir(), "unread.json")
	if err := os.WriteFile(p, unread, 0o644); err != nil {
		t.Fatal(err)
	}
	b := filepath.Join("testdata", "report-b.json")
	for _, order := range [][2]string{{b, p}, {p, b}} {
		var stdout, stderr bytes.Buffer
		if got := run([]string{"diff", order[0], order[1]}, &stdout, &stderr); got != 0 {
			t.Fatalf("exit %d: %s", got, stderr.String())
		}
		lines := map[string]string{}
		for _, l := range strings.Split(stdout.String(), "\n") {
			if f := strings.Fields(l); len(f) > 0 {
				if _, seen := lines[f[0]]; !seen {
					lines[f[0]] = l
				}
			}
		}
		for _, name := range []string{"resident_bytes", "unexplained_bytes", nulled, "open_fds", "cgroup_usage_bytes"} {
			l, ok := lines[name]
			if !ok {
				t.Errorf("%v: no %s line:\n%s", order, name, stdout.String())
				continue
			}
			if !strings.Contains(l, "unread") || strings.Contains(l, "%") || strings.Contains(l, "+") {
				t.Errorf("%v: %s line shows a change or no \"unread\": %q", order, name, l)
			}
		}
	}
}
