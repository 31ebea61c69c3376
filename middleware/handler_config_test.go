package middleware

import (
	"net/http"
	"strings"
	"testing"
)

// TestHandlerMisconfigured: NewHandler refuses a nil Monitor, a bad prefix and an Instrument
// option at construction, naming what is wrong; Handler, given the same, answers its own tree with
// a 500 that names it, and the application's other routes are untouched.
func TestHandlerMisconfigured(t *testing.T) {
	mon := newTestMonitor(t)
	for name, tc := range map[string]struct {
		nilMon bool
		opts   []Option
		want   []string
	}{
		"nil Monitor":       {true, nil, []string{"nil Monitor"}},
		"relative prefix":   {false, []Option{WithPrefix("internal")}, []string{"WithPrefix", `"internal"`}},
		"instrument option": {false, []Option{WithMaxRoutes(5)}, []string{"WithMaxRoutes", "Instrument", "Handler"}},
		"route func":        {false, []Option{WithRouteFunc(func(*http.Request) string { return "x" })}, []string{"WithRouteFunc"}},
		"pprof labels":      {false, []Option{WithPprofLabels()}, []string{"WithPprofLabels"}},
	} {
		t.Run(name, func(t *testing.T) {
			m := mon
			if tc.nilMon {
				m = nil
			}
			_, err := NewHandler(m, tc.opts...)
			if err == nil {
				t.Fatal("NewHandler accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not name %s", err, w)
				}
			}
			mux := http.NewServeMux()
			mux.Handle("/debug/memdiag/", Handler(m, tc.opts...))
			mux.HandleFunc("/app", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) })
			w := serve(mux, "GET", "/debug/memdiag/report.json", "")
			if w.Code != http.StatusInternalServerError || !strings.Contains(w.Body.String(), tc.want[0]) {
				t.Errorf("the tree answered %d %q, want 500 naming %s", w.Code, w.Body.String(), tc.want[0])
			}
			if w := serve(mux, "GET", "/app", ""); w.Code != http.StatusTeapot {
				t.Errorf("the application's route answered %d", w.Code)
			}
		})
	}
}

// TestHandlerWrongPrefixSaysWhich: mounted under another prefix without WithPrefix, the tree's
// 404 names the prefix it expects and the option that changes it.
func TestHandlerWrongPrefixSaysWhich(t *testing.T) {
	mon := newTestMonitor(t)
	mux := http.NewServeMux()
	mux.Handle("/internal/memdiag/", Handler(mon))
	w := serve(mux, "GET", "/internal/memdiag/report.json", "")
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), `"/debug/memdiag/"`) || !strings.Contains(w.Body.String(), "WithPrefix") {
		t.Errorf("wrong prefix: %d %q, want a 404 naming /debug/memdiag/ and WithPrefix", w.Code, w.Body.String())
	}
	// Mounted where it expects, an unknown endpoint is a plain 404.
	h, err := NewHandler(mon, WithPrefix("/internal/memdiag/"))
	if err != nil {
		t.Fatal(err)
	}
	rec := serve(h, "GET", "/internal/memdiag/nope", "")
	if rec.Code != http.StatusNotFound || strings.Contains(rec.Body.String(), "prefix") {
		t.Errorf("unknown endpoint under the right prefix: %d %q", rec.Code, rec.Body.String())
	}
}
