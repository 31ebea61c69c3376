package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/memdiag/memdiag/internal/alonetest"
	"github.com/memdiag/memdiag/runtimediag"
)

// busyAllocMux serves GET /busy with a handler that allocates in a loop for 20 ms.
func busyAllocMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /busy", func(w http.ResponseWriter, _ *http.Request) {
		var keep [][]byte
		for deadline := time.Now().Add(20 * time.Millisecond); time.Now().Before(deadline); {
			for range 1000 {
				keep = append(keep[:0], make([]byte, 256))
			}
		}
		_, _ = w.Write([]byte{byte(len(keep))})
	})
	return mux
}

// loadWhile sends requests to h from two goroutines until the returned stop is called.
func loadWhile(h http.Handler) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-done:
					return
				default:
				}
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/busy", nil))
			}
		}()
	}
	return func() { close(done); wg.Wait() }
}

// TestCPUProfileFillsRouteCPU is the requirement end to end: a CPU profile taken through
// /cpu while an instrumented, labelled route allocates gives that route CPU and allocator time in
// /report.json, and the bytes served are the profile the split was made from.
func TestCPUProfileFillsRouteCPU(t *testing.T) {
	if alonetest.Run(t) {
		return
	}
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	stop := loadWhile(instrument(t, mon, busyAllocMux(), WithPprofLabels()))
	w := serve(h, "GET", testPrefix+"cpu?seconds=1", "")
	stop()
	checkHygiene(t, w)
	prof := body(t, w)
	if w.Code != http.StatusOK {
		t.Fatalf("cpu: %d %s", w.Code, prof)
	}
	if ct, cd := w.Header().Get("Content-Type"), w.Header().Get("Content-Disposition"); ct != "application/octet-stream" || !strings.Contains(cd, "cpu.pb.gz") {
		t.Errorf("Content-Type %q, Content-Disposition %q", ct, cd)
	}
	if note := w.Header().Get("X-Memdiag-Note"); note != "" {
		t.Errorf("X-Memdiag-Note = %q with labels on", note)
	}
	served, err := CPUByRoute(strings.NewReader(prof))
	if err != nil {
		t.Fatalf("the body is not a CPU profile: %v", err)
	}

	w = serve(h, "GET", testPrefix+"report.json", "")
	var rep runtimediag.Report
	if err := json.Unmarshal([]byte(body(t, w)), &rep); err != nil {
		t.Fatal(err)
	}
	var got *runtimediag.RouteCPU
	for _, s := range rep.Routes {
		if s.Route == "GET /busy" {
			got = s.CPU
		}
	}
	t.Logf("GET /busy in /report.json: %+v", got)
	// ProfileSeconds is the profile's own duration, and runtime/pprof starts that clock in the
	// goroutine that writes the profile: on a loaded machine it starts late, and a 1 s profile
	// read 0.898 s in one CI run. Half the request is the bound that still tells a truncated one.
	if got == nil || got.CPUSeconds <= 0 || got.AllocCPUSeconds <= 0 || got.ProfileSeconds < 0.5 {
		t.Fatalf("route CPU after a 1 s profile under load: %+v", got)
	}
	if want := served["GET /busy"]; *got != want {
		t.Errorf("report's route CPU %+v differs from the served profile's %+v", *got, want)
	}
}

