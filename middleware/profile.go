package middleware

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"net/http"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/felixge/fgprof"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/runtimediag"
)

// defaultProfileSeconds is the window of /allocs and /fgprof when ?seconds is not given.
const defaultProfileSeconds = 10 * time.Second

// writeDeadlineSlack is added to a profile's window for the write deadline: rendering and sending
// the result after the window ends.
const writeDeadlineSlack = 10 * time.Second

// profileSlot lets one profile of a kind run at a time and says when the running one ends.
type profileSlot struct {
	mu    sync.Mutex
	busy  bool
	until time.Time
}

// acquire takes the slot for a window of d. When it is taken, it returns how long until the
// running profile should end, for Retry-After.
func (s *profileSlot) acquire(d time.Duration) (release func(), ok bool, retryAfter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.busy {
		return nil, false, time.Until(s.until)
	}
	s.busy, s.until = true, time.Now().Add(d)
	return func() {
		s.mu.Lock()
		s.busy = false
		s.mu.Unlock()
	}, true, 0
}

func busyError(kind string, retryAfter time.Duration) error {
	secs := max(1, int(math.Ceil(retryAfter.Seconds())))
	return &httpError{
		status:     http.StatusTooManyRequests,
		msg:        fmt.Sprintf("%s: a profile of this kind is already running; one runs at a time (retry in %d s)", kind, secs),
		retryAfter: secs,
	}
}

// extendWriteDeadline lets a response that waits d be written even when the server has a
// WriteTimeout shorter than d. Writers that cannot (httptest recorders) are left as they are.
func extendWriteDeadline(w http.ResponseWriter, d time.Duration) {
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d + writeDeadlineSlack))
}

// wait waits d or until ctx is done, whichever is first.
func wait(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errClientGone
	}
}

// gcCycles is the number of GC cycles completed so far, from runtime/metrics (no stop-the-world).
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// allocsView is /allocs?format=json.
type allocsView struct {
	WindowSeconds   float64 `json:"window_seconds"`
	GCCycles        uint64  `json:"gc_cycles"` // completed in the window: the profile advances only at their ends
	SampleRateBytes int     `json:"sample_rate_bytes"`
	Note            string  `json:"note"`
	// Sites is null when the two profile reads could not be compared.
	Sites *runtimediag.AllocationSites `json:"sites"`
}

const allocsNote = "figures are estimates scaled from the runtime's allocation samples (one per sample_rate_bytes allocated on average); " +
	"the runtime publishes samples when a GC cycle ends, so the window counts the allocations of the GC cycles completed in it, " +
	"and allocations since the last GC are not yet counted. memdiag does not force a GC to flush them: that would cost the service a cycle it did not ask for"

// serveAllocs reads the runtime's allocs profile, waits the window, reads it again and serves the
// top lines of the difference. Neither read stops the world.
func (t *tree) serveAllocs(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "seconds", "format", "top")
	if err != nil {
		return err
	}
	d, err := p.seconds(defaultProfileSeconds, t.cfg.maxDuration)
	if err != nil {
		return err
	}
	format, err := p.format("text", "json")
	if err != nil {
		return err
	}
	top, err := p.intParam("top", 20, 1, 100)
	if err != nil {
		return err
	}
	contentType := contentTypeText
	if format == "json" {
		contentType = "application/json; charset=utf-8"
	}
	if r.Method == http.MethodHead {
		// A HEAD asks what a GET would answer, not for a window of the service's time.
		w.Header().Set("Content-Type", contentType)
		return nil
	}
	release, ok, retry := t.allocs.acquire(d)
	if !ok {
		return busyError("allocs", retry)
	}
	defer release()
	extendWriteDeadline(w, d)

	gc0 := gcCycles()
	prev, err := runtimediag.ReadAllocProfile()
	if err != nil {
		return err
	}
	if err := wait(r.Context(), d); err != nil {
		return err
	}
	cur, err := runtimediag.ReadAllocProfile()
	if err != nil {
		return err
	}
	v := allocsView{
		WindowSeconds:   cur.Time.Sub(prev.Time).Seconds(),
		GCCycles:        gcCycles() - gc0,
		SampleRateBytes: int(cur.SampleRateBytes),
		Note:            allocsNote,
		Sites:           runtimediag.AllocSitesDelta(prev, cur, top),
	}
	if format == "json" {
		return writeJSON(w, v)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "memdiag allocation sites over %.1f s, %d GC cycles completed in the window, one sample per %d bytes allocated on average\n",
		v.WindowSeconds, v.GCCycles, v.SampleRateBytes)
	fmt.Fprintf(&buf, "note: %s.\n\n", allocsNote)
	if v.Sites == nil {
		buf.WriteString("no comparable profiles in the window\n")
	} else {
		fmt.Fprintf(&buf, "%s/s allocated in all (estimate)\n", humanize.Bytes(uint64(v.Sites.TotalBytesPerSecond)))
		renderSites(&buf, v.Sites.Sites)
	}
	return writeBody(w, contentType, buf.Bytes())
}

// serveFgprof runs felixge/fgprof over the window: every goroutine's stack, sampled 99 times a
// second through runtime.GoroutineProfile, which stops the world each time for a span that grows
// with the number of goroutines.
func (t *tree) serveFgprof(w http.ResponseWriter, r *http.Request) error {
	p, err := parseParams(r, "seconds", "format")
	if err != nil {
		return err
	}
	d, err := p.seconds(defaultProfileSeconds, t.cfg.maxDuration)
	if err != nil {
		return err
	}
	format, err := p.format(string(fgprof.FormatPprof), string(fgprof.FormatFolded))
	if err != nil {
		return err
	}
	contentType, fileName := "application/octet-stream", "fgprof.pb.gz"
	if format == string(fgprof.FormatFolded) {
		contentType, fileName = contentTypeText, "fgprof.folded.txt"
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+fileName+`"`)
	if r.Method == http.MethodHead {
		w.Header().Set("Content-Type", contentType)
		return nil
	}
	release, ok, retry := t.fgprof.acquire(d)
	if !ok {
		return busyError("fgprof", retry)
	}
	defer release()
	extendWriteDeadline(w, d)

	var buf bytes.Buffer
	stop := stopOnce(fgprof.Start(&buf, fgprof.Format(format)))
	// Whatever happens, the sampler stops: its goroutine lives until stop is called.
	defer stop()
	if err := wait(r.Context(), d); err != nil {
		return err
	}
	if err := stop(); err != nil {
		return fmt.Errorf("fgprof: %w", err)
	}
	return writeBody(w, contentType, buf.Bytes())
}

// stopOnce makes fgprof's stop idempotent and safe: the original blocks forever on a second call
// (it sends on a channel nobody reads any more), and panics with a division by zero when stopped
// before its first sample (v0.9.5 divides by the measured rate) — which a client that goes away
// within 10 ms causes. The panic comes after the sampler has stopped, so recovering loses nothing
// but a profile nobody waits for.
func stopOnce(stop func() error) func() error {
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() {
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("stopped before its first sample: %v", p)
				}
			}()
			err = stop()
		})
		return err
	}
}
