package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// Handler returns the whole memdiag tree, to mount with
//
//	mux.Handle("/debug/memdiag/", middleware.Handler(mon))
//
// (or under WithPrefix's prefix). Every endpoint answers GET and HEAD except gc and setgc;
// captures, pprof/symbol, gc and setgc take POST:
//
//	/               the page
//	/report.json    a fresh full report (docs/report-schema.md); /report.txt the same in plain text;
//	                ?window=5m for the last 5 minutes instead of the last full interval
//	/history.json   the Monitor's history ring, oldest first
//	/events         the page's live stream (server-sent events)
//	/maps           the classified mappings, text or ?format=json
//	/proc           the process's own /proc files, decoded and redacted, ?format=json or text
//	/allocs         top allocation sites over a fresh window: ?seconds=N&format=text|json&top=K
//	/fgprof         a wall-clock profile (felixge/fgprof): ?seconds=N&format=pprof|folded — stops the world ~99 times a second
//	/cpu            a CPU profile (runtime/pprof): ?seconds=N; with Instrument's WithPprofLabels it also fills the report's per-route CPU
//	/leaks          the leak suspects, what grows and who grows it: ?format=json|text; /leaks.json, /leaks.txt
//	/captures       what the Monitor's triggers kept; /captures/{id}/{part} downloads one part;
//	                POST with Content-Type application/json ({"reason":"…"}) takes a capture now
//	/pprof/         the runtime's profiles, bounded: heap (?gc=1), allocs, goroutine (?debug=0|1|2),
//	                block, mutex, threadcreate (?debug=), trace (the flight recorder, or ?seconds=N);
//	                ?seconds=N on heap, allocs, goroutine, block, mutex, threadcreate a delta profile;
//	                /pprof/{name} a profile the service registered with pprof.NewProfile;
//	                /pprof/symbol address to function name (GET, or POST as go tool pprof sends)
//	/gc, /setgc     POST only, and only with WithRuntimeControl: run a GC now, set GOGC
//
// Only loopback callers are served unless WithAuthorizer says otherwise — not requests a proxy on
// the same host forwarded, not a Host that is not a loopback name, not requests a page of another
// origin made (WithTrustedProxies, WithAllowedHosts and WithAllowedOrigins open those
// deliberately); docs/security.md states the trust model and what each endpoint reveals and costs.
// A misconfigured Handler (a nil Monitor, a bad option) answers every request of its own tree
// with 500 naming the misconfiguration — the application's other routes are untouched;
// NewHandler returns the error at construction instead.
func Handler(mon *runtimediag.Monitor, opts ...Option) http.Handler {
	h, err := NewHandler(mon, opts...)
	if err != nil {
		return brokenHandler{err: err}
	}
	return h
}

// NewHandler is Handler with a misconfiguration — a nil Monitor, a bad option, an Instrument
// option — returned as an error at construction.
func NewHandler(mon *runtimediag.Monitor, opts ...Option) (http.Handler, error) {
	if mon == nil {
		return nil, errors.New("middleware: Handler: nil Monitor")
	}
	cfg, err := newConfig(forHandler, opts)
	if err != nil {
		return nil, err
	}
	return newTree(mon, cfg), nil
}

// brokenHandler answers every request with the option error, so a misconfiguration is seen on the
// first request instead of being a silent 404.
type brokenHandler struct{ err error }

func (b brokenHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setCommonHeaders(w.Header())
	writePlain(w, http.StatusInternalServerError, "memdiag handler misconfigured: "+b.err.Error()+"\n")
}

// Bounds on what a request may carry. Nothing in the tree needs more; a longer URL is an attack or
// a mistake, and answering it early keeps its bytes out of every later step.
const (
	maxPathBytes  = 512
	maxQueryBytes = 512
)

