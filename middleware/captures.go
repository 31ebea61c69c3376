package middleware

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
	"github.com/memdiag/memdiag/runtimediag/reporttext"
)

// serveCaptureList lists what the Monitor's triggers kept, newest last: JSON (with each
// capture's report) or a text table with the paths to download each part.
func (t *tree) serveCaptureList(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "format")
	if err != nil {
		return err
	}
	format, err := p.format("json", "text")
	if err != nil {
		return err
	}
	caps := t.mon.Captures()
	if format == "json" {
		if caps == nil {
			caps = []runtimediag.CaptureInfo{}
		}
		return writeJSON(w, caps)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "memdiag captures: %d stored\n\n", len(caps))
	tw := tabwriter.NewWriter(&buf, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "id\ttime\ttrigger\tbytes\tparts\treason\n")
	for _, c := range caps {
		parts := make([]string, len(c.Parts))
		for i, part := range c.Parts {
			parts[i] = "captures/" + strconv.FormatUint(c.ID, 10) + "/" + part.Name
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Time.UTC().Format(time.RFC3339), c.Trigger, humanize.Bytes(uint64(c.Bytes)), strings.Join(parts, " "), reporttext.OneLine(c.Reason))
	}
	tw.Flush()
	for _, c := range caps {
		for _, n := range c.Notes {
			fmt.Fprintf(&buf, "note on %d: %s\n", c.ID, reporttext.OneLine(n))
		}
	}
	return writeBody(w, contentTypeText, buf.Bytes())
}

var captureParts = []string{runtimediag.CapturePartHeap, runtimediag.CapturePartGoroutine, runtimediag.CapturePartTrace, runtimediag.CapturePartHeapBase}

// serveCapturePart downloads one part of a capture: a pprof profile or a trace, bounded in size by
// the Monitor's capture storage.
func (t *tree) serveCapturePart(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseParams(r); err != nil {
		return err
	}
	idText, part := r.PathValue("id"), r.PathValue("part")
	id, err := strconv.ParseUint(idText, 10, 64)
	if err != nil || id == 0 || len(idText) > 20 || idText[0] == '0' {
		return badParam("id", "must be a capture number from the list at captures, not %s", quote(idText))
	}
	known := false
	for _, p := range captureParts {
		known = known || p == part
	}
	if !known {
		return badParam("part", "must be one of %s, not %s", strings.Join(captureParts, ", "), quote(part))
	}
	var buf bytes.Buffer
	if err := t.mon.WriteCapture(&buf, id, part); err != nil {
		if errors.Is(err, runtimediag.ErrCaptureNotFound) {
			return &httpError{status: http.StatusNotFound, msg: fmt.Sprintf("capture: no part %s of capture %d is stored (evicted, or never taken)", part, id)}
		}
		return err
	}
	name := part + ".pb.gz"
	if part == runtimediag.CapturePartTrace {
		name = "trace.out"
	}
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="memdiag-capture-%d-%s"`, id, name))
	return writeBody(w, "application/octet-stream", buf.Bytes())
}

// captureInterval is how often a capture may be taken over HTTP: each one stops the world for a
// goroutine profile and walks the page tables for a full report.
const captureInterval = 5 * time.Second

// maxCaptureBody bounds the JSON a capture request may carry.
const maxCaptureBody = 4 << 10

// maxCaptureReason bounds the reason kept with a capture.
const maxCaptureReason = 200

// captureRequestBody is what POST {prefix}captures may carry; an empty body is {}.
type captureRequestBody struct {
	Reason string `json:"reason"`
}

// captureLimiter lets one capture run at a time and one start per captureInterval.
type captureLimiter struct {
	mu   sync.Mutex
	busy bool
	last time.Time
}

func (l *captureLimiter) acquire(now time.Time) (release func(), retry time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.busy {
		return nil, captureInterval
	}
	if next := l.last.Add(captureInterval); !l.last.IsZero() && now.Before(next) {
		return nil, next.Sub(now)
	}
	l.busy, l.last = true, now
	return func() {
		l.mu.Lock()
		l.busy = false
		l.mu.Unlock()
	}, 0
}

// servePostCapture takes a capture now (Monitor.Capture) and answers 201 with its description.
// It is the tree's one endpoint that changes state, so on top of the guard (which already refuses
// a foreign Origin and Sec-Fetch-Site cross-site or same-site) it takes only a JSON body: a page
// of another origin cannot send Content-Type application/json without a CORS preflight, which the
// tree never answers, and an HTML form cannot send it at all.
func (t *tree) servePostCapture(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseParams(r); err != nil {
		return err
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return &httpError{status: http.StatusUnsupportedMediaType,
			msg: "content-type: a capture is taken only with Content-Type: application/json (a cross-site form or no-cors fetch cannot send it), not " + quote(ct) +
				`; for example: curl -X POST -H 'Content-Type: application/json' -d '{"reason":"why"}' URL`}
	}
	var req captureRequestBody
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxCaptureBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &httpError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("body: longer than %d bytes", maxCaptureBody)}
		}
		return badParam("body", `must be a JSON object such as {"reason":"why"} (the only field), not valid here: %s`, quote(err.Error()))
	}
	if dec.More() {
		return badParam("body", "must hold one JSON object")
	}
	reason := reporttext.OneLine(strings.TrimSpace(req.Reason))
	if len(reason) > maxCaptureReason {
		return badParam("reason", "longer than %d bytes", maxCaptureReason)
	}
	if reason == "" {
		reason = "asked for over HTTP"
	}
	release, retry := t.captureLimit.acquire(time.Now())
	if release == nil {
		return busyError("captures", retry)
	}
	defer release()
	// The capture's report waits at most this long; the profiles are taken whatever happens.
	ctx, cancel := context.WithTimeout(r.Context(), min(t.cfg.maxDuration, 30*time.Second))
	defer cancel()
	info, err := t.mon.Capture(ctx, reason)
	if err != nil {
		return err
	}
	w.Header().Set("Location", t.cfg.prefix+"captures/"+strconv.FormatUint(info.ID, 10)+"/"+runtimediag.CapturePartHeap)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(info); err != nil {
		return fmt.Errorf("encoding json: %w", err)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(http.StatusCreated)
	_, _ = w.Write(buf.Bytes())
	return nil
}
