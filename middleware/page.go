package middleware

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// The page at the tree's root: its handler, its Content-Security-Policy and its template. What it
// shows is assembled in page_view.go, formatted in page_figures.go and drawn in page_svg.go and
// page_charts.go; its live stream is page_events.go.

//go:embed templates/page.html.tmpl templates/page.css templates/page.js
var pageFiles embed.FS

// pageTemplate is parsed once; the CSS and the script are inlined into it so that the page is one
// response and loads nothing else (it must work air-gapped, and its Content-Security-Policy
// forbids any other load).
var pageTemplate = template.Must(template.New("page.html.tmpl").Funcs(template.FuncMap{
	"css": func() template.CSS { return template.CSS(mustReadPageFile("templates/page.css")) },
	"js":  func() template.JS { return template.JS(mustReadPageFile("templates/page.js")) },
}).ParseFS(pageFiles, "templates/page.html.tmpl"))

func mustReadPageFile(name string) string {
	b, err := pageFiles.ReadFile(name)
	if err != nil {
		panic(err) // embedded at build time: cannot fail
	}
	return string(b)
}

// pageReportWait bounds how long a page load waits for a full report. A report that takes longer
// (smaps of a very large process) leaves the page on the cheap tier, saying why, rather than
// holding the request.
const pageReportWait = 5 * time.Second

// registerPage adds the page and its live stream to the tree.
func (t *tree) registerPage() {
	ev := &eventStream{
		latest:    func() runtimediag.Point { p, _ := t.mon.Latest(); return p },
		poll:      pollInterval(time.Duration(t.mon.Stats().TickIntervalSecond * float64(time.Second))),
		lifetime:  t.cfg.maxDuration,
		heartbeat: eventHeartbeat,
		clients:   make(chan struct{}, maxEventClients),
	}
	t.handle("{$}", t.servePage)
	t.handle("events", ev.serve)
}

func (t *tree) servePage(w http.ResponseWriter, r *http.Request) error {
	window, err := reportParams(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), pageReportWait)
	rep, repErr := t.report(ctx, window)
	var he *httpError
	if errors.As(repErr, &he) {
		cancel()
		return repErr // a window the Monitor's readings cannot bound: 400, not a page without a report
	}
	cancel()
	if r.Context().Err() != nil {
		return errClientGone
	}
	p, last := t.mon.Latest()
	if rep == nil {
		rep = last // an older report is better than none
	}
	nonce, err := newNonce()
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	in := pageInput{Point: p, Report: rep, History: t.mon.History(), Custom: t.mon.CustomSeries(), Nonce: nonce}
	if repErr != nil {
		in.ReportErr = repErr.Error()
	}
	if err := renderPage(&buf, &in); err != nil {
		return err
	}
	h := w.Header()
	h.Set("Content-Security-Policy", pageCSP(nonce))
	h.Set("Referrer-Policy", "no-referrer")
	return writeBody(w, "text/html; charset=utf-8", buf.Bytes())
}

// pageCSP allows the page's own inline style and script (by nonce), its live stream, and images
// only from itself or data: URLs. Nothing else loads, so a hostile string that escaped into the
// markup still could not fetch or run anything.
func pageCSP(nonce string) string {
	return "default-src 'none'; script-src 'nonce-" + nonce + "'; style-src 'nonce-" + nonce + "'; " +
		"img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

func newNonce() (string, error) {
	var b [18]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("page nonce: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// pageInput is everything the page is rendered from.
type pageInput struct {
	Point     runtimediag.Point   // the newest tick; zero Time when none
	Report    *runtimediag.Report // the full report; nil while the first one is being taken
	ReportErr string              // why taking a fresh report failed; Report is then an older one or nil
	History   []runtimediag.Point
	Custom    []runtimediag.CustomSeries // the application's own series, in the order of Point.Custom
	Nonce     string
}

// renderPage writes the page for in. It is a pure function of its input, so the golden tests
// pin it byte for byte.
func renderPage(w io.Writer, in *pageInput) error {
	v := buildPageView(in)
	if err := pageTemplate.Execute(w, v); err != nil {
		return fmt.Errorf("rendering page: %w", err)
	}
	return nil
}
