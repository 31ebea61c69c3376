package middleware

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"go.uber.org/zap"
)

// POST {prefix}gc and POST {prefix}setgc, gops' gc and setgc: the tree's only endpoints that
// change how the process runs, so they answer 403 unless the Handler was given
// WithRuntimeControl, and every use is logged at Info through the Monitor's logger.

// WithRuntimeControl turns on POST {prefix}gc (run a full GC now) and POST {prefix}setgc (set
// GOGC), gops' gc and setgc. Off by default: memdiag observes the service, and these change it.
// Both are taken only with Content-Type application/json, on top of the guard, as POST captures
// is; each use is logged at Info through the Monitor's logger. A Handler option.
func WithRuntimeControl() Option {
	return handlerOption("WithRuntimeControl", func(c *config) error {
		c.runtimeControl = true
		return nil
	})
}

func (t *tree) registerRuntimeControl() {
	t.posts[t.cfg.prefix+"gc"] = "gc takes POST only (it runs a GC): GET and HEAD have nothing to read"
	t.posts[t.cfg.prefix+"setgc"] = `setgc takes POST only, with {"gogc": N}: GET and HEAD have nothing to read`
	t.handleMethod("POST", "gc", t.serveGC)
	t.handleMethod("POST", "setgc", t.serveSetGC)
}

// errRuntimeControlOff is the answer of gc and setgc on a tree without WithRuntimeControl.
func errRuntimeControlOff(name string) error {
	return &httpError{status: http.StatusForbidden, msg: "forbidden: " + name + " changes the service's runtime, so it is off unless the service passes middleware.WithRuntimeControl() to middleware.Handler (docs/security.md)"}
}

// maxControlBody bounds the JSON gc and setgc take.
const maxControlBody = 1 << 10

// readControlBody checks a control request as servePostCapture checks a capture request — no
// query, Content-Type application/json (which a cross-site form or no-cors fetch cannot send),
// one JSON object with known fields — and decodes it into v.
func readControlBody(w http.ResponseWriter, r *http.Request, name string, v any) error {
	if _, err := parseParams(r); err != nil {
		return err
	}
	ct := r.Header.Get("Content-Type")
	if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
		return &httpError{status: http.StatusUnsupportedMediaType,
			msg: "content-type: " + name + " is taken only with Content-Type: application/json (a cross-site form or no-cors fetch cannot send it), not " + quote(ct)}
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxControlBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		switch {
		case errors.As(err, &tooBig):
			return &httpError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("body: longer than %d bytes", maxControlBody)}
		case errors.Is(err, io.EOF):
			return badParam("body", "empty: want one JSON object")
		}
		return badParam("body", "must be one JSON object with the fields %s takes, not valid here: %s", name, quote(err.Error()))
	}
	if dec.More() {
		return badParam("body", "must hold one JSON object")
	}
	return nil
}

// gcResult is POST {prefix}gc's answer.
type gcResult struct {
	// DurationSeconds is the wall time runtime.GC took: a full cycle, its marking and sweeping
	// included, with the service running beside it.
	DurationSeconds float64     `json:"duration_seconds"`
	Before          heapFigures `json:"before"`
	After           heapFigures `json:"after"`
	// GCCycles is how many cycles completed during the request: 1, or more when the service's
	// own cycles ran too.
	GCCycles uint64 `json:"gc_cycles"`
}

// heapFigures is the heap around a forced GC, from runtime/metrics (no stop-the-world).
type heapFigures struct {
	// HeapObjectsBytes is /memory/classes/heap/objects:bytes: live objects and dead ones not
	// yet swept.
	HeapObjectsBytes uint64 `json:"heap_objects_bytes"`
	// HeapLiveBytes is /gc/heap/live:bytes, the heap the last cycle marked live.
	HeapLiveBytes uint64 `json:"heap_live_bytes"`
	cycles        uint64
}

func readHeapFigures() heapFigures {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	out := make([]uint64, len(s))
	for i := range s {
		if s[i].Value.Kind() == metrics.KindUint64 {
			out[i] = s[i].Value.Uint64()
		}
	}
	return heapFigures{HeapObjectsBytes: out[0], HeapLiveBytes: out[1], cycles: out[2]}
}

