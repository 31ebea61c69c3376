package main

import (
	"bytes"
	"context"
	"encoding/json"
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

// TestServiceLogsMemory runs the README's main command in-process for a few intervals and checks
// that it listens on loopback, drives its own load, and that its Monitor logs summary lines with
// real numbers and, once a full report has been taken, its age and findings (docs/logging.md).
func TestServiceLogsMemory(t *testing.T) {
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-interval", "200ms", "-full-every", "3", "-load-rps", "100"}, &out)
	}()
	deadline := time.After(30 * time.Second)
	for !(strings.Count(out.String(), `"memdiag memory"`) >= 2 && strings.Contains(out.String(), `"report_age_seconds":0.`)) {
		select {
		case err := <-done:
			t.Fatalf("service stopped early: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("no summary lines with a full report after 30s:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	var sawListen, sawSummary, sawReport bool
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		switch rec["msg"] {
		case "service listening":
			sawListen = strings.HasPrefix(rec["url"].(string), "http://127.0.0.1:")
		case "memdiag memory":
			sawSummary = true
			if rec["go_total_bytes"].(float64) <= 0 || rec["goroutines"].(float64) <= 0 || rec["resident_bytes"].(float64) <= 0 {
				t.Errorf("summary numbers look unread: %q", line)
			}
			if cats, ok := rec["top_categories"].([]any); !ok || len(cats) == 0 {
				t.Errorf("summary without top_categories: %q", line)
			}
			if _, ok := rec["findings"].([]any); !ok {
				t.Errorf("summary without a findings array: %q", line)
			}
			if rec["report_age_seconds"].(float64) >= 0 {
				sawReport = true
			}
		case "memdiag finding":
			if rec["code"] == "" || rec["transition"] == "" {
				t.Errorf("finding line without code or transition: %q", line)
			}
		}
	}
	if !sawListen || !sawSummary || !sawReport {
		t.Errorf("listen=%v summary=%v full report=%v\n%s", sawListen, sawSummary, sawReport, out.String())
	}
}

func TestServiceRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-interval", "1ms"},
		{"-full-every", "-1"},
		{"-load-rps", "0"},
		{"-load-rps", "100000"},
		{"-no-such-flag"},
	} {
		var out bytes.Buffer
		if err := run(context.Background(), args, &out); err == nil {
			t.Errorf("%v: no error", args)
		}
	}
}
