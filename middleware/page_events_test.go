package middleware

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// fakeTicks is a Monitor's Latest as the stream sees it: a point whose time the test advances.
type fakeTicks struct{ n atomic.Int64 }

func (f *fakeTicks) latest() runtimediag.Point {
	n := f.n.Load()
	if n == 0 {
		return runtimediag.Point{}
	}
	return runtimediag.Point{Time: time.Unix(1_700_000_000+n, 0).UTC(), ResidentBytes: uint64(n) << 20}
}

func newEventServer(t *testing.T, ev *eventStream) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		setCommonHeaders(w.Header())
		if err := ev.serve(w, r); err != nil {
			writeError(w, err)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

// sseReader reads a stream's lines as they come.
type sseReader struct {
	lines chan string
}

func openStream(t *testing.T, ctx context.Context, url string) (*http.Response, *sseReader) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rd := &sseReader{lines: make(chan string, 64)}
	go func() {
		defer close(rd.lines)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			rd.lines <- sc.Text()
		}
	}()
	return resp, rd
}

// next returns the next non-blank line, or "" when the stream ended or nothing came within d.
func (s *sseReader) next(d time.Duration) (string, bool) {
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-s.lines:
			if !ok {
				return "", false
			}
			if l != "" {
				return l, true
			}
		case <-timeout:
			return "", true
		}
	}
}

func TestEventStream(t *testing.T) {
	var ticks fakeTicks
	ev := &eventStream{latest: ticks.latest, poll: 10 * time.Millisecond, lifetime: 5 * time.Second,
		heartbeat: 150 * time.Millisecond, clients: make(chan struct{}, 2)}
	srv := newEventServer(t, ev)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, rd := openStream(t, ctx, srv.URL)
	defer resp.Body.Close()

	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
		t.Errorf("Content-Type = %q", ct)
	}
	for _, h := range []string{"Cache-Control", "X-Content-Type-Options"} {
		if resp.Header.Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if l, _ := rd.next(time.Second); l != "retry: 2000" {
		t.Fatalf("first line %q, want the retry interval", l)
	}
	// No tick yet: nothing but heartbeats.
	if l, _ := rd.next(time.Second); l != ": heartbeat" {
		t.Fatalf("before any tick got %q, want a heartbeat comment", l)
	}
	// Each new tick is one event; a tick seen twice is sent once.
	for n := int64(1); n <= 3; n++ {
		ticks.n.Store(n)
		var l string
		for l, _ = rd.next(time.Second); l == ": heartbeat"; l, _ = rd.next(time.Second) {
		}
		data, ok := strings.CutPrefix(l, "data: ")
		if !ok {
			t.Fatalf("tick %d: got %q, want a data line", n, l)
		}
		var p runtimediag.Point
		if err := json.Unmarshal([]byte(data), &p); err != nil {
			t.Fatalf("tick %d: %v in %q", n, err, data)
		}
		if want := ticks.latest(); !p.Time.Equal(want.Time) || p.ResidentBytes != want.ResidentBytes {
			t.Errorf("tick %d: got %+v, want %+v", n, p, want)
		}
		if l, _ := rd.next(50 * time.Millisecond); strings.HasPrefix(l, "data:") {
			t.Errorf("tick %d sent twice: %q", n, l)
		}
	}
}

