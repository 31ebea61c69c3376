package middleware

import (
	"net/http"
	"testing"
)

func TestGuard(t *testing.T) {
	mon := newTestMonitor(t)
	open := newTestTree(t, mon)
	withToken := newTestTree(t, mon, WithAuthorizer(func(r *http.Request) bool { return r.Header.Get("Authorization") == "Bearer ok" }))
	for _, tc := range []struct {
		name   string
		h      http.Handler
		remote string
		header [2]string
		want   int
	}{
		{"IPv4 loopback", open, "127.0.0.1:1234", [2]string{}, 200},
		{"other IPv4 loopback", open, "127.8.9.10:1234", [2]string{}, 200},
		{"IPv6 loopback", open, "[::1]:1234", [2]string{}, 200},
		{"IPv4-mapped loopback", open, "[::ffff:127.0.0.1]:1234", [2]string{}, 200},
		{"remote", open, "203.0.113.7:1234", [2]string{}, 403},
		{"remote claiming loopback", open, "203.0.113.7:1234", [2]string{"X-Forwarded-For", "127.0.0.1"}, 403},
		{"remote with X-Real-IP", open, "203.0.113.7:1234", [2]string{"X-Real-IP", "::1"}, 403},
		{"unspecified", open, "0.0.0.0:1234", [2]string{}, 403},
		{"unix socket peer", open, "@", [2]string{}, 403},
		{"empty", open, "", [2]string{}, 403},
		{"authorizer yes, remote", withToken, "203.0.113.7:1234", [2]string{"Authorization", "Bearer ok"}, 200},
		{"authorizer no, remote", withToken, "203.0.113.7:1234", [2]string{"Authorization", "Bearer no"}, 403},
		{"authorizer no, loopback", withToken, "127.0.0.1:1234", [2]string{}, 403},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newRequest("GET", testPrefix+"history.json", tc.remote)
			if tc.header[0] != "" {
				r.Header.Set(tc.header[0], tc.header[1])
			}
			w := record(tc.h, r)
			checkHygiene(t, w)
			if w.Code != tc.want {
				t.Errorf("status %d, want %d", w.Code, tc.want)
			}
		})
	}
}
