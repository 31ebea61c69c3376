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

// TestServiceLogsSnapshots runs the README's main command in-process for a few intervals and checks
// that it listens on loopback, drives its own load and logs cheap and full snapshots with real
// numbers.
func TestServiceLogsSnapshots(t *testing.T) {
	var out syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", "127.0.0.1:0", "-interval", "200ms", "-full-every", "3", "-load-rps", "100"}, &out)
	}()
	deadline := time.After(30 * time.Second)
	for !(strings.Contains(out.String(), `"memdiag full snapshot"`) && strings.Count(out.String(), `"memdiag snapshot"`) >= 2) {
		select {
		case err := <-done:
			t.Fatalf("service stopped early: %v\n%s", err, out.String())
		case <-deadline:
			t.Fatalf("no snapshot logs after 30s:\n%s", out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("shutdown: %v", err)
	}

	var sawListen, sawCheap, sawFull bool
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		switch rec["msg"] {
		case "service listening":
			sawListen = strings.HasPrefix(rec["url"].(string), "http://127.0.0.1:")
		case "memdiag snapshot", "memdiag full snapshot":
			m, ok := rec["memdiag"].(map[string]any)
			if !ok {
				t.Fatalf("snapshot log without the memdiag object: %q", line)
			}
			if m["go_total_bytes"].(float64) <= 0 || m["goroutines"].(float64) <= 0 {
				t.Errorf("snapshot numbers look unread: %q", line)
			}
			if rec["msg"] == "memdiag full snapshot" {
				sawFull = true
				if rec["mappings"].(float64) < 10 || rec["threads"].(float64) < 1 {
					t.Errorf("full snapshot without mappings or threads: %q", line)
				}
			} else {
				sawCheap = true
			}
		}
	}
	if !sawListen || !sawCheap || !sawFull {
		t.Errorf("listen=%v cheap=%v full=%v\n%s", sawListen, sawCheap, sawFull, out.String())
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
