package middleware

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/felixge/fgprof"

	"github.com/memdiag/memdiag/internal/alonetest"
)

// TestHostileRequests is what a careless or hostile client may send: every answer is a 4xx that
// names what is wrong, with the hygiene headers, and never reflects markup.
func TestHostileRequests(t *testing.T) {
	mon := newTestMonitor(t)
	h := newTestTree(t, mon, WithMaxDuration(5*time.Second))
	long := strings.Repeat("a", 2000)
	for _, tc := range []struct {
		name, method, target, remote string
		host                         string
		header                       [2]string
		want                         int
		contains                     string
	}{
		{name: "seconds not a number", target: "allocs?seconds=abc", want: 400, contains: "seconds: must be an integer between 1 and 5"},
		{name: "seconds zero", target: "allocs?seconds=0", want: 400, contains: "seconds:"},
		{name: "seconds negative", target: "fgprof?seconds=-1", want: 400, contains: "seconds:"},
		{name: "seconds fractional", target: "allocs?seconds=1.5", want: 400, contains: "seconds:"},
		{name: "seconds over the bound", target: "fgprof?seconds=6", want: 400, contains: "between 1 and 5"},
		{name: "seconds huge", target: "allocs?seconds=99999999999999999999999999", want: 400, contains: "seconds:"},
		{name: "seconds empty", target: "allocs?seconds=", want: 400, contains: "seconds:"},
		{name: "seconds with sign", target: "allocs?seconds=%2B3", want: 400, contains: "seconds:"},
		{name: "seconds with space", target: "allocs?seconds=%203", want: 400, contains: "seconds:"},
		{name: "seconds exponent", target: "fgprof?seconds=1e3", want: 400, contains: "seconds:"},
		{name: "seconds hex", target: "fgprof?seconds=0x3", want: 400, contains: "seconds:"},
		{name: "seconds repeated", target: "allocs?seconds=1&seconds=2", want: 400, contains: "seconds: given 2 times"},
		{name: "cpu seconds not a number", target: "cpu?seconds=abc", want: 400, contains: "seconds: must be an integer between 1 and 5"},
		{name: "cpu seconds zero", target: "cpu?seconds=0", want: 400, contains: "seconds:"},
		{name: "cpu seconds negative", target: "cpu?seconds=-1", want: 400, contains: "seconds:"},
		{name: "cpu seconds fractional", target: "cpu?seconds=0.5", want: 400, contains: "seconds:"},
		{name: "cpu seconds over the bound", target: "cpu?seconds=6", want: 400, contains: "between 1 and 5"},
		{name: "cpu seconds huge", target: "cpu?seconds=99999999999999999999999999", want: 400, contains: "seconds:"},
		{name: "cpu seconds empty", target: "cpu?seconds=", want: 400, contains: "seconds:"},
		{name: "cpu seconds repeated", target: "cpu?seconds=1&seconds=1", want: 400, contains: "seconds: given 2 times"},
		{name: "cpu format", target: "cpu?format=pprof", want: 400, contains: `unknown parameter "format" (this endpoint takes: seconds)`},
		{name: "cpu below its path", target: "cpu/profile", want: 404, contains: "path: not found"},
		{name: "POST cpu", method: "POST", target: "cpu?seconds=1", want: 405, contains: "method:"},
		{name: "remote caller, cpu", target: "cpu?seconds=1", remote: "203.0.113.7:1234", want: 403, contains: "forbidden"},
		{name: "seconds on an endpoint without it", target: "report.json?seconds=1", want: 400, contains: "unknown parameter"},
		{name: "leaks unknown format", target: "leaks?format=pprof", want: 400, contains: "format: must be one of json, text"},
		{name: "leaks format markup", target: "leaks?format=%3Cscript%3E", want: 400, contains: `\x3cscript\x3e`},
		{name: "leaks format repeated", target: "leaks?format=json&format=text", want: 400, contains: "format: given 2 times"},
		{name: "leaks.txt with a format", target: "leaks.txt?format=json", want: 400, contains: "unknown parameter"},
		{name: "leaks window", target: "leaks?window=5m", want: 400, contains: "unknown parameter"},
		{name: "leaks below its path", target: "leaks/1", want: 404, contains: "path: not found"},
		{name: "POST leaks", method: "POST", target: "leaks", want: 405, contains: "method:"},
		{name: "remote caller, leaks", target: "leaks.txt", remote: "203.0.113.7:1234", want: 403, contains: "forbidden"},
		{name: "window not a duration", target: "report.json?window=abc", want: 400, contains: "window: must be a positive duration"},
		{name: "window without a unit", target: "report.txt?window=300", want: 400, contains: "window: must be a positive duration"},
		{name: "window zero", target: "report.json?window=0s", want: 400, contains: "window:"},
		{name: "window negative", target: "report.json?window=-5m", want: 400, contains: "window:"},
		{name: "window huge", target: "report.json?window=99999999999h", want: 400, contains: "window:"},
		{name: "window over the bound", target: "report.json?window=721h", want: 400, contains: "window: must be a positive duration such as 5m or 90s, at most 720h0m0s"},
		{name: "window longer than the readings", target: "report.json?window=719h", want: 400, contains: "window: window out of range"},
		{name: "window shorter than the step", target: "report.txt?window=1ms", want: 400, contains: "window: window out of range: 1ms is shorter than the step"},
		{name: "window on the page, out of range", target: "?window=719h", want: 400, contains: "window: window out of range"},
		{name: "window repeated", target: "report.json?window=1m&window=2m", want: 400, contains: "window: given 2 times"},
		{name: "window markup", target: "report.json?window=%3Cb%3E", want: 400, contains: `\x3cb\x3e`},
		{name: "window on maps", target: "maps?window=5m", want: 400, contains: "unknown parameter"},
		{name: "fgprof unknown format", target: "fgprof?format=svg", want: 400, contains: "format: must be one of pprof, folded"},
		{name: "maps unknown format", target: "maps?format=xml", want: 400, contains: "format:"},
		{name: "allocs unknown format", target: "allocs?format=pprof", want: 400, contains: "format:"},
		{name: "proc unknown format", target: "proc?format=html", want: 400, contains: "format:"},
		{name: "captures unknown format", target: "captures?format=csv", want: 400, contains: "format:"},
		{name: "format repeated", target: "maps?format=json&format=text", want: 400, contains: "format: given 2 times"},
		{name: "unknown parameter", target: "report.txt?debug=1", want: 400, contains: `unknown parameter "debug"`},
		{name: "top zero", target: "allocs?top=0", want: 400, contains: "top:"},
		{name: "top huge", target: "allocs?top=100000", want: 400, contains: "top:"},
		{name: "malformed query", target: "allocs?seconds=%zz", want: 400, contains: "query: malformed"},
		{name: "markup in a parameter name", target: "report.json?%3Cscript%3Ealert(1)%3C/script%3E=1", want: 400, contains: `\x3cscript\x3e`},
		{name: "markup in a value", target: "maps?format=%3Cimg%20src=x%20onerror=alert(1)%3E", want: 400, contains: `\x3cimg`},
		{name: "POST", method: "POST", target: "report.json", want: 405, contains: "method:"},
		{name: "PUT", method: "PUT", target: "allocs?seconds=1", want: 405, contains: "method:"},
		{name: "DELETE", method: "DELETE", target: "captures", want: 405, contains: "method: captures answers GET and HEAD, and POST"},
		{name: "POST a capture without JSON", method: "POST", target: "captures", want: 415, contains: "content-type:"},
		{name: "POST a capture as a form", method: "POST", target: "captures", header: [2]string{"Content-Type", "application/x-www-form-urlencoded"}, want: 415, contains: "content-type:"},
		{name: "POST a capture as text", method: "POST", target: "captures", header: [2]string{"Content-Type", "text/plain"}, want: 415, contains: "content-type:"},
		{name: "POST a capture, bad content type", method: "POST", target: "captures", header: [2]string{"Content-Type", "application/json; ===="}, want: 415, contains: "content-type:"},
		{name: "POST a capture, empty JSON body, with a query", method: "POST", target: "captures?reason=x", header: [2]string{"Content-Type", "application/json"}, want: 400, contains: "unknown parameter"},
		{name: "POST a capture from another site", method: "POST", target: "captures", header: [2]string{"Sec-Fetch-Site", "cross-site"}, want: 403, contains: "cross-site"},
		{name: "POST a capture from a foreign origin", method: "POST", target: "captures", header: [2]string{"Origin", "null"}, want: 403, contains: "origin"},
		{name: "POST a capture part", method: "POST", target: "captures/1/heap", want: 405, contains: "method:"},
		{name: "remote caller, POST a capture", method: "POST", target: "captures", remote: "203.0.113.7:1234", header: [2]string{"Content-Type", "application/json"}, want: 403, contains: "forbidden"},
		{name: "PATCH", method: "PATCH", target: "proc", want: 405, contains: "method:"},
		{name: "OPTIONS", method: "OPTIONS", target: "maps", want: 405, contains: "method:"},
		{name: "TRACE", method: "TRACE", target: "report.txt", want: 405, contains: "method:"},
		{name: "dot-dot out of proc", target: "proc/../../etc/passwd", want: 404, contains: "path: not found"},
		{name: "encoded dot-dot", target: "proc/%2e%2e/%2e%2e/etc/passwd", want: 404, contains: "path: not found"},
		{name: "encoded slashes", target: "proc%2f..%2f..%2fetc%2fpasswd", want: 404, contains: "path: not found"},
		{name: "double-encoded", target: "proc/%252e%252e/etc/passwd", want: 404, contains: "path: not found"},
		{name: "backslashes", target: `proc\..\..\etc\passwd`, want: 404, contains: "path: not found"},
		{name: "double slash", target: "/proc", want: 404, contains: "path: not found"},
		{name: "trailing slash", target: "proc/", want: 404, contains: "path: not found"},
		{name: "a file below proc", target: "proc/self/environ", want: 404, contains: "path: not found"},
		{name: "wrong case", target: "PROC", want: 404, contains: "path: not found"},
		{name: "unknown endpoint", target: "pprof/cmdline", want: 404, contains: "path: not found"},
		{name: "pprof symbol, no address", target: "pprof/symbol", want: 200},
		{name: "pprof symbol, not an address", target: "pprof/symbol?0x1+%3Cb%3E", want: 400, contains: `addresses: "\x253Cb\x253E" is not an address`},
		{name: "pprof symbol, negative", target: "pprof/symbol?-1", want: 400, contains: "addresses:"},
		{name: "pprof symbol, overflow", target: "pprof/symbol?0x1ffffffffffffffff", want: 400, contains: "addresses:"},
		{name: "pprof symbol, form post", method: "POST", target: "pprof/symbol", header: [2]string{"Content-Type", "application/x-www-form-urlencoded"}, want: 415, contains: "content-type:"},
		{name: "pprof symbol, no-cors post", method: "POST", target: "pprof/symbol", header: [2]string{"Content-Type", "text/plain"}, want: 415, contains: "content-type:"},
		{name: "pprof symbol, cross-site post", method: "POST", target: "pprof/symbol", header: [2]string{"Sec-Fetch-Site", "cross-site"}, want: 403, contains: "cross-site"},
		{name: "pprof symbol, foreign origin post", method: "POST", target: "pprof/symbol", header: [2]string{"Origin", "http://evil.example"}, want: 403, contains: "origin"},
		{name: "pprof symbol, PUT", method: "PUT", target: "pprof/symbol", want: 405, contains: "method: pprof/symbol answers GET and HEAD, and POST"},
		{name: "pprof custom, not registered", target: "pprof/nosuch", want: 404, contains: `no profile "nosuch" is registered`},
		{name: "pprof custom, markup", target: "pprof/%3Cb%3E", want: 404},
		{name: "pprof custom, bad debug", target: "pprof/nosuch?debug=9", want: 404},
		{name: "heap delta with debug", target: "pprof/heap?seconds=1&debug=1", want: 400, contains: "seconds: a delta is served as a pprof profile only"},
		{name: "heap delta with gc", target: "pprof/heap?seconds=1&gc=1", want: 400, contains: "seconds and gc=1 cannot go together"},
		{name: "heap delta seconds zero", target: "pprof/heap?seconds=0", want: 400, contains: "seconds: must be an integer between 1 and 5"},
		{name: "heap delta seconds over the bound", target: "pprof/heap?seconds=6", want: 400, contains: "between 1 and 5"},
		{name: "allocs delta seconds fractional", target: "pprof/allocs?seconds=0.5", want: 400, contains: "seconds:"},
		{name: "threadcreate delta seconds repeated", target: "pprof/threadcreate?seconds=1&seconds=1", want: 400, contains: "seconds: given 2 times"},
		{name: "mutex delta seconds huge", target: "pprof/mutex?seconds=99999999999999999999", want: 400, contains: "seconds:"},
		{name: "heap delta HEAD", method: "HEAD", target: "pprof/heap?seconds=5", want: 200},
		{name: "gc without WithRuntimeControl", method: "POST", target: "gc", header: [2]string{"Content-Type", "application/json"}, want: 403, contains: "WithRuntimeControl"},
		{name: "setgc without WithRuntimeControl", method: "POST", target: "setgc", header: [2]string{"Content-Type", "application/json"}, want: 403, contains: "WithRuntimeControl"},
		{name: "GET gc", target: "gc", want: 405, contains: "method: gc takes POST only"},
		{name: "HEAD setgc", method: "HEAD", target: "setgc", want: 405},
		{name: "PUT setgc", method: "PUT", target: "setgc", want: 405, contains: "method: setgc takes POST only"},
		{name: "gc below its path", method: "POST", target: "gc/x", want: 405, contains: "method:"},
		{name: "cross-site gc", method: "POST", target: "gc", header: [2]string{"Sec-Fetch-Site", "cross-site"}, want: 403, contains: "cross-site"},
		{name: "pprof below a profile", target: "pprof/heap/x", want: 404, contains: "path: not found"},
		{name: "pprof index unknown format", target: "pprof/?format=html", want: 400, contains: "format: must be one of text, json"},
		{name: "pprof index unknown parameter", target: "pprof/?debug=1", want: 400, contains: `unknown parameter "debug"`},
		{name: "heap debug too high", target: "pprof/heap?debug=2", want: 400, contains: "debug: must be an integer between 0 and 1"},
		{name: "heap debug negative", target: "pprof/heap?debug=-1", want: 400, contains: "debug:"},
		{name: "heap debug not a number", target: "pprof/heap?debug=yes", want: 400, contains: "debug:"},
		{name: "heap gc not 0 or 1", target: "pprof/heap?gc=2", want: 400, contains: "gc: must be an integer between 0 and 1"},
		{name: "heap gc true", target: "pprof/heap?gc=true", want: 400, contains: "gc:"},
		{name: "heap gc repeated", target: "pprof/heap?gc=1&gc=1", want: 400, contains: "gc: given 2 times"},
		{name: "gc on allocs", target: "pprof/allocs?gc=1", want: 400, contains: `unknown parameter "gc"`},
		{name: "allocs debug 2", target: "pprof/allocs?debug=2", want: 400, contains: "debug: must be an integer between 0 and 1"},
		{name: "pprof index HEAD", method: "HEAD", target: "pprof/", want: 200},
		{name: "goroutine debug 3", target: "pprof/goroutine?debug=3", want: 400, contains: "debug: must be an integer between 0 and 2"},
		{name: "goroutine debug huge", target: "pprof/goroutine?debug=99999999999999999999", want: 400, contains: "debug:"},
		{name: "goroutine debug markup", target: "pprof/goroutine?debug=%3Cb%3E", want: 400, contains: `\x3cb\x3e`},
		{name: "goroutine delta with debug", target: "pprof/goroutine?seconds=5&debug=2", want: 400, contains: "seconds and debug=2 cannot go together"},
		{name: "threadcreate debug 2", target: "pprof/threadcreate?debug=2", want: 400, contains: "debug:"},
		{name: "mutex debug 2", target: "pprof/mutex?debug=2", want: 400, contains: "debug:"},
		{name: "block debug 2", target: "pprof/block?debug=2", want: 400, contains: "debug:"},
		{name: "trace seconds zero", target: "pprof/trace?seconds=0", want: 400, contains: "seconds:"},
		{name: "trace seconds over the bound", target: "pprof/trace?seconds=6", want: 400, contains: "between 1 and 5"},
		{name: "trace seconds fractional", target: "pprof/trace?seconds=0.5", want: 400, contains: "seconds:"},
		{name: "trace debug", target: "pprof/trace?debug=1", want: 400, contains: `unknown parameter "debug"`},
		{name: "POST a profile", method: "POST", target: "pprof/heap", want: 405, contains: "method:"},
		{name: "cross-site goroutine dump", target: "pprof/goroutine?debug=2", header: [2]string{"Sec-Fetch-Site", "cross-site"}, want: 403, contains: "cross-site"},
		{name: "cross-site forced GC", target: "pprof/heap?gc=1", header: [2]string{"Sec-Fetch-Site", "same-site"}, want: 403, contains: "same-site"},
		{name: "foreign origin, trace", target: "pprof/trace?seconds=5", header: [2]string{"Origin", "http://localhost:3000"}, want: 403, contains: "origin"},
		{name: "remote caller, heap", target: "pprof/heap", remote: "203.0.113.7:1234", want: 403, contains: "forbidden"},
		{name: "HEAD of the trace answers at once", method: "HEAD", target: "pprof/trace?seconds=5", want: 200},
		{name: "NUL in the path", target: "proc%00", want: 404, contains: "path: not found"},
		{name: "capture id not a number", target: "captures/abc/heap", want: 400, contains: "id:"},
		{name: "capture id zero", target: "captures/0/heap", want: 400, contains: "id:"},
		{name: "capture id leading zero", target: "captures/01/heap", want: 400, contains: "id:"},
		{name: "capture id overflow", target: "captures/18446744073709551616/heap", want: 400, contains: "id:"},
		{name: "capture id negative", target: "captures/-1/heap", want: 400, contains: "id:"},
		{name: "capture part unknown", target: "captures/1/passwd", want: 400, contains: "part: must be one of heap, goroutine, trace"},
		{name: "capture not stored", target: "captures/999/heap", want: 404, contains: "capture: no part heap of capture 999"},
		{name: "over-long path", target: long, want: 414, contains: "url:"},
		{name: "over-long query", target: "report.json?x=" + long, want: 414, contains: "url:"},
		{name: "remote caller", target: "report.json", remote: "203.0.113.7:1234", want: 403, contains: "forbidden"},
		{name: "remote IPv6 caller", target: "report.json", remote: "[2001:db8::1]:1234", want: 403, contains: "forbidden"},
		{name: "remote caller claiming loopback", target: "report.json", remote: "203.0.113.7:1234", header: [2]string{"X-Forwarded-For", "127.0.0.1"}, want: 403, contains: "forbidden"},
		{name: "remote caller, bad method", method: "POST", target: "report.json", remote: "203.0.113.7:1234", want: 403, contains: "forbidden"},
		{name: "no remote address", target: "report.json", remote: "@", want: 403, contains: "forbidden"},
		{name: "loopback proxy forwarding, cpu", target: "cpu?seconds=1", header: [2]string{"X-Forwarded-For", "198.51.100.1"}, want: 403, contains: "through a proxy"},
		{name: "loopback proxy forwarding, proc", target: "proc", header: [2]string{"Forwarded", "for=198.51.100.1"}, want: 403, contains: `"Forwarded"`},
		{name: "sidecar forwarding, captures", target: "captures", remote: "127.0.0.6:15006", header: [2]string{"X-Envoy-External-Address", "198.51.100.1"}, want: 403, contains: "through a proxy"},
		{name: "rebound host name, proc", target: "proc", host: "attacker.example:8080", want: 403, contains: "rebinds"},
		{name: "rebound host name, maps", target: "maps", host: "evil.com", want: 403, contains: "not a loopback name"},
		{name: "rebound host name, capture part", target: "captures/1/heap", host: "evil.com", want: 403, contains: "host"},
		{name: "cross-site image, cpu", target: "cpu?seconds=5", header: [2]string{"Sec-Fetch-Site", "cross-site"}, want: 403, contains: "cross-site"},
		{name: "same-site no-cors fetch, fgprof", target: "fgprof?seconds=5", header: [2]string{"Sec-Fetch-Site", "same-site"}, want: 403, contains: "same-site"},
		{name: "foreign origin, allocs", target: "allocs?seconds=5", header: [2]string{"Origin", "http://localhost:3000"}, want: 403, contains: "origin"},
		{name: "cross-site HEAD of cpu", method: "HEAD", target: "cpu?seconds=5", header: [2]string{"Sec-Fetch-Site", "cross-site"}, want: 403},
		{name: "HEAD of a profile answers at once", method: "HEAD", target: "allocs?seconds=5", want: 200},
		{name: "HEAD of cpu answers at once", method: "HEAD", target: "cpu?seconds=5", want: 200},
		{name: "valid report", target: "report.json", want: 200, contains: `"resident_bytes"`},
		{name: "cache-buster t", target: "history.json?t=1712345678", want: 200, contains: "["},
		{name: "cache-buster on the report", target: "report.json?t=1", want: 200, contains: `"resident_bytes"`},
		{name: "cache-buster _ repeated, with markup", target: "history.json?_=1&_=%3Cb%3E", want: 200, contains: "["},
		{name: "cache-buster beside a real parameter", target: "maps?format=json&t=2&_=3", want: 200, contains: `"mappings"`},
		{name: "cache-buster beside a bad parameter", target: "allocs?t=1&seconds=abc", want: 400, contains: "seconds:"},
		{name: "T is not t", target: "history.json?T=1", want: 400, contains: `unknown parameter "T"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			method := tc.method
			if method == "" {
				method = "GET"
			}
			target := testPrefix + tc.target
			r := httptest.NewRequest(method, "/", nil)
			r.URL.Path, r.URL.RawPath, r.URL.RawQuery, r.RequestURI = "", "", "", target
			u, err := r.URL.Parse(target)
			if err != nil {
				t.Fatalf("target %q: %v", target, err)
			}
			r.URL = u
			r.RemoteAddr = "127.0.0.1:5000"
			r.Host = testHost
			if tc.host != "" {
				r.Host = tc.host
			}
			if tc.remote != "" {
				r.RemoteAddr = tc.remote
			}
			if tc.header[0] != "" {
				r.Header.Set(tc.header[0], tc.header[1])
			}
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			defer cancel()
			w := httptest.NewRecorder()
			start := time.Now()
			h.ServeHTTP(w, r.WithContext(ctx))
			if el := time.Since(start); el > time.Second && tc.want != 200 {
				t.Errorf("took %s to refuse", el)
			}
			checkHygiene(t, w)
			b := body(t, w)
			if w.Code != tc.want {
				t.Fatalf("status %d, want %d: %s", w.Code, tc.want, b)
			}
			if !strings.Contains(b, tc.contains) {
				t.Errorf("body %q lacks %q", b, tc.contains)
			}
			if tc.want != 200 && strings.ContainsAny(b, "<>") {
				t.Errorf("error body carries markup: %q", b)
			}
			wantAllow := "GET, HEAD"
			if tc.target == "gc" || tc.target == "setgc" {
				wantAllow = "POST" // they have no GET
			}
			if tc.want == 405 && !strings.HasPrefix(w.Header().Get("Allow"), wantAllow) {
				t.Errorf("405 with Allow %q, want %s", w.Header().Get("Allow"), wantAllow)
			}
			for _, kind := range []string{"allocs", "fgprof", "cpu"} {
				if tc.want == 403 && slotOf(h, kind).isBusy() {
					t.Errorf("a refused request left the %s slot taken", kind)
				}
			}
		})
	}
}

// TestThroughReverseProxy puts a real httputil.ReverseProxy on loopback in front of the tree, as
// nginx, Envoy or a Linkerd sidecar on the same host would be: the tree sees a loopback peer for
// every client the proxy forwards. The proxy's headers are what gives it away; without them (a
// proxy configured to add none) the tree cannot tell, which is why docs/security.md recommends a
// listener of its own.
func TestThroughReverseProxy(t *testing.T) {
	mon := newTestMonitor(t)
	for _, tc := range []struct {
		name     string
		opts     []Option
		rewrite  func(*httputil.ProxyRequest)
		director bool // NewSingleHostReverseProxy's Director: X-Forwarded-For, Host rewritten
		want     int
		contains string
	}{
		{name: "NewSingleHostReverseProxy", director: true, want: 403, contains: `"X-Forwarded-For"`},
		{name: "Rewrite with SetXForwarded", rewrite: func(pr *httputil.ProxyRequest) { pr.SetXForwarded() }, want: 403, contains: "through a proxy"},
		{name: "nginx: X-Real-IP and the client's Host", rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.Header.Set("X-Real-IP", "198.51.100.1")
			pr.Out.Host = pr.In.Host
		}, want: 403, contains: `"X-Real-Ip"`},
		{name: "nginx: only the client's Host", rewrite: func(pr *httputil.ProxyRequest) { pr.Out.Host = "shop.example.com" }, want: 403, contains: "shop.example.com"},
		{name: "Via", rewrite: func(pr *httputil.ProxyRequest) { pr.Out.Header.Set("Via", "1.1 proxy") }, want: 403, contains: `"Via"`},
		{name: "RFC 7239 Forwarded", rewrite: func(pr *httputil.ProxyRequest) { pr.Out.Header.Set("Forwarded", `for="[2001:db8::1]";proto=https`) }, want: 403, contains: `"Forwarded"`},
		{name: "Envoy (Istio sidecar)", rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.Header.Set("X-Forwarded-Proto", "http")
			pr.Out.Header.Set("X-Envoy-Peer-Metadata-Id", "sidecar~10.0.0.9~web.default~default.svc.cluster.local")
		}, want: 403, contains: "through a proxy"},
		{name: "Linkerd sidecar", rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.Header.Set("L5d-Client-Id", "web.default.serviceaccount.identity.linkerd.cluster.local")
		}, want: 403, contains: `"L5d-Client-Id"`},
		{name: "Cloudflare tunnel", rewrite: func(pr *httputil.ProxyRequest) { pr.Out.Header.Set("Cf-Connecting-Ip", "198.51.100.1") }, want: 403},
		{name: "trusted proxy", opts: []Option{WithTrustedProxies("127.0.0.1")}, director: true, want: 200},
		{name: "trusted proxy sending the public Host", opts: []Option{WithTrustedProxies("127.0.0.1")}, rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetXForwarded()
			pr.Out.Host = "memdiag.example.com"
		}, want: 403, contains: "WithAllowedHosts"},
		{name: "trusted proxy and its public Host", opts: []Option{WithTrustedProxies("127.0.0.0/8"), WithAllowedHosts("memdiag.example.com")}, rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetXForwarded()
			pr.Out.Host = "memdiag.example.com"
		}, want: 200},
		{name: "another loopback address trusted", opts: []Option{WithTrustedProxies("127.0.0.6")}, director: true, want: 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tr := newTestTree(t, mon, tc.opts...)
			backend := httptest.NewServer(tr)
			defer backend.Close()
			target, _ := url.Parse(backend.URL)
			var rp *httputil.ReverseProxy
			if tc.director {
				rp = httputil.NewSingleHostReverseProxy(target)
			} else {
				rp = &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
					pr.SetURL(target)
					tc.rewrite(pr)
				}}
			}
			front := httptest.NewServer(rp)
			defer front.Close()
			paths := []string{"report.json", "proc", "cpu?seconds=1"}
			if tc.want == 200 {
				paths = paths[:2] // a served CPU profile would only cost a second
			}
			for _, path := range paths {
				resp, err := front.Client().Get(front.URL + testPrefix + path)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != tc.want {
					t.Fatalf("%s through the proxy: %d, want %d: %.300s", path, resp.StatusCode, tc.want, b)
				}
				if !strings.Contains(string(b), tc.contains) {
					t.Errorf("%s: body %.300q lacks %q", path, b, tc.contains)
				}
				if tc.want == 403 && tr.cpu.isBusy() {
					t.Errorf("%s: a refused request holds the cpu slot", path)
				}
			}
		})
	}
}

// TestConcurrentProfiles checks that a second profile of a kind gets 429 with Retry-After while
// the first runs, that the other kind is not blocked, and that the slot frees when the first ends.
func TestConcurrentProfiles(t *testing.T) {
	if alonetest.Run(t) {
		return
	}
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	for _, kind := range []string{"allocs", "fgprof", "cpu"} {
		t.Run(kind, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan int)
			go func() {
				r := httptest.NewRequestWithContext(ctx, "GET", testPrefix+kind+"?seconds=30", nil)
				r.RemoteAddr = "127.0.0.1:1"
				r.Host = testHost
				w := httptest.NewRecorder()
				h.ServeHTTP(w, r)
				done <- w.Code
			}()
			for !slotOf(h, kind).isBusy() {
				time.Sleep(time.Millisecond)
			}
			w := serve(h, "GET", testPrefix+kind+"?seconds=1", "")
			checkHygiene(t, w)
			if w.Code != http.StatusTooManyRequests {
				t.Fatalf("second %s: %d, want 429", kind, w.Code)
			}
			if ra := w.Header().Get("Retry-After"); ra == "" || ra == "0" {
				t.Errorf("Retry-After = %q", ra)
			}
			cancel()
			<-done
			if w := serve(h, "GET", testPrefix+kind+"?seconds=1", ""); w.Code != http.StatusOK {
				t.Errorf("after the first ended: %d %s", w.Code, body(t, w))
			}
		})
	}
}

// TestProfileStopsOnDisconnect cancels a 60 s profile after 50 ms and measures how long the
// handler takes to return. The bound asserted is generous (2 s, against the 60 s asked for); the
// measured figure is logged.
func TestProfileStopsOnDisconnect(t *testing.T) {
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	for _, target := range []string{"allocs?seconds=60", "fgprof?seconds=60", "fgprof?seconds=60&format=folded", "cpu?seconds=60"} {
		t.Run(target, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			r := httptest.NewRequestWithContext(ctx, "GET", testPrefix+target, nil)
			r.RemoteAddr = "127.0.0.1:1"
			r.Host = testHost
			w := httptest.NewRecorder()
			returned := make(chan time.Time, 1)
			go func() {
				h.ServeHTTP(w, r)
				returned <- time.Now()
			}()
			time.Sleep(50 * time.Millisecond)
			cancelled := time.Now()
			cancel()
			select {
			case at := <-returned:
				lat := at.Sub(cancelled)
				t.Logf("disconnect to return: %s", lat)
				if lat > 2*time.Second {
					t.Errorf("took %s to stop", lat)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("still running 5 s after the client went away")
			}
		})
	}
}

// TestProfileStopsOnRealDisconnect closes a real client connection mid-profile and checks that the
// server notices: the profile's slot is free again well before its window would end.
func TestProfileStopsOnRealDisconnect(t *testing.T) {
	mon := newTestMonitor(t)
	h := newTestTree(t, mon)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for _, kind := range []string{"allocs", "fgprof", "cpu"} {
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+testPrefix+kind+"?seconds=60", nil)
		errc := make(chan error, 1)
		go func() {
			resp, err := srv.Client().Do(req)
			if err == nil {
				resp.Body.Close()
			}
			errc <- err
		}()
		time.Sleep(100 * time.Millisecond)
		cancel()
		<-errc
		cancelled := time.Now()
		for {
			rel, ok, _ := slotOf(h, kind).acquire(time.Second)
			if ok {
				rel()
				t.Logf("%s: disconnect to slot free: %s", kind, time.Since(cancelled))
				break
			}
			if time.Since(cancelled) > 2*time.Second {
				t.Fatalf("%s: still running 2 s after the client closed its connection", kind)
			}
			time.Sleep(time.Millisecond)
		}
	}
}

func slotOf(t *tree, kind string) *profileSlot {
	switch kind {
	case "allocs":
		return &t.allocs
	case "cpu":
		return &t.cpu
	}
	return &t.fgprof
}

func TestStopOnce(t *testing.T) {
	calls := 0
	stop := stopOnce(func() error { calls++; return nil })
	for range 3 {
		if err := stop(); err != nil {
			t.Fatal(err)
		}
	}
	if calls != 1 {
		t.Errorf("stop called %d times, want 1", calls)
	}
	// fgprof v0.9.5 panics when stopped before its first sample; the wrapper turns that into an error.
	var sink strings.Builder
	if err := stopOnce(fgprof.Start(&sink, fgprof.FormatPprof))(); err == nil {
		t.Log("fgprof took a sample before an immediate stop; the panic path was not exercised")
	}
}

func (s *profileSlot) isBusy() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy
}
