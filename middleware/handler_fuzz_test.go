package middleware

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzHandler sends arbitrary methods, paths and queries: the tree never answers 5xx, always
// names its content type with nosniff, and never reflects a '<' it was sent.
func FuzzHandler(f *testing.F) {
	for _, s := range [][3]string{
		{"GET", "report.json", ""}, {"HEAD", "report.txt", ""}, {"GET", "allocs", "seconds=1"},
		{"GET", "fgprof", "seconds=2&format=folded"}, {"POST", "proc", ""}, {"GET", "proc/../../etc/passwd", ""},
		{"GET", "captures/1/heap", ""}, {"GET", "maps", "format=%3Cscript%3E"}, {"GET", "history.json", "a=1&a=2"},
		{"GET", "captures/<b>/heap", ""}, {"DELETE", "captures", ""}, {"GET", "maps", "format=json"},
		{"GET", "pprof/", ""}, {"GET", "pprof", "format=json"}, {"GET", "pprof/heap", "gc=1&debug=1"},
		{"GET", "pprof/goroutine", "debug=2"}, {"GET", "pprof/block", ""}, {"GET", "pprof/mutex", "debug=1"},
		{"GET", "pprof/threadcreate", "debug=0"}, {"GET", "pprof/allocs", "debug=1"}, {"GET", "pprof/trace", "seconds=1"},
		{"GET", "pprof/trace", ""}, {"POST", "captures", ""}, {"GET", "report.json", "t=1&_=2"},
		{"GET", "pprof/symbol", "0x4010a0+0x4010b0"}, {"POST", "pprof/symbol", ""}, {"GET", "pprof/symbolz", "%3Cb%3E"},
		{"GET", "pprof/nosuch", "debug=1"}, {"GET", "pprof/heap", "seconds=1"}, {"GET", "pprof/allocs", "seconds=2&debug=1"},
		{"POST", "gc", ""}, {"POST", "setgc", "gogc=1"}, {"GET", "gc", ""}, {"PUT", "setgc", ""},
		{"GET", "pprof/block", "seconds=1"}, {"GET", "pprof/mutex", "seconds=3"}, {"GET", "pprof/threadcreate", "seconds=1"}, {"GET", "pprof/goroutine", "seconds=1"},
	} {
		f.Add(s[0], s[1], s[2])
	}
	mon := newTestMonitor(f)
	h := newTestTree(f, mon)
	// Profiles would make an iteration last seconds: hold both slots so that valid profile
	// requests get their 429 while every parameter is still checked.
	relA, _, _ := h.allocs.acquire(time.Hour)
	relF, _, _ := h.fgprof.acquire(time.Hour)
	relT, _, _ := h.pprof.slot("trace").acquire(time.Hour)
	var rels []func()
	for _, kind := range []string{"heap", "allocs", "goroutine", "block", "mutex", "threadcreate", "nosuch"} {
		rel, _, _ := h.pprof.slot(kind + "?seconds").acquire(time.Hour)
		rels = append(rels, rel)
	}
	f.Cleanup(func() {
		relA()
		relF()
		relT()
		for _, rel := range rels {
			rel()
		}
	})
	f.Fuzz(func(t *testing.T, method, path, query string) {
		if !validMethod(method) {
			return
		}
		u := &url.URL{Path: testPrefix + path, RawQuery: query}
		r := &http.Request{Method: method, URL: u, Header: http.Header{}, RemoteAddr: "127.0.0.1:1", Host: testHost, Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1}
		r.RequestURI = u.RequestURI()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r.WithContext(ctx))
		if w.Code >= 500 {
			t.Fatalf("%s %s?%s: %d %s", method, path, query, w.Code, w.Body.String())
		}
		checkHygiene(t, w)
		b := w.Body.String()
		if w.Code >= 400 && strings.Contains(b, "<") {
			t.Fatalf("%s %q?%q: error body carries '<': %q", method, path, query, b)
		}
		if strings.Contains(path+query, "<") && strings.Contains(w.Header().Get("Content-Type"), "html") && strings.Contains(b, "<"+strings.SplitN(path+query, "<", 2)[1]) {
			t.Fatalf("%s %q?%q: reflected into HTML", method, path, query)
		}
	})
}

// validMethod is what net/http would accept as a method token.
func validMethod(m string) bool {
	if m == "" || len(m) > 16 {
		return false
	}
	for _, c := range m {
		if c < '!' || c > '~' || strings.ContainsRune(`()<>@,;:\"/[]?={}`, c) {
			return false
		}
	}
	return true
}

// FuzzParseSymbolAddrs: the symbol endpoint's address parser never panics, keeps its bound, and
// every address it returns prints back to a word it reads the same.
func FuzzParseSymbolAddrs(f *testing.F) {
	for _, s := range []string{"", "0x4010a0", "0x1+0x2+", "+++", "12345+0x10", "-1", "0x1ffffffffffffffff", "0X10+0o7+0b1", "1_000", " 0x1 ", "0x1\n+0x2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		addrs, err := parseSymbolAddrs(s, 8)
		if err != nil {
			if strings.Contains(err.Error(), "<") {
				t.Fatalf("%q: error carries markup: %v", s, err)
			}
			return
		}
		if len(addrs) > 8 {
			t.Fatalf("%q: %d addresses past the bound", s, len(addrs))
		}
		for _, a := range addrs {
			back, err := parseSymbolAddrs(fmt.Sprintf("%#x", a), 1)
			if err != nil || len(back) != 1 || back[0] != a {
				t.Fatalf("%q: %#x reads back as %v, %v", s, a, back, err)
			}
		}
	})
}
