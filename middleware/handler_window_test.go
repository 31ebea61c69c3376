package middleware

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// TestReportWindowParam asks report.json, report.txt and the page for the Monitor's window and
// for a requested one: every surface says which window it shows.
func TestReportWindowParam(t *testing.T) {
	mon := newTestMonitor(t, runtimediag.WithTickInterval(10*time.Millisecond), runtimediag.WithFullInterval(100*time.Millisecond))
	h := newTestTree(t, mon)
	deadline := time.Now().Add(20 * time.Second)
	// A reading every 20 ms (a fifth of the full interval): twelve reach back past 200 ms.
	for mon.Stats().WindowReadings < 12 {
		if time.Now().After(deadline) {
			t.Fatal("no twelve window readings in 20 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, tc := range []struct {
		query, source string
	}{
		{"", runtimediag.WindowFullInterval},
		{"?window=200ms", runtimediag.WindowRequested},
	} {
		w := serve(h, "GET", testPrefix+"report.json"+tc.query, "")
		if w.Code != 200 {
			t.Fatalf("report.json%s: %d %s", tc.query, w.Code, w.Body)
		}
		var rep runtimediag.Report
		if err := json.Unmarshal(w.Body.Bytes(), &rep); err != nil {
			t.Fatal(err)
		}
		if rep.Window == nil || rep.Window.Source != tc.source || rep.Window.Seconds <= 0 || rep.MemdiagSelf == nil {
			t.Fatalf("report.json%s: window %+v, memdiag_self %+v; want a %s window", tc.query, rep.Window, rep.MemdiagSelf, tc.source)
		}
		if tc.source == runtimediag.WindowRequested && rep.Window.RequestedSeconds != 0.2 {
			t.Errorf("requested_seconds = %v, want 0.2", rep.Window.RequestedSeconds)
		}
		// A reading may come between the two requests: the text names its own window's source.
		how := map[string]string{runtimediag.WindowFullInterval: "the last full interval", runtimediag.WindowRequested: "asked for 200 ms"}[tc.source]
		txt := serve(h, "GET", testPrefix+"report.txt"+tc.query, "").Body.String()
		if !strings.Contains(txt, "\nwindow ") || !strings.Contains(txt, how) || !strings.Contains(txt, "MEMDIAG ITSELF") {
			t.Errorf("report.txt%s lacks the window line or memdiag's own cost:\n%s", tc.query, txt)
		}
		page := serve(h, "GET", testPrefix+tc.query, "").Body.String()
		if !strings.Contains(page, `id="window"`) || !strings.Contains(page, `data-window-source="`+tc.source+`"`) || !strings.Contains(page, `id="memdiag-self"`) {
			t.Errorf("the page%s lacks the %s window or memdiag's own cost", tc.query, tc.source)
		}
	}
}

// BenchmarkReportJSON serves report.json. reused: from the Monitor's latest report, as polling
// clients within reportReuse of each other are served. fresh: a new report each time (taken
// with the timer stopped), so every answer renders its JSON. body-B is the answer's size; B/op
// against it is what serving costs beyond taking the report. The answer goes to a writer that
// counts and discards, as a connection's buffered writer would send it on.
func BenchmarkReportJSON(b *testing.B) {
	for _, fresh := range []bool{false, true} {
		name := "reused"
		if fresh {
			name = "fresh"
		}
		b.Run(name, func(b *testing.B) {
			mon := newTestMonitor(b)
			h := newTestTree(b, mon)
			if _, err := mon.Report(b.Context()); err != nil {
				b.Fatal(err)
			}
			req := httptest.NewRequest("GET", testPrefix+"report.json", nil)
			req.RemoteAddr = "127.0.0.1:40000"
			w := &countingWriter{h: http.Header{}}
			b.ReportAllocs()
			for b.Loop() {
				if _, rep := mon.Latest(); fresh || time.Since(rep.Time) > reportReuse/2 {
					b.StopTimer()
					if _, err := mon.Report(b.Context()); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				w.n, w.status = 0, 0
				clear(w.h)
				h.ServeHTTP(w, req)
				if w.status != http.StatusOK {
					b.Fatalf("status %d", w.status)
				}
			}
			b.ReportMetric(float64(w.n), "body-B")
		})
	}
}

// countingWriter is an http.ResponseWriter that counts the body and keeps nothing.
type countingWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *countingWriter) Header() http.Header { return w.h }
func (w *countingWriter) WriteHeader(s int)   { w.status = s }
func (w *countingWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}
