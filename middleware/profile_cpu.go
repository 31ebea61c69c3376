package middleware

import (
	"bytes"
	"fmt"
	"net/http"
	"runtime/pprof"
)

// serveCPU runs the runtime's CPU profiler over the window, serves the profile (the pprof proto
// /debug/pprof/profile serves) and keeps its split by route for the Monitor's reports
// (RouteStats.CPU, through noteCPUProfile). The profiler samples at 100 Hz from a signal handler:
// no stop-the-world. The runtime allows one CPU profile per process, so a profile started by
// anything else (net/http/pprof, a test) makes this one answer 409.
func (t *tree) serveCPU(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "seconds")
	if err != nil {
		return err
	}
	d, err := p.seconds(defaultProfileSeconds, t.cfg.maxDuration)
	if err != nil {
		return err
	}
	const contentType = "application/octet-stream"
	w.Header().Set("Content-Disposition", `attachment; filename="cpu.pb.gz"`)
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", contentType)
		return nil
	}
	release, ok, retry := t.cpu.acquire(d)
	if !ok {
		return busyError("cpu", retry)
	}
	defer release()

	var buf bytes.Buffer
	if err := pprof.StartCPUProfile(&buf); err != nil {
		return &httpError{status: http.StatusConflict,
			msg: fmt.Sprintf("cpu: another CPU profile is running in the process (%v); the runtime allows one at a time", err)}
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			pprof.StopCPUProfile()
		}
	}
	// Whatever happens, the profiler stops: it is the process's one CPU profile.
	defer stop()
	extendWriteDeadline(w, d)
	if err := wait(r.Context(), d); err != nil {
		return err
	}
	stop()

	note, err := noteCPUProfile(t.mon, buf.Bytes())
	if err != nil {
		note = "the profile could not be split by route: " + err.Error()
	}
	if note != "" {
		w.Header().Set("X-Memdiag-Note", note)
	}
	return writeBody(w, contentType, buf.Bytes())
}
