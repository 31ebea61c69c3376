package middleware

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/memdiag/memdiag/internal/alonetest"
	"github.com/memdiag/memdiag/runtimediag"
)

// TestMain fails the package when a test leaves a goroutine behind: a profile's sampler, a
// Monitor, a server. It is the package's only TestMain; the page's and Instrument's tests share it.
// The tests that run alone in child processes are let run at once.
func TestMain(m *testing.M) {
	alonetest.RaiseParallel()
	goleak.VerifyTestMain(m)
}

// newTestMonitor starts a Monitor that ticks fast and takes full reports only when asked.
func newTestMonitor(t testing.TB, opts ...runtimediag.Option) *runtimediag.Monitor {
	t.Helper()
	opts = append([]runtimediag.Option{
		runtimediag.WithTickInterval(50 * time.Millisecond),
		runtimediag.WithFullInterval(0),
		runtimediag.WithLogInterval(0),
	}, opts...)
	mon, err := runtimediag.NewMonitor(opts...)
	if err != nil {
		t.Fatal(err)
	}
	if err := mon.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	return mon
}

func newTestTree(t testing.TB, mon *runtimediag.Monitor, opts ...Option) *tree {
	t.Helper()
	h, err := NewHandler(mon, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return h.(*tree)
}

const testPrefix = "/debug/memdiag/"

// testHost is the Host of the tests' requests: httptest.NewRequest's example.com is a name the
// guard refuses (it is what DNS rebinding looks like).
const testHost = "127.0.0.1:8080"

// serve runs one request through h from a loopback caller unless remote says otherwise.
func serve(h http.Handler, method, target, remote string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	r.Host = testHost
	if remote != "" {
		r.RemoteAddr = remote
	} else {
		r.RemoteAddr = "127.0.0.1:40000"
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// checkHygiene asserts what every response of the tree carries.
func checkHygiene(t testing.TB, w *httptest.ResponseRecorder) {
	t.Helper()
	h := w.Result().Header
	if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
		t.Errorf("X-Content-Type-Options = %q, want nosniff", got)
	}
	if got := h.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	if h.Get("Content-Type") == "" {
		t.Errorf("no explicit Content-Type (status %d)", w.Code)
	}
	if w.Code >= 400 && !strings.HasPrefix(h.Get("Content-Type"), "text/plain") {
		t.Errorf("error %d with Content-Type %q, want text/plain", w.Code, h.Get("Content-Type"))
	}
}

func body(t testing.TB, w *httptest.ResponseRecorder) string {
	t.Helper()
	b, err := io.ReadAll(w.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func newRequest(method, target, remote string) *http.Request {
	r := httptest.NewRequest(method, target, nil)
	r.Host = testHost
	r.RemoteAddr = remote
	return r
}

func record(h http.Handler, r *http.Request) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}
