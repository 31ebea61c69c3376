// Package middleware serves memdiag over HTTP: [Handler] is the /debug/memdiag tree (a page people
// read, JSON and text for tools, the runtime's profiles under pprof/ and captures on demand) and [Instrument] attributes requests, latency,
// stop-the-world delays and allocation to routes. It is the only memdiag package that imports
// net/http.
//
// # Security
//
// Nothing is registered at import time: mount the tree yourself, on a listener of its own on
// 127.0.0.1 rather than the application's. By default only loopback callers are served (the TCP
// remote address; X-Forwarded-For is not trusted), and of those not requests that carry a proxy's
// headers (a proxy on the same host connects from loopback for every client), not a Host that is
// not a loopback name (DNS rebinding), and not requests a page of another origin made
// (Sec-Fetch-Site, Origin, Referer). WithAuthorizer, WithTrustedProxies, WithAllowedHosts and
// WithAllowedOrigins open it deliberately. Secrets in the command line and in allowlisted
// environment values are redacted by name and by shape. Every request that takes a duration is
// bounded (WithMaxDuration) and stops when the client goes away; a profile that stops the world
// is served at most once a second. The request that changes state by default, POST captures, is
// taken only with a JSON body, which a page of another origin cannot send without a CORS
// preflight. POST gc and POST setgc, which change how the service runs (gops' gc and setgc), exist
// only with WithRuntimeControl, take the same JSON-only rule, and are logged at Info through the
// Monitor's logger.
package middleware