// tree is the /debug/memdiag tree: a ServeMux of Go 1.22 method patterns under the prefix, and the
// state the endpoints share.
type tree struct {
	mon *runtimediag.Monitor
	cfg config
	mux *http.ServeMux

	// One profile of each kind at a time: each holds a goroutine and memory for its whole window,
	// and fgprof stops the world ~99 times a second.
	allocs profileSlot
	fgprof profileSlot
	cpu    profileSlot
	// The runtime's named profiles and the trace (profile_pprof.go): a slot per kind, and one
	// rate limit shared by those that stop the world.
	pprof pprofSlots
	// Captures taken over HTTP: one at a time, one per captureInterval.
	captureLimit captureLimiter
	// One /proc read at a time: threads and descriptors cost a few file reads each, and 32 clients
	// asking at once should wait for each other rather than multiply that cost.
	procSem chan struct{}

	// posts maps each path that takes POST to what its methods are, for 405s.
	posts map[string]string

	// lastJSON is the last report rendered for report.json: clients polling within reportReuse
	// of each other are served the Monitor's same report, and its bytes are rendered once.
	lastJSON atomic.Pointer[renderedReport]
}

// renderedReport is a report and its JSON.
type renderedReport struct {
	rep  *runtimediag.Report
	body []byte
}

// jsonRenderer is an indenting encoder and its buffer, kept between reports so that rendering
// one allocates little more than the copy of its bytes.
type jsonRenderer struct {
	buf bytes.Buffer
	enc *json.Encoder
}

var jsonRenderers = sync.Pool{New: func() any {
	r := &jsonRenderer{}
	r.enc = json.NewEncoder(&r.buf)
	r.enc.SetIndent("", "  ")
	return r
}}

// reportJSON is rep's JSON, rendered once per report.
func (t *tree) reportJSON(rep *runtimediag.Report) ([]byte, error) {
	if c := t.lastJSON.Load(); c != nil && c.rep == rep {
		return c.body, nil
	}
	r := jsonRenderers.Get().(*jsonRenderer)
	defer jsonRenderers.Put(r)
	r.buf.Reset()
	if err := r.enc.Encode(rep); err != nil {
		return nil, fmt.Errorf("encoding json: %w", err)
	}
	body := bytes.Clone(r.buf.Bytes())
	t.lastJSON.Store(&renderedReport{rep: rep, body: body})
	return body, nil
}

func newTree(mon *runtimediag.Monitor, cfg config) *tree {
	t := &tree{mon: mon, cfg: cfg, mux: http.NewServeMux(), procSem: make(chan struct{}, 1), posts: map[string]string{
		cfg.prefix + "captures":      "captures answers GET and HEAD, and POST to take a capture",
		cfg.prefix + "pprof/symbol":  "pprof/symbol answers GET and HEAD, and POST with addresses to name",
		cfg.prefix + "pprof/symbolz": "pprof/symbolz answers GET and HEAD, and POST with addresses to name",
	}}
	t.handle("report.json", t.serveReportJSON)
	t.handle("report.txt", t.serveReportText)
	t.handle("history.json", t.serveHistory)
	t.handle("maps", t.serveMaps)
	t.handle("proc", t.serveProc)
	t.handle("allocs", t.serveAllocs)
	t.handle("fgprof", t.serveFgprof)
	t.handle("cpu", t.serveCPU)
	t.handle("leaks", t.serveLeaks(""))
	t.handle("leaks.json", t.serveLeaks("json"))
	t.handle("leaks.txt", t.serveLeaks("text"))
	t.handle("captures", t.serveCaptureList)
	t.handle("captures/{id}/{part}", t.serveCapturePart)
	t.handleMethod("POST", "captures", t.servePostCapture)
	t.registerPprof()
	t.registerRuntimeControl()
	// The page ("/" and "/events") lives in page.go, written separately; registerPage adds it with
	// t.handle("{$}", …) and t.handle("events", …).
	t.registerPage()
	return t
}

// endpoint is a handler of the tree: it returns its error instead of writing it, so that every
// error response is written by writeError alone.
type endpoint func(w http.ResponseWriter, r *http.Request) error

// handle registers fn for GET (and so HEAD) of prefix+name.
func (t *tree) handle(name string, fn endpoint) { t.handleMethod("GET", name, fn) }

