package middleware

import (
	"net/http"
	"testing"
)

// BenchmarkGuard is the guard's cost on a request a browser on this host sends: the peer, ten
// headers looked at for a proxy's, the Host, and the origin headers.
func BenchmarkGuard(b *testing.B) {
	t0 := &tree{cfg: defaultConfig()}
	r := &http.Request{Method: "GET", Host: "127.0.0.1:6061", RemoteAddr: "127.0.0.1:50000", Header: hdr(
		"User-Agent", "Mozilla/5.0", "Accept", "text/html", "Accept-Encoding", "gzip", "Accept-Language", "en",
		"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Mode", "cors", "Sec-Fetch-Dest", "empty",
		"Referer", "http://127.0.0.1:6061/debug/memdiag/", "Connection", "keep-alive", "Cache-Control", "no-cache",
	)}
	b.ReportAllocs()
	for b.Loop() {
		if err := t0.guard(r); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRedactArgs is what /proc pays for a service's command line of 12 arguments, a DSN and
// a header among them.
func BenchmarkRedactArgs(b *testing.B) {
	args := []string{"/usr/local/bin/orders", "--addr=:8080", "--db=app:hunter2@tcp(db.internal:3306)/orders?parseTime=true",
		"--redis-url=redis://:s3cret@cache:6379/0", "--session-timeout=30s", "--max-tokens=100",
		"--tls-key-file=/etc/tls/server.key", "--header", "X-Api-Key: 9f8e7d6c5b4a", "--skip-auth",
		"/etc/app/config.yaml", "--log-level=info"}
	b.ReportAllocs()
	for b.Loop() {
		redactArgs(args)
	}
}
