package middleware

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
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
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Time.UTC().Format(time.RFC3339), c.Trigger, humanize.Bytes(uint64(c.Bytes)), strings.Join(parts, " "), oneLine(c.Reason))
	}
	tw.Flush()
	for _, c := range caps {
		for _, n := range c.Notes {
			fmt.Fprintf(&buf, "note on %d: %s\n", c.ID, oneLine(n))
		}
	}
	return writeBody(w, contentTypeText, buf.Bytes())
}

var captureParts = []string{runtimediag.CapturePartHeap, runtimediag.CapturePartGoroutine, runtimediag.CapturePartTrace}

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