// handleMethod registers fn for method of prefix+name. Only GET, HEAD, and POST to the paths in
// t.posts, get past serveHTTP.
func (t *tree) handleMethod(method, name string, fn endpoint) {
	t.mux.Handle(method+" "+t.cfg.prefix+name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := fn(w, r); err != nil {
			writeRequestError(w, r, err)
		}
	}))
}

func (t *tree) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setCommonHeaders(w.Header())
	if err := t.serveHTTP(w, r); err != nil {
		writeRequestError(w, r, err)
	}
}

// serveHTTP checks what every endpoint needs checked — who asks, how, for which path — and hands
// the request to the ServeMux.
func (t *tree) serveHTTP(w http.ResponseWriter, r *http.Request) error {
	if err := t.guard(r); err != nil {
		return err
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// A few endpoints take POST: captures takes a capture (captures.go), pprof/symbol reads
		// addresses from the body as net/http/pprof's does, gc and setgc change the runtime
		// (runtime_control.go). Each checks the body's Content-Type itself.
		what, ok := t.posts[r.URL.Path]
		if !ok {
			w.Header().Set("Allow", "GET, HEAD")
			return &httpError{status: http.StatusMethodNotAllowed, msg: "method: only GET and HEAD are served"}
		}
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "GET, HEAD, POST")
			if _, pattern := t.mux.Handler(&http.Request{Method: http.MethodGet, URL: r.URL, Host: r.Host}); pattern == "" {
				w.Header().Set("Allow", "POST") // gc and setgc have no GET
			}
			return &httpError{status: http.StatusMethodNotAllowed, msg: "method: " + what}
		}
	}
	if len(r.URL.Path) > maxPathBytes || len(r.URL.RawPath) > maxPathBytes || len(r.URL.RawQuery) > maxQueryBytes {
		return &httpError{status: http.StatusRequestURITooLong, msg: fmt.Sprintf("url: longer than %d bytes of path or %d of query", maxPathBytes, maxQueryBytes)}
	}
	// Only canonical paths reach the ServeMux: it would answer "..", "//" and encoded slashes with a
	// redirect built from the request, and a diagnostics tree has no use for either.
	if p := r.URL.Path; r.URL.RawPath != "" || !isClean(p) {
		return errNotFound
	}
	if !strings.HasPrefix(r.URL.Path, t.cfg.prefix) {
		// Mounted under another prefix (or behind http.StripPrefix) without WithPrefix: say so,
		// rather than a bare 404 that reads like a missing endpoint.
		return &httpError{status: http.StatusNotFound, msg: "path: not found: not under this handler's prefix " + strconv.Quote(t.cfg.prefix) +
			"; mounted under another one, pass middleware.WithPrefix with it (docs/getting-started.md)"}
	}
	if _, pattern := t.mux.Handler(r); pattern == "" {
		if what, ok := t.posts[r.URL.Path]; ok {
			// gc and setgc have no GET.
			w.Header().Set("Allow", "POST")
			return &httpError{status: http.StatusMethodNotAllowed, msg: "method: " + what}
		}
		return errNotFound
	}
	t.mux.ServeHTTP(w, r)
	return nil
}

// isClean reports whether p is its own path.Clean, a trailing slash allowed.
func isClean(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// httpError is an error with the status it answers with. Its message names the parameter that is
// wrong and never carries raw request bytes: anything taken from the request goes through quote.
type httpError struct {
	status     int
	msg        string
	retryAfter int // seconds, for 429
}

func (e *httpError) Error() string { return e.msg }

var errNotFound = &httpError{status: http.StatusNotFound, msg: "path: not found (see docs/security.md for the endpoints)"}

// errClientGone is returned when the request's context ended. Whether anyone is left to read an
// answer is writeRequestError's to decide, from the context.
var errClientGone = errors.New("the request's context ended")

func badParam(name, format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, msg: name + ": " + fmt.Sprintf(format, args...)}
}