// serveGC runs a full GC cycle, as gops gc does, and says what it took and freed. It counts as a
// profile that stops the world (one per second across kinds) and runs one at a time.
func (t *tree) serveGC(w http.ResponseWriter, r *http.Request) error {
	if !t.cfg.runtimeControl {
		return errRuntimeControlOff("gc")
	}
	var req struct{}
	if err := readControlBody(w, r, "gc", &req); err != nil {
		return err
	}
	release, ok, retry := t.pprof.slot("gc").acquire(time.Second)
	if !ok {
		return busyError("gc", retry)
	}
	defer release()
	if ok, retry := t.pprof.allowSTW(time.Now()); !ok {
		return stwLimited("gc", retry)
	}
	var res gcResult
	res.Before = readHeapFigures()
	start := time.Now()
	runtime.GC()
	res.DurationSeconds = time.Since(start).Seconds()
	res.After = readHeapFigures()
	res.GCCycles = res.After.cycles - res.Before.cycles
	t.mon.Logger().Info("memdiag: a GC was run over HTTP (POST gc)",
		zap.String("remote", r.RemoteAddr), zap.Float64("duration_seconds", res.DurationSeconds),
		zap.Uint64("heap_objects_bytes_before", res.Before.HeapObjectsBytes), zap.Uint64("heap_objects_bytes_after", res.After.HeapObjectsBytes))
	return writeJSON(w, res)
}

// setGCRequest is what POST {prefix}setgc takes.
type setGCRequest struct {
	// GOGC is the new GC percent: -1 turns the GC off (debug.SetGCPercent(-1)).
	GOGC *int `json:"gogc"`
}

// setGCResult is POST {prefix}setgc's answer.
type setGCResult struct {
	Before gcSetting `json:"before"`
	After  gcSetting `json:"after"`
	Note   string    `json:"note"`
}

// gcSetting is GOGC and GOMEMLIMIT at one moment.
type gcSetting struct {
	// GOGC is the GC percent; -1 when the GC is off.
	GOGC int `json:"gogc"`
	// MemoryLimitBytes is GOMEMLIMIT (debug.SetMemoryLimit(-1) reads it without changing it);
	// math.MaxInt64 when none is set.
	MemoryLimitBytes int64 `json:"memory_limit_bytes"`
}

// maxGOGC bounds setgc: past it the GC runs so rarely that the limit, not GOGC, decides.
const maxGOGC = 1_000_000

// serveSetGC sets GOGC, as gops setgc does, and answers the old and new values.
func (t *tree) serveSetGC(w http.ResponseWriter, r *http.Request) error {
	if !t.cfg.runtimeControl {
		return errRuntimeControlOff("setgc")
	}
	var req setGCRequest
	if err := readControlBody(w, r, "setgc", &req); err != nil {
		return err
	}
	if req.GOGC == nil {
		return badParam("gogc", `missing: want {"gogc": N} with N -1 (off) or 1..%d`, maxGOGC)
	}
	n := *req.GOGC
	if n != -1 && (n < 1 || n > maxGOGC) {
		return badParam("gogc", "must be -1 (the GC off) or between 1 and %d, not %d (0 would collect without pause)", maxGOGC, n)
	}
	limit := debug.SetMemoryLimit(-1)
	old := debug.SetGCPercent(n)
	res := setGCResult{Before: gcSetting{GOGC: old, MemoryLimitBytes: limit}, After: gcSetting{GOGC: n, MemoryLimitBytes: limit}}
	res.Note = "the process's GOGC is now " + fmt.Sprint(n) + " until it restarts or is set again; memdiag whatif predicts the effect of a value"
	if n == -1 && limit == math.MaxInt64 {
		res.Note = "the GC is off and no memory limit is set (GOMEMLIMIT): the heap now grows without bound until GOGC is set again"
	}
	t.mon.Logger().Info("memdiag: GOGC was set over HTTP (POST setgc)",
		zap.String("remote", r.RemoteAddr), zap.Int("old_gogc", old), zap.Int("new_gogc", n))
	return writeJSON(w, res)
}
