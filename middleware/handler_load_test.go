package middleware

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/memdiag/memdiag/internal/alonetest"
	"github.com/memdiag/memdiag/runtimediag"
)

// TestLoad runs 32 clients for 10 s against every endpoint of the tree and an instrumented
// application handler, with the Monitor ticking every 50 ms and taking a full report every second.
// It passes when no answer is a 5xx, the only 4xx are the deliberate 429s (profiles, the event stream's subscriber bound), no goroutine
// outlives the test, and the live heap afterwards is within 64 MiB of where it started.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("10 s of load")
	}
	if alonetest.RunExclusive(t) { // 32 clients load every core: beside other children its requests time out
		return
	}
	const (
		clients   = 32
		duration  = 10 * time.Second
		heapSlack = 64 << 20
	)
	before := liveHeapAfterGC()
	leakOpts := goleak.IgnoreCurrent()

	mon := newTestMonitor(t, runtimediag.WithFullInterval(time.Second))
	mux := http.NewServeMux()
	mux.Handle(testPrefix, Handler(mon))
	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 16<<10) // something to attribute
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "ok %d\n", len(buf))
	})
	mux.Handle("GET /app/{id}", Instrument(mon)(app))
	srv := httptest.NewServer(mux)

	targets := []string{
		testPrefix, testPrefix + "report.json", testPrefix + "report.txt", testPrefix + "history.json",
		testPrefix + "maps", testPrefix + "maps?format=json", testPrefix + "proc", testPrefix + "proc?format=text",
		testPrefix + "allocs?seconds=1", testPrefix + "allocs?seconds=1&format=json", testPrefix + "fgprof?seconds=1&format=folded",
		testPrefix + "captures", testPrefix + "captures?format=text", testPrefix + "events", "/app/1", "/app/2",
	}
	type counts struct{ ok, tooMany, other, errs atomic.Int64 }
	stats := make([]counts, len(targets))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	stop := time.Now().Add(duration)
	var wg sync.WaitGroup
	var bad sync.Map
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := c; time.Now().Before(stop); i++ {
				k := i % len(targets)
				timeout := 5 * time.Second
				if strings.HasSuffix(targets[k], "events") {
					timeout = 300 * time.Millisecond // a stream: read it briefly
				}
				ctx, cancel := context.WithTimeout(context.Background(), timeout)
				req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+targets[k], nil)
				resp, err := client.Do(req)
				if err != nil {
					cancel()
					stats[k].errs.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				cancel()
				switch code := resp.StatusCode; {
				case code == http.StatusOK:
					stats[k].ok.Add(1)
				case code == http.StatusTooManyRequests && (strings.Contains(targets[k], "seconds=") || strings.HasSuffix(targets[k], "events")):
					// deliberate: one profile per kind, and the page's stream bounds its subscribers
					stats[k].tooMany.Add(1)
				default:
					stats[k].other.Add(1)
					bad.Store(targets[k], code)
				}
			}
		}()
	}
	wg.Wait()
	srv.Close()
	client.CloseIdleConnections()
	mon.Close()

	// Profiles over seconds are single-flight per kind: allocs?seconds=1 and its JSON variant take
	// turns for one slot, and which variant wins it is scheduling. A kind must have answered 200.
	okByPath := map[string]int64{}
	for k, target := range targets {
		path, _, _ := strings.Cut(target, "?")
		okByPath[path] += stats[k].ok.Load()
	}
	for k, target := range targets {
		s := &stats[k]
		t.Logf("%-45s 200: %5d  429: %4d  other: %d  client errors: %d", target, s.ok.Load(), s.tooMany.Load(), s.other.Load(), s.errs.Load())
		path, _, _ := strings.Cut(target, "?")
		if s.ok.Load() == 0 && (!strings.Contains(target, "seconds=") || okByPath[path] == 0) {
			t.Errorf("%s: never answered 200", target)
		}
		if !strings.HasSuffix(target, "events") && s.errs.Load() > 0 {
			t.Errorf("%s: %d requests failed at the client (timeouts)", target, s.errs.Load())
		}
	}
	bad.Range(func(k, v any) bool {
		t.Errorf("%s answered %d", k, v)
		return true
	})
	goleak.VerifyNone(t, leakOpts)
	after := liveHeapAfterGC()
	t.Logf("live heap before %d B, after %d B", before, after)
	if after > before+heapSlack {
		t.Errorf("live heap grew from %d to %d bytes, more than %d", before, after, heapSlack)
	}
}

// liveHeapAfterGC is the heap's live objects after a full collection, from runtime/metrics.
func liveHeapAfterGC() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}
