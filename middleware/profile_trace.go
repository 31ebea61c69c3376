package middleware

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"runtime/trace"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// defaultTraceSeconds is a fresh trace's window when no flight recorder runs and ?seconds is not
// given: net/http/pprof's default, and enough to see a few GC cycles of a busy service.
const defaultTraceSeconds = time.Second

// serveTrace serves an execution trace: the Monitor's flight recorder window when it runs one and
// ?seconds is not given (no waiting, no new tracing), else a fresh trace of ?seconds, held in
// memory up to maxTraceBytes.
func (t *tree) serveTrace(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "seconds")
	if err != nil {
		return err
	}
	_, fresh := p["seconds"]
	d, err := p.seconds(defaultTraceSeconds, t.cfg.maxDuration)
	if err != nil {
		return err
	}
	const contentType = "application/octet-stream"
	w.Header().Set("Content-Disposition", `attachment; filename="trace.out"`)
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", contentType)
		return nil
	}
	release, ok, retry := t.pprof.slot("trace").acquire(d)
	if !ok {
		return busyError("trace", retry)
	}
	defer release()

	if !fresh {
		var buf bytes.Buffer
		_, err := t.mon.WriteFlightRecorder(&buf)
		if err == nil {
			w.Header().Set("X-Memdiag-Note", "the Monitor's flight recorder window (runtimediag.WithFlightRecorder); ?seconds=N takes a fresh trace instead")
			return writeBody(w, contentType, buf.Bytes())
		}
		if !errors.Is(err, runtimediag.ErrNoFlightRecorder) {
			return fmt.Errorf("trace: flight recorder: %w", err)
		}
	}

	buf := &cappedBuffer{cap: maxTraceBytes}
	if err := trace.Start(buf); err != nil {
		return &httpError{status: http.StatusConflict,
			msg: fmt.Sprintf("trace: another execution trace is running in the process (%v); the runtime allows one at a time", err)}
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			trace.Stop()
		}
	}
	// Whatever happens, tracing stops: it costs the service CPU on every scheduling event.
	defer stop()
	extendWriteDeadline(w, d)
	if err := wait(r.Context(), d); err != nil {
		return err
	}
	stop()
	if buf.over {
		return &httpError{status: http.StatusInsufficientStorage,
			msg: fmt.Sprintf("trace: more than %d MiB in %s, the bound memdiag holds in memory; ask for fewer seconds", maxTraceBytes>>20, d)}
	}
	return writeBody(w, contentType, buf.Bytes())
}
