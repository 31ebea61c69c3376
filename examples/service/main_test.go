package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for the logger and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServiceEndToEnd runs the README's main command in-process and checks what a newcomer is
// promised: it prints where to look, the page and the JSON report answer, the deliberate goroutine
// leak shows up as a finding within seconds, /metrics exports memdiag's series, the app routes are
// instrumented, and the Monitor logs summary lines with real numbers (docs/logging.md).
func TestServiceEndToEnd(t *testing.T) {
	var stdout, logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var runErr error
	start := time.Now()
	go func() {
		defer close(done)
		runErr = run(ctx, []string{"-addr", "127.0.0.1:0", "-debug-addr", "127.0.0.1:0", "-log-interval", "1s", "-full-interval", "2s", "-load-rps", "300"}, &stdout, &logs)
	}()
	defer func() {
		cancel()
		<-done
		if runErr != nil {
			t.Errorf("run: %v", runErr)
		}
	}()
	var base, dbg string
	waitFor(t, done, 10*time.Second, "the where-to-look lines", func() bool {
		base, dbg = whereToLook(stdout.String())
		return base != "" && dbg != "" && strings.Contains(stdout.String(), dbg+"/debug/memdiag/")
	})
	if base == dbg {
		t.Fatalf("the tree is served on the app's listener %s", base)
	}
	// The tree is not on the app's listener, where a proxy would forward.
	if resp, err := http.Get(base + "/debug/memdiag/report.json"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the app's listener answers /debug/memdiag/ with %s, want 404", resp.Status)
		}
	}

	var rep struct {
		RSS struct {
			ResidentBytes uint64 `json:"resident_bytes"`
		} `json:"rss"`
		Findings []struct{ Code string } `json:"findings"`
		Routes   []struct {
			Route    string `json:"route"`
			Requests uint64 `json:"requests"`
		} `json:"routes"`
	}
	var found time.Duration
	waitFor(t, done, 30*time.Second, "the goroutines_growing finding in /report.json", func() bool {
		body := get(t, dbg+"/debug/memdiag/report.json", "application/json")
		if err := json.Unmarshal(body, &rep); err != nil {
			t.Fatalf("report.json: %v", err)
		}
		for _, f := range rep.Findings {
			if f.Code == "goroutines_growing" {
				found = time.Since(start)
				return true
			}
		}
		return false
	})
	t.Logf("goroutines_growing reported %.1fs after start; resident %d bytes", found.Seconds(), rep.RSS.ResidentBytes)
	if rep.RSS.ResidentBytes == 0 {
		t.Error("report.json without resident bytes")
	}
	routes := map[string]uint64{}
	for _, r := range rep.Routes {
		routes[r.Route] = r.Requests
	}
	for _, r := range []string{"GET /api/hello", "GET /api/sum/escaping", "GET /api/sum"} {
		if routes[r] == 0 {
			t.Errorf("route %q not instrumented: %v", r, routes)
		}
	}
	if page := string(get(t, dbg+"/debug/memdiag/", "text/html")); !strings.Contains(page, "goroutines_growing") {
		t.Error("the page does not show the finding report.json has")
	}
	if m := string(get(t, base+"/metrics", "text/plain")); !strings.Contains(m, "memdiag_resident_bytes ") || !strings.Contains(m, "go_goroutines ") {
		t.Error("/metrics lacks memdiag's or client_golang's series")
	}

	waitFor(t, done, 10*time.Second, "two summary lines", func() bool {
		return strings.Count(logs.String(), `"memdiag memory"`) >= 2
	})
	var sawListen, sawSummary bool
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		switch rec["msg"] {
		case "service listening":
			sawListen = rec["url"] == base+"/"
		case "memdiag memory":
			sawSummary = true
			if rec["go_total_bytes"].(float64) <= 0 || rec["goroutines"].(float64) <= 0 || rec["resident_bytes"].(float64) <= 0 {
				t.Errorf("summary numbers look unread: %q", line)
			}
		}
	}
	if !sawListen || !sawSummary {
		t.Errorf("listen=%v summary=%v\n%s", sawListen, sawSummary, logs.String())
	}
}

// whereToLook reads the app's and the tree's base URLs from what the service prints: the URL after
// "service on" and the one after "loopback listener".
func whereToLook(out string) (app, tree string) {
	f := strings.Fields(out)
	for i := 0; i+1 < len(f); i++ {
		switch {
		case f[i] == "on" && i > 0 && f[i-1] == "service" && strings.HasPrefix(f[i+1], "http://127.0.0.1:"):
			app = f[i+1]
		case f[i] == "listener" && strings.HasPrefix(f[i+1], "http://127.0.0.1:"):
			tree = f[i+1]
		}
	}
	return app, tree
}

func waitFor(t *testing.T, done <-chan struct{}, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(d)
	for !cond() {
		select {
		case <-done:
			t.Fatalf("service stopped while waiting for %s", what)
		case <-deadline:
			t.Fatalf("no %s after %s", what, d)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func get(t *testing.T, url, wantType string) []byte {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), wantType) {
		t.Fatalf("GET %s: %s %s: %.200s", url, resp.Status, resp.Header.Get("Content-Type"), body)
	}
	return body
}

func TestServiceRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-log-interval", "1ms"},
		{"-log-interval", "500ms"},
		{"-full-interval", "10ms"},
		{"-load-rps", "0"},
		{"-load-rps", "100000"},
		{"-no-such-flag"},
		{"extra"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out, &out); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}

// TestSumFixAllocatesNothing is the escape-analysis fix the example documents: the escaping sum
// allocates once per call, the fixed one never.
func TestSumFixAllocatesNothing(t *testing.T) {
	if a := testing.AllocsPerRun(100, func() { sumEscaping(50) }); a != 1 {
		t.Errorf("sumEscaping: %v allocs per call, want 1", a)
	}
	if a := testing.AllocsPerRun(100, func() { sumOnStack(50) }); a != 0 {
		t.Errorf("sumOnStack: %v allocs per call, want 0", a)
	}
}