// writeRequestError answers r with err, or nothing when r's client went away. net/http cancels a
// request's context when its connection closes, so context.Canceled on r.Context() means nobody
// is left to read an answer. A deadline is different: http.TimeoutHandler or a middleware's
// context.WithTimeout ended the request on the server's side while its client still waits, and
// an empty 200 would tell that client nothing, so it gets 503 with the reason (under
// TimeoutHandler the handler's own 503 is the one sent).
func writeRequestError(w http.ResponseWriter, r *http.Request, err error) {
	ctxErr := r.Context().Err()
	if errors.Is(ctxErr, context.Canceled) {
		return
	}
	if ctxErr != nil && errors.Is(err, errClientGone) {
		err = fmt.Errorf("%w: %w", err, context.Cause(r.Context()))
	}
	writeError(w, err)
}

// writeError is the one place error responses are written. A context that ended (errClientGone,
// or a context error from a step) answers 503 with the reason.
func writeError(w http.ResponseWriter, err error) {
	if errors.Is(err, errClientGone) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		err = &httpError{status: http.StatusServiceUnavailable, msg: "unavailable: the request's work ended before its answer was ready (" + err.Error() + ")"}
	}
	var he *httpError
	if !errors.As(err, &he) {
		status := http.StatusInternalServerError
		if errors.Is(err, runtimediag.ErrClosed) {
			status = http.StatusServiceUnavailable
		}
		he = &httpError{status: status, msg: err.Error()}
	}
	h := w.Header()
	h.Del("Content-Disposition")
	h.Del("Content-Encoding")
	setCommonHeaders(h)
	if he.retryAfter > 0 {
		h.Set("Retry-After", strconv.Itoa(he.retryAfter))
	}
	writePlain(w, he.status, he.msg+"\n")
}

func setCommonHeaders(h http.Header) {
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
}

func writePlain(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// writeBody writes a rendered body with its type and length. Everything the tree serves is
// rendered into memory first, so an error found while rendering is still a clean error response.
func writeBody(w http.ResponseWriter, contentType string, body []byte) error {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
	return nil
}

func writeJSON(w http.ResponseWriter, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encoding json: %w", err)
	}
	return writeBody(w, "application/json; charset=utf-8", buf.Bytes())
}

const contentTypeText = "text/plain; charset=utf-8"

