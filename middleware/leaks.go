package middleware

import (
	"bytes"
	"net/http"

	"github.com/memdiag/memdiag/runtimediag/reporttext"
)

// serveLeaks answers /leaks (?format=json|text, JSON by default), /leaks.json and /leaks.txt: the
// Monitor's leak suspects as of now, from the readings its own schedule took — asking takes no
// reading, so it costs no more than rendering them. The JSON is the report's leaks section
// (docs/report-schema.md).
func (t *tree) serveLeaks(format string) endpoint {
	return func(w http.ResponseWriter, r *http.Request) error {
		var known []string
		if format == "" {
			known = []string{"format"}
		}
		p, err := parseParams(r, known...)
		if err != nil {
			return err
		}
		f := format
		if f == "" {
			if f, err = p.format("json", "text"); err != nil {
				return err
			}
		}
		l := t.mon.Leaks()
		if l == nil {
			return &httpError{status: http.StatusNotFound, msg: "leaks: leak tracking is off for this Monitor (runtimediag.WithLeakTracking)"}
		}
		if f == "json" {
			return writeJSON(w, l)
		}
		var buf bytes.Buffer
		if err := reporttext.WriteLeaks(&buf, l); err != nil {
			return err
		}
		return writeBody(w, contentTypeText, buf.Bytes())
	}
}