func TestEventStreamBounds(t *testing.T) {
	var ticks fakeTicks
	ticks.n.Store(1)
	ev := &eventStream{latest: ticks.latest, poll: 10 * time.Millisecond, lifetime: 300 * time.Millisecond,
		heartbeat: time.Hour, clients: make(chan struct{}, 2)}
	srv := newEventServer(t, ev)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	t.Run("lifetime", func(t *testing.T) {
		start := time.Now()
		resp, rd := openStream(t, ctx, srv.URL)
		defer resp.Body.Close()
		for {
			if _, open := rd.next(2 * time.Second); !open {
				break
			}
			if time.Since(start) > 2*time.Second {
				t.Fatal("stream outlived its lifetime")
			}
		}
		if d := time.Since(start); d < 250*time.Millisecond {
			t.Errorf("stream ended after %s, before its lifetime", d)
		}
	})

	t.Run("too many clients", func(t *testing.T) {
		var open []*http.Response
		for range 2 {
			resp, rd := openStream(t, ctx, srv.URL)
			open = append(open, resp)
			if l, _ := rd.next(time.Second); l != "retry: 2000" {
				t.Fatalf("stream did not start: %q", l)
			}
		}
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
			t.Errorf("third stream: %d, Retry-After %q; want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		for _, r := range open {
			r.Body.Close()
		}
	})

	t.Run("client gone frees its slot", func(t *testing.T) {
		deadline := time.Now().Add(2 * time.Second)
		for len(ev.clients) > 0 && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := len(ev.clients); n != 0 {
			t.Errorf("%d slots still held after the clients left", n)
		}
	})
}

func TestPollInterval(t *testing.T) {
	for _, tc := range []struct{ tick, want time.Duration }{
		{10 * time.Millisecond, 20 * time.Millisecond},
		{200 * time.Millisecond, 100 * time.Millisecond},
		{time.Second, 500 * time.Millisecond},
		{time.Minute, time.Second},
	} {
		if got := pollInterval(tc.tick); got != tc.want {
			t.Errorf("pollInterval(%s) = %s, want %s", tc.tick, got, tc.want)
		}
	}
}

// TestPageEndpoints runs the page and the stream through the whole tree with a real Monitor.
func TestPageEndpoints(t *testing.T) {
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)

	w := serve(h, http.MethodGet, testPrefix, "")
	checkHygiene(t, w)
	if w.Code != http.StatusOK {
		t.Fatalf("page: %d %s", w.Code, body(t, w))
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Errorf("page Content-Type = %q", ct)
	}
	csp := w.Header().Get("Content-Security-Policy")
	page := body(t, w)
	nonce := between(csp, "script-src 'nonce-", "'")
	if nonce == "" || !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("Content-Security-Policy %q: want default-src 'none' and a script nonce", csp)
	}
	if n := strings.Count(page, `nonce="`+nonce+`"`); n != 2 {
		t.Errorf("the response's nonce is on %d elements, want the style and the script", n)
	}
	if !strings.Contains(page, "data-resident-bytes=") {
		t.Errorf("page has no resident figure: the full report was not taken")
	}
	w2 := serve(h, http.MethodGet, testPrefix, "")
	if csp2 := w2.Header().Get("Content-Security-Policy"); csp2 == csp {
		t.Errorf("two responses share one nonce")
	}

	for _, target := range []string{testPrefix + "?x=1", testPrefix + "events?x=1"} {
		if w := serve(h, http.MethodGet, target, ""); w.Code != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400 for an unknown parameter", target, w.Code)
		}
	}
	if w := serve(h, http.MethodGet, testPrefix+"events", "192.0.2.1:1234"); w.Code != http.StatusForbidden {
		t.Errorf("events from a remote caller: %d, want 403", w.Code)
	}

	srv := httptest.NewServer(h)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	resp, rd := openStream(t, ctx, srv.URL+testPrefix+"events")
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("events: %d", resp.StatusCode)
	}
	var times []string
	for len(times) < 2 {
		l, open := rd.next(2 * time.Second)
		if !open || l == "" {
			t.Fatalf("events: stream ended or stalled after %d points", len(times))
		}
		if d, ok := strings.CutPrefix(l, "data: "); ok {
			var p runtimediag.Point
			if err := json.Unmarshal([]byte(d), &p); err != nil {
				t.Fatal(err)
			}
			times = append(times, p.Time.String())
		}
	}
	if times[0] == times[1] {
		t.Errorf("two events for one tick: %v", times)
	}
}

func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, to)
	return v
}
