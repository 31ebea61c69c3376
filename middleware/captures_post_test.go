package middleware

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

func postCapture(h http.Handler, contentType, payload string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest("POST", testPrefix+"captures", strings.NewReader(payload))
	r.Host = testHost
	r.RemoteAddr = "127.0.0.1:40000"
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return record(h, r)
}

// TestPostCapture takes a capture over HTTP and refuses what a page of another origin could send.
func TestPostCapture(t *testing.T) {
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	for _, tc := range []struct {
		name, contentType, payload string
		header                     []string
		want                       int
		contains                   string
	}{
		{name: "form post", contentType: "application/x-www-form-urlencoded", payload: "reason=x", want: 415, contains: "Content-Type: application/json"},
		{name: "multipart form", contentType: "multipart/form-data; boundary=x", payload: "--x--", want: 415, contains: "content-type:"},
		{name: "no-cors fetch", contentType: "text/plain;charset=UTF-8", payload: `{"reason":"x"}`, want: 415, contains: "content-type:"},
		{name: "no content type", payload: `{}`, want: 415, contains: "content-type:"},
		{name: "json from a foreign origin", contentType: "application/json", payload: `{}`, header: []string{"Origin", "http://evil.example"}, want: 403, contains: "origin"},
		{name: "json cross-site", contentType: "application/json", payload: `{}`, header: []string{"Sec-Fetch-Site", "cross-site"}, want: 403, contains: "cross-site"},
		{name: "json same-site", contentType: "application/json", payload: `{}`, header: []string{"Sec-Fetch-Site", "same-site"}, want: 403, contains: "same-site"},
		{name: "not json", contentType: "application/json", payload: `reason=x`, want: 400, contains: "body:"},
		{name: "unknown field", contentType: "application/json", payload: `{"reason":"x","part":"heap"}`, want: 400, contains: "body:"},
		{name: "two objects", contentType: "application/json", payload: `{} {}`, want: 400, contains: "body: must hold one JSON object"},
		{name: "array", contentType: "application/json", payload: `[1]`, want: 400, contains: "body:"},
		{name: "too long", contentType: "application/json", payload: `{"reason":"` + strings.Repeat("a", 5000) + `"}`, want: 413, contains: "body: longer than"},
		{name: "reason too long", contentType: "application/json", payload: `{"reason":"` + strings.Repeat("a", 300) + `"}`, want: 400, contains: "reason: longer than 200"},
		{name: "query", contentType: "application/json", payload: `{}`, want: 400, contains: "unknown parameter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hh := http.Handler(h)
			if tc.name == "query" {
				hh = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { r.URL.RawQuery = "id=1"; h.ServeHTTP(w, r) })
			}
			w := postCapture(hh, tc.contentType, tc.payload, tc.header...)
			checkHygiene(t, w)
			if b := body(t, w); w.Code != tc.want || !strings.Contains(b, tc.contains) {
				t.Errorf("%d %q, want %d with %q", w.Code, b, tc.want, tc.contains)
			}
		})
	}
	if n := len(mon.Captures()); n != 0 {
		t.Fatalf("refused requests took %d captures", n)
	}

	w := postCapture(h, "application/json; charset=utf-8", `{"reason":"deploy 42\nlooks slow"}`, "Origin", "http://"+testHost, "Sec-Fetch-Site", "same-origin")
	checkHygiene(t, w)
	if w.Code != http.StatusCreated {
		t.Fatalf("capture: %d %s", w.Code, body(t, w))
	}
	var info runtimediag.CaptureInfo
	if err := json.Unmarshal(w.Body.Bytes(), &info); err != nil {
		t.Fatal(err)
	}
	caps := mon.Captures()
	if len(caps) != 1 || caps[0].ID != info.ID || caps[0].Reason != "deploy 42 looks slow" || caps[0].Trigger != runtimediag.TriggerManual {
		t.Errorf("stored %+v, answered id %d", caps, info.ID)
	}
	if loc := w.Header().Get("Location"); loc != testPrefix+"captures/"+strconv.FormatUint(info.ID, 10)+"/heap" {
		t.Errorf("Location %q", loc)
	}
	// Rate-limited: the next one within captureInterval waits.
	w = postCapture(h, "application/json", "")
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("second capture at once: %d %s", w.Code, body(t, w))
	}
	if n := len(mon.Captures()); n != 1 {
		t.Errorf("%d captures stored, want 1", n)
	}
}

// FuzzPostCapture sends arbitrary content types and bodies to POST captures: never a 5xx, always
// the hygiene headers, never a '<' reflected in an error. The capture limiter is held, so a valid
// request is answered 429 after every check has run, and no capture is ever taken.
func FuzzPostCapture(f *testing.F) {
	for _, s := range [][2]string{
		{"application/json", `{"reason":"x"}`}, {"application/json", ``}, {"application/json; charset=utf-8", `{}`},
		{"application/json", `{"reason":"<script>"}`}, {"application/json", `{"reason":1}`}, {"application/json", `[]`},
		{"application/json", `{"reason":"x"}{"reason":"y"}`}, {"text/plain", `{"reason":"x"}`}, {"application/x-www-form-urlencoded", "reason=x"},
		{"application/json;;", `{}`}, {"APPLICATION/JSON", `{}`}, {"application/json", `{"reason":"` + strings.Repeat("é", 300) + `"}`},
	} {
		f.Add(s[0], s[1])
	}
	mon := newTestMonitor(f)
	h := newTestTree(f, mon)
	release, _ := h.captureLimit.acquire(time.Now())
	f.Cleanup(release)
	f.Fuzz(func(t *testing.T, contentType, payload string) {
		w := postCapture(h, contentType, payload)
		if w.Code >= 500 || w.Code < 400 {
			t.Fatalf("%q %q: %d %s", contentType, payload, w.Code, w.Body.String())
		}
		checkHygiene(t, w)
		if strings.Contains(w.Body.String(), "<") {
			t.Fatalf("%q %q: error body carries '<': %q", contentType, payload, w.Body.String())
		}
		if n := len(mon.Captures()); n != 0 {
			t.Fatalf("%q %q: %d captures taken", contentType, payload, n)
		}
	})
}

// TestFooterLinksServed: every link of the page's footer is an endpoint the tree serves (a HEAD
// of each answers 200 at once, profiles included).
func TestFooterLinksServed(t *testing.T) {
	t.Parallel()
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	w := serve(h, "GET", testPrefix, "")
	page := body(t, w)
	i := strings.Index(page, "<footer>")
	j := strings.Index(page, "</footer>")
	if w.Code != 200 || i < 0 || j < i {
		t.Fatalf("page: %d, no footer", w.Code)
	}
	links := regexp.MustCompile(`href="([^"]+)"`).FindAllStringSubmatch(page[i:j], -1)
	if len(links) < 10 {
		t.Errorf("the footer links %d endpoints", len(links))
	}
	for _, l := range links {
		target := html.UnescapeString(l[1])
		if w := serve(h, "HEAD", testPrefix+target, ""); w.Code != 200 {
			t.Errorf("footer link %q: HEAD answers %d", target, w.Code)
		}
	}
}
