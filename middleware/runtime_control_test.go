package middleware

import (
	"encoding/json"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"testing"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/memdiag/memdiag/runtimediag"
)

func postControl(h *tree, path, contentType, payload string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", testPrefix+path, strings.NewReader(payload))
	r.Host, r.RemoteAddr = testHost, "127.0.0.1:40000"
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestRuntimeControl: gc and setgc are refused without WithRuntimeControl, refuse what a page of
// another origin could send, and with it run a GC and set GOGC, each use logged at Info.
// Not parallel: setgc changes the process's GOGC (restored before the test ends).
func TestRuntimeControl(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	mon := newTestMonitor(t, runtimediag.WithLogger(zap.New(core)))
	off := newTestTree(t, mon)
	on := newTestTree(t, mon, WithRuntimeControl())
	const js = "application/json"
	for _, tc := range []struct {
		name, path, contentType, payload string
		header                           []string
		off                              bool
		want                             int
		contains                         string
	}{
		{name: "gc off", path: "gc", contentType: js, payload: `{}`, off: true, want: 403, contains: "middleware.WithRuntimeControl()"},
		{name: "setgc off", path: "setgc", contentType: js, payload: `{"gogc":50}`, off: true, want: 403, contains: "middleware.WithRuntimeControl()"},
		{name: "gc form post", path: "gc", contentType: "application/x-www-form-urlencoded", payload: "a=1", want: 415, contains: "content-type:"},
		{name: "setgc no-cors fetch", path: "setgc", contentType: "text/plain", payload: `{"gogc":50}`, want: 415, contains: "content-type:"},
		{name: "gc no content type", path: "gc", payload: `{}`, want: 415, contains: "content-type:"},
		{name: "gc cross-site", path: "gc", contentType: js, payload: `{}`, header: []string{"Sec-Fetch-Site", "cross-site"}, want: 403, contains: "cross-site"},
		{name: "setgc foreign origin", path: "setgc", contentType: js, payload: `{"gogc":50}`, header: []string{"Origin", "http://evil.example"}, want: 403, contains: "origin"},
		{name: "setgc zero", path: "setgc", contentType: js, payload: `{"gogc":0}`, want: 400, contains: "gogc: must be -1"},
		{name: "setgc below -1", path: "setgc", contentType: js, payload: `{"gogc":-2}`, want: 400, contains: "gogc:"},
		{name: "setgc huge", path: "setgc", contentType: js, payload: `{"gogc":99999999999999999999}`, want: 400, contains: "body:"},
		{name: "setgc string", path: "setgc", contentType: js, payload: `{"gogc":"100"}`, want: 400, contains: "body:"},
		{name: "setgc missing", path: "setgc", contentType: js, payload: `{}`, want: 400, contains: "gogc: missing"},
		{name: "setgc empty body", path: "setgc", contentType: js, payload: ``, want: 400, contains: "body: empty"},
		{name: "setgc unknown field", path: "setgc", contentType: js, payload: `{"gogc":50,"memlimit":1}`, want: 400, contains: "body:"},
		{name: "setgc two objects", path: "setgc", contentType: js, payload: `{"gogc":50} {}`, want: 400, contains: "body: must hold one JSON object"},
		{name: "setgc markup", path: "setgc", contentType: js, payload: `{"<b>":1}`, want: 400, contains: `\x3cb\x3e`},
		{name: "setgc too long", path: "setgc", contentType: js, payload: `{"gogc":50` + strings.Repeat(" ", 2000) + `}`, want: 413, contains: "body: longer than"},
		{name: "gc not an object", path: "gc", contentType: js, payload: `[]`, want: 400, contains: "body:"},
		{name: "gc query", path: "gc?now=1", contentType: js, payload: `{}`, want: 400, contains: "unknown parameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := on
			if tc.off {
				h = off
			}
			w := postControl(h, tc.path, tc.contentType, tc.payload, tc.header...)
			checkHygiene(t, w)
			if b := body(t, w); w.Code != tc.want || !strings.Contains(b, tc.contains) || strings.Contains(b, "<") {
				t.Errorf("status %d, want %d containing %q: %s", w.Code, tc.want, tc.contains, b)
			}
		})
	}
	if w := serve(on, "GET", testPrefix+"gc", ""); w.Code != 405 || w.Header().Get("Allow") != "POST" {
		t.Errorf("GET gc: %d Allow %q", w.Code, w.Header().Get("Allow"))
	}
	if n := logs.FilterMessageSnippet("over HTTP").Len(); n != 0 {
		t.Fatalf("%d uses logged before any was served", n)
	}

	w := postControl(on, "gc", js, `{}`)
	var gc gcResult
	if err := json.Unmarshal(w.Body.Bytes(), &gc); w.Code != 200 || err != nil || gc.GCCycles < 1 || gc.After.HeapObjectsBytes == 0 {
		t.Errorf("gc: %d %v %s", w.Code, err, w.Body.String())
	}
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	w = postControl(on, "setgc", js, `{"gogc":150}`)
	var set setGCResult
	if err := json.Unmarshal(w.Body.Bytes(), &set); w.Code != 200 || err != nil || set.Before.GOGC != 100 || set.After.GOGC != 150 {
		t.Errorf("setgc: %d %v %s", w.Code, err, w.Body.String())
	}
	if now := debug.SetGCPercent(prev); now != 150 {
		t.Errorf("GOGC after setgc 150 is %d", now)
	}
	if l := logs.FilterMessageSnippet("(POST gc)").All(); len(l) != 1 || l[0].Level != zapcore.InfoLevel {
		t.Errorf("gc logged %v", l)
	}
	if l := logs.FilterMessageSnippet("(POST setgc)").FilterField(zap.Int("new_gogc", 150)).Len(); l != 1 {
		t.Errorf("setgc logged %d lines with new_gogc 150", l)
	}
}
