package middleware

import (
	"net/http"
	"strings"
	"testing"
)

// FuzzGuard sends arbitrary Host, Origin, Sec-Fetch-Site and Referer values and one arbitrary
// header from a loopback peer. The guard never panics, and whatever it lets through under the
// default rule has a loopback Host, no proxy header, and no sign of a page of another origin.
func FuzzGuard(f *testing.F) {
	for _, s := range [][6]string{
		{"127.0.0.1:8080", "", "", "", "", ""},
		{"localhost", "http://localhost", "same-origin", "", "User-Agent", "curl"},
		{"evil.com", "", "", "", "", ""},
		{"[::1]:1", "null", "cross-site", "", "X-Forwarded-For", "1.2.3.4"},
		{"app.localhost.", "", "none", "http://app.localhost./x", "x-envoy-peer-metadata", "a"},
		{"127.0.0.1", "http://127.0.0.1:80", "", "http://127.0.0.1:3000/", "Via", ""},
		{"[::ffff:127.0.0.1]", "", "SAME-SITE", "::", "L5d-Client-Id", "x"},
	} {
		f.Add(s[0], s[1], s[2], s[3], s[4], s[5])
	}
	t0 := &tree{cfg: defaultConfig()}
	f.Fuzz(func(t *testing.T, host, origin, site, referer, name, value string) {
		r := &http.Request{Method: "GET", Host: host, RemoteAddr: "127.0.0.1:1234", Header: http.Header{}}
		set := func(k, v string) {
			if v != "" {
				r.Header[k] = []string{v}
			}
		}
		set("Origin", origin)
		set("Sec-Fetch-Site", site)
		set("Referer", referer)
		if name != "" {
			r.Header[name] = []string{value}
		}
		err := t0.guard(r)
		if err != nil {
			if strings.ContainsAny(err.Error(), "<>\n") {
				t.Fatalf("a refusal carries markup or a line break: %q", err)
			}
			return
		}
		if h, _ := splitHostPort(host); !isLoopbackName(h) {
			t.Fatalf("served Host %q", host)
		}
		if isProxyHeader(name) {
			t.Fatalf("served a request with the proxy header %q", name)
		}
		if s := strings.ToLower(r.Header.Get("Sec-Fetch-Site")); s != "" && s != "none" && s != "same-origin" {
			t.Fatalf("served Sec-Fetch-Site %q", site)
		}
		if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r) {
			t.Fatalf("served Origin %q for Host %q", o, host)
		}
	})
}
