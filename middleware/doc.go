// Package middleware serves memdiag over HTTP. It has two front doors, each over a
// [runtimediag.Monitor]:
//
//   - [Handler] is the /debug/memdiag tree: a page people read, JSON and text for tools, the
//     runtime's profiles under pprof/ and captures on demand. Mount it on a mux of its own:
//     dbg.Handle("/debug/memdiag/", middleware.Handler(mon)).
//   - [Instrument] wraps the application's handler and attributes requests, latency,
//     stop-the-world delays and allocation to routes, which the Monitor's reports and the page
//     then show: middleware.Instrument(mon)(appMux).
//
// [NewHandler] and [NewInstrument] are the same with a misconfiguration returned as an error at
// construction, for a service that wants to fail at start; Handler and Instrument fail safe
// instead (see each). It is the only memdiag package that imports net/http.
//
// # Options
//
// One [Option] type serves both constructors, but each option belongs to one of them and the
// other refuses it with an error naming both. Handler's: [WithPrefix] (where the tree is
// mounted), [WithMaxDuration] (the bound on every request that takes a duration),
// [WithRuntimeControl] (POST gc and setgc), and who may read the tree — [WithAuthorizer],
// [WithTrustedProxies], [WithAllowedHosts], [WithAllowedOrigins]. Instrument's: [WithRouteFunc]
// (how a request's route is named), [WithMaxRoutes] (how many routes are kept apart) and
// [WithPprofLabels] (the route as a profiler label, for the per-route CPU that [CPUByRoute]
// reads).
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