// quote renders request bytes for an error message: printable ASCII letters, digits and a few
// punctuation marks as they are, everything else (markup, quotes, control and non-ASCII bytes) as
// \xNN, cut to 64 bytes. A message can then never carry markup, whatever a client sends.
func quote(s string) string {
	const max = 64
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if i == max {
			b.WriteString("…")
			break
		}
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9',
			c == '.', c == '-', c == '_', c == '/', c == ' ', c == ',', c == ':', c == '+':
			b.WriteByte(c)
		default:
			fmt.Fprintf(&b, `\x%02x`, c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// params is a request's query, checked: every parameter known to the endpoint, none repeated.
type params url.Values

func parseParams(r *http.Request, known ...string) (params, error) {
	q, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, badParam("query", "malformed (%s)", quote(r.URL.RawQuery))
	}
	var unknown []string
	for k, vs := range q {
		if cacheBuster(k) {
			delete(q, k)
			continue
		}
		isKnown := false
		for _, n := range known {
			if k == n {
				isKnown = true
			}
		}
		if !isKnown {
			unknown = append(unknown, quote(k))
			continue
		}
		if len(vs) > 1 {
			return nil, badParam(k, "given %d times, want it once", len(vs))
		}
	}
	if len(unknown) > 0 {
		if len(unknown) > 4 {
			unknown = append(unknown[:4], "…")
		}
		want := "none"
		if len(known) > 0 {
			want = strings.Join(known, ", ")
		}
		return nil, badParam("query", "unknown parameter %s (this endpoint takes: %s)", strings.Join(unknown, ", "), want)
	}
	return params(q), nil
}

// cacheBuster reports whether a query parameter is one clients add only to defeat caches
// ("?t=1712345678", jQuery's "?_=…"): every endpoint accepts and ignores them, whatever their
// value and however often given. The answers are no-store anyway.
func cacheBuster(name string) bool { return name == "t" || name == "_" }

// format returns the format parameter, one of allowed (the first is the default).
func (p params) format(allowed ...string) (string, error) {
	vs, ok := p["format"]
	if !ok {
		return allowed[0], nil
	}
	for _, a := range allowed {
		if vs[0] == a {
			return a, nil
		}
	}
	return "", badParam("format", "must be one of %s, not %s", strings.Join(allowed, ", "), quote(vs[0]))
}

// seconds returns the seconds parameter: a positive integer no larger than max (def when absent).
func (p params) seconds(def, max time.Duration) (time.Duration, error) {
	maxSec := int64(max / time.Second)
	vs, ok := p["seconds"]
	if !ok {
		return min(def, max), nil
	}
	n, err := strconv.ParseInt(vs[0], 10, 64)
	if err != nil || !allDigits(vs[0]) || n < 1 || n > maxSec {
		return 0, badParam("seconds", "must be an integer between 1 and %d, not %s", maxSec, quote(vs[0]))
	}
	return time.Duration(n) * time.Second, nil
}

// intParam returns an integer parameter in [lo, hi] (def when absent).
func (p params) intParam(name string, def, lo, hi int) (int, error) {
	vs, ok := p[name]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(vs[0])
	if err != nil || !allDigits(vs[0]) || n < lo || n > hi {
		return 0, badParam(name, "must be an integer between %d and %d, not %s", lo, hi, quote(vs[0]))
	}
	return n, nil
}

// allDigits is true for a plain decimal number: no sign, no space, no base prefix.
func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// reportReuse is how old the Monitor's last report may be and still answer /report.json: clients
// polling together share one full collection (which walks the page tables) instead of each
// forcing one.
const reportReuse = time.Second

// report returns a full report: over the Monitor's own window (the last full interval) when
// window is 0, one no older than reportReuse, taking one when needed; over the last window
// otherwise. Neither moves the window anyone else sees. The page uses it too.
func (t *tree) report(ctx context.Context, window time.Duration) (*runtimediag.Report, error) {
	if window > 0 {
		rep, err := t.mon.ReportWindow(ctx, window)
		if errors.Is(err, runtimediag.ErrWindowOutOfRange) {
			return nil, badParam("window", "%s", strings.TrimPrefix(err.Error(), "runtimediag: "))
		}
		return rep, err
	}
	if _, rep := t.mon.Latest(); rep != nil && time.Since(rep.Time) < reportReuse {
		return rep, nil
	}
	return t.mon.Report(ctx)
}

// maxWindowParam bounds the window parameter before the Monitor checks it against its readings.
const maxWindowParam = 30 * 24 * time.Hour

// window returns the window parameter, a Go duration ("5m", "90s"); 0 when absent. Whether the
// Monitor's readings reach that far is the Monitor's to say.
func (p params) window() (time.Duration, error) {
	vs, ok := p["window"]
	if !ok {
		return 0, nil
	}
	d, err := time.ParseDuration(vs[0])
	if err != nil || d <= 0 || d > maxWindowParam {
		return 0, badParam("window", "must be a positive duration such as 5m or 90s, at most %s, not %s", maxWindowParam, quote(vs[0]))
	}
	return d, nil
}

// reportParams parses a report endpoint's query: the window and nothing else.
func reportParams(r *http.Request) (time.Duration, error) {
	p, err := parseParams(r, "window")
	if err != nil {
		return 0, err
	}
	return p.window()
}

func (t *tree) serveReportJSON(w http.ResponseWriter, r *http.Request) error {
	window, err := reportParams(r)
	if err != nil {
		return err
	}
	rep, err := t.report(r.Context(), window)
	if err != nil {
		return err
	}
	body, err := t.reportJSON(rep)
	if err != nil {
		return err
	}
	return writeBody(w, "application/json; charset=utf-8", body)
}

func (t *tree) serveReportText(w http.ResponseWriter, r *http.Request) error {
	window, err := reportParams(r)
	if err != nil {
		return err
	}
	rep, err := t.report(r.Context(), window)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	renderReportText(&buf, rep)
	return writeBody(w, contentTypeText, buf.Bytes())
}

func (t *tree) serveHistory(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseParams(r); err != nil {
		return err
	}
	pts := t.mon.History()
	if pts == nil {
		pts = []runtimediag.Point{}
	}
	return writeJSON(w, pts)
}
