package middleware

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

// The page's live stream is server-sent events rather than a websocket: one GET that any proxy
// passes, that the browser's EventSource reconnects by itself, and that needs no upgrade.

const (
	// maxEventClients bounds the open streams: each holds a goroutine and a connection for up to
	// WithMaxDuration, and a page left open in many tabs should not hold more.
	maxEventClients = 16
	// eventHeartbeat keeps idle proxies from closing a stream while no point changes (a Monitor
	// not started, a long tick).
	eventHeartbeat = 15 * time.Second
	// eventRetry is how long the browser waits before reconnecting when a stream ends.
	eventRetry = 2 * time.Second
	// eventWriteTimeout bounds each write: a client that stops reading is dropped instead of
	// holding its slot until the stream's lifetime ends.
	eventWriteTimeout = 10 * time.Second
)

var errTooManyStreams = &httpError{status: http.StatusTooManyRequests,
	msg: fmt.Sprintf("events: %d streams are open already; retry later", maxEventClients)}

// eventStream serves /events: the newest tick's Point as one `data:` line whenever the Monitor
// has ticked. It polls Monitor.Latest, which copies one point under a lock, rather than asking
// the Monitor to notify: the tick stays free of any work for listeners.
type eventStream struct {
	latest    func() runtimediag.Point
	poll      time.Duration
	lifetime  time.Duration
	heartbeat time.Duration
	clients   chan struct{} // a slot per open stream
}

// pollInterval is half the tick, so a point is sent at most half a tick after it was taken,
// within bounds that keep a 10 ms tick from spinning and an hourly tick from looking dead.
func pollInterval(tick time.Duration) time.Duration {
	return min(max(tick/2, 20*time.Millisecond), time.Second)
}

func (s *eventStream) serve(w http.ResponseWriter, r *http.Request) error {
	if _, err := parseParams(r); err != nil {
		return err
	}
	select {
	case s.clients <- struct{}{}:
		defer func() { <-s.clients }()
	default:
		w.Header().Set("Retry-After", strconv.Itoa(int(eventRetry/time.Second)))
		return errTooManyStreams
	}
	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no") // nginx would otherwise hold the events back
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil
	}
	return s.stream(r, w, rc)
}

// stream writes events until the client goes away or the stream's lifetime ends; the browser
// then reconnects after the retry interval. Write errors end the stream quietly: the client is
// gone and there is nobody to tell.
func (s *eventStream) stream(r *http.Request, w io.Writer, rc *http.ResponseController) error {
	send := func(b []byte) bool {
		// A server's WriteTimeout would end the stream at its first deadline: each write moves it.
		if err := rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
			return false
		}
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !send([]byte("retry: " + strconv.FormatInt(eventRetry.Milliseconds(), 10) + "\n\n")) {
		return nil
	}
	var last time.Time
	var buf []byte
	sendPoint := func() bool {
		p := s.latest()
		if p.Time.IsZero() || p.Time.Equal(last) {
			return true
		}
		last = p.Time
		j, err := json.Marshal(&p)
		if err != nil {
			return false
		}
		buf = append(append(append(buf[:0], "data: "...), j...), "\n\n"...)
		return send(buf)
	}
	if !sendPoint() {
		return nil
	}
	poll := time.NewTicker(s.poll)
	defer poll.Stop()
	beat := time.NewTicker(s.heartbeat)
	defer beat.Stop()
	end := time.NewTimer(s.lifetime)
	defer end.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-end.C:
			return nil
		case <-beat.C:
			if !send([]byte(": heartbeat\n\n")) {
				return nil
			}
		case <-poll.C:
			if !sendPoint() {
				return nil
			}
		}
	}
}
