// Package middleware serves memdiag over HTTP: [Handler] is the /debug/memdiag tree (a page people
// read, JSON and text for tools, profiles on demand) and [Instrument] attributes requests, latency,
// stop-the-world delays and allocation to routes. It is the only memdiag package that imports
// net/http.
//
// # Security
//
// Nothing is registered at import time: mount the tree yourself. By default only loopback callers
// are served (the TCP remote address; X-Forwarded-For is not trusted); WithAuthorizer opens it
// deliberately. Environment values and secret-looking command-line arguments are redacted. Every
// request that takes a duration is bounded (WithMaxDuration) and stops when the client goes away.
package middleware