// TestCPUProfileWithoutLabels: the profile is still served, the routes' CPU stays empty, and the
// response says why.
func TestCPUProfileWithoutLabels(t *testing.T) {
	if alonetest.Run(t) {
		return
	}
	for _, tc := range []struct {
		name       string
		instrument bool
		note       string
	}{
		{"labels off", true, "WithPprofLabels"},
		{"no Instrument", false, "no Instrument shares this Monitor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mon := newTestMonitor(t)
			h := newTestTree(t, mon)
			var stop func()
			if tc.instrument {
				stop = loadWhile(instrument(t, mon, busyAllocMux()))
			} else {
				stop = loadWhile(busyAllocMux())
			}
			w := serve(h, "GET", testPrefix+"cpu?seconds=1", "")
			stop()
			checkHygiene(t, w)
			if b := body(t, w); w.Code != http.StatusOK || !strings.Contains(w.Header().Get("X-Memdiag-Note"), tc.note) {
				t.Fatalf("%d, X-Memdiag-Note %q, want %q: %.200s", w.Code, w.Header().Get("X-Memdiag-Note"), tc.note, b)
			}
			for _, s := range mon.Routes() {
				if s.CPU != nil {
					t.Errorf("route %q has CPU %+v from an unlabelled profile", s.Route, s.CPU)
				}
			}
		})
	}
}

// TestCPUProfileConflict: a CPU profile started elsewhere in the process (net/http/pprof, here the
// test) makes /cpu answer 409 with the runtime's reason, at once, and frees its slot.
func TestCPUProfileConflict(t *testing.T) {
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	if err := pprof.StartCPUProfile(io.Discard); err != nil {
		t.Skip("a CPU profile is already running:", err)
	}
	start := time.Now()
	w := serve(h, "GET", testPrefix+"cpu?seconds=5", "")
	pprof.StopCPUProfile()
	checkHygiene(t, w)
	b := body(t, w)
	if w.Code != http.StatusConflict || !strings.Contains(b, "another CPU profile is running") {
		t.Fatalf("%d %q, want 409 naming the other profile", w.Code, b)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("took %s to refuse", el)
	}
	if h.cpu.isBusy() {
		t.Error("the slot stayed taken after a 409")
	}
}

// TestServerSideDeadline: a deadline put on the request by the service (a middleware's
// context.WithTimeout) ends a profile early; its client is still there and gets 503 with the
// reason, not an empty 200. A client that went away (context cancelled) gets nothing written.
func TestServerSideDeadline(t *testing.T) {
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	for _, kind := range []string{"allocs", "fgprof", "cpu"} {
		t.Run(kind, func(t *testing.T) {
			r := newRequest("GET", testPrefix+kind+"?seconds=5", "127.0.0.1:1")
			ctx, cancel := context.WithTimeout(r.Context(), 100*time.Millisecond)
			defer cancel()
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r.WithContext(ctx))
			checkHygiene(t, w)
			b := body(t, w)
			if w.Code != http.StatusServiceUnavailable || !strings.Contains(b, "deadline exceeded") {
				t.Errorf("%d %q, want 503 naming the deadline", w.Code, b)
			}
			if cd := w.Header().Get("Content-Disposition"); cd != "" {
				t.Errorf("error response keeps Content-Disposition %q", cd)
			}

			r = newRequest("GET", testPrefix+kind+"?seconds=5", "127.0.0.1:1")
			ctx, cancel = context.WithCancel(r.Context())
			time.AfterFunc(50*time.Millisecond, cancel)
			w = httptest.NewRecorder()
			h.ServeHTTP(w, r.WithContext(ctx))
			if w.Body.Len() != 0 || w.Code != http.StatusOK { // the recorder's 200 is "nothing written"
				t.Errorf("client gone: %d %q written", w.Code, w.Body.String())
			}
		})
	}
	// The same through a real server and http.TimeoutHandler, whose own 503 is what is sent.
	srv := httptest.NewServer(http.TimeoutHandler(h, 100*time.Millisecond, "timed out\n"))
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + testPrefix + "cpu?seconds=5")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !bytes.Contains(b, []byte("timed out")) {
		t.Errorf("under TimeoutHandler: %d %q", resp.StatusCode, b)
	}
	// A context error from a step, with the request's context alive, is not silence either.
	w := httptest.NewRecorder()
	writeRequestError(w, newRequest("GET", "/", "127.0.0.1:1"), context.DeadlineExceeded)
	if w.Code != http.StatusServiceUnavailable {
		t.Errorf("a step's deadline: %d, want 503", w.Code)
	}
}
