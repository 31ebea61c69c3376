// Command service is a small JSON API with memdiag mounted the way a production service should
// mount it: a Monitor watching memory, the /debug/memdiag tree (page, JSON, text, profiles) on a
// listener of its own on 127.0.0.1, per-route instrumentation on the app routes, Prometheus
// metrics at /metrics, and zap production logs. A built-in, bounded load generator drives the
// routes so the page has something to show within seconds.
//
//	go run ./examples/service                       # app on 127.0.0.1:8080, memdiag on 127.0.0.1:6061
//	go run ./examples/service -addr 127.0.0.1:0 -debug-addr 127.0.0.1:0 -load=false
//
// Why two listeners: the app's listener is the one a reverse proxy, an ingress or a mesh sidecar
// forwards to, and such a proxy on the same host connects from loopback for every client. The
// tree refuses requests that carry a proxy's headers, but a proxy can be configured to add none;
// a listener that no proxy routes to cannot be reached through one (docs/security.md). In a pod,
// reach it with kubectl port-forward.
//
// The routes allocate differently on purpose:
//
//	GET /api/hello         almost nothing
//	GET /api/report        builds a string by repeated concatenation: churn of short-lived strings
//	GET /api/cache         keeps a bounded 8 MiB of data alive: a live heap
//	GET /api/sum/escaping  make([]int, n) with n from the request escapes to the heap: one
//	                       allocation per request (go build -gcflags=-m shows "escapes to heap")
//	GET /api/sum           the fix: a fixed-size array on the stack, sliced to n — the sum
//	                       allocates nothing, but the handler around it still does, about 1.2 KiB
//	                       a request (r.URL.Query() builds a map, Header().Set a header map that
//	                       net/http clones on the first write), and memdiag's per-route estimate
//	                       shows it; /api/sum/escaping is that plus n×8 bytes
//	GET /api/session       starts a goroutine that waits for a session that never ends: a
//	                       deliberate, bounded goroutine leak, so memdiag's goroutines_growing
//	                       finding has something to find (-leak=false turns it off)
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/memdiag/memdiag/middleware"
	"github.com/memdiag/memdiag/promexport"
	"github.com/memdiag/memdiag/runtimediag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
}

type options struct {
	addr         string
	debugAddr    string
	logInterval  time.Duration
	fullInterval time.Duration
	load         bool
	loadRPS      int
	leak         bool
}

func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fl := flag.NewFlagSet("service", flag.ContinueOnError)
	fl.SetOutput(out)
	fl.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address of the app routes and /metrics")
	fl.StringVar(&o.debugAddr, "debug-addr", "127.0.0.1:6061", "listen address of the /debug/memdiag tree: keep it on loopback, where no proxy routes (memdiag serves loopback callers only unless an authorizer is set)")
	fl.DurationVar(&o.logInterval, "log-interval", 10*time.Second, "how often the Monitor logs its summary line")
	fl.DurationVar(&o.fullInterval, "full-interval", 30*time.Second, "how often the Monitor takes a full report (smaps, attribution, findings)")
	fl.BoolVar(&o.load, "load", true, "run the built-in loopback load generator")
	fl.IntVar(&o.loadRPS, "load-rps", 200, "requests per second of the load generator (1-5000)")
	fl.BoolVar(&o.leak, "leak", true, "let /api/session leak goroutines (bounded), so there is a finding to see")
	if err := fl.Parse(args); err != nil {
		return o, err
	}
	switch {
	case fl.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments: %q", fl.Args())
	case o.logInterval < time.Second:
		return o, fmt.Errorf("-log-interval %s: must be at least 1s, the Monitor's tick", o.logInterval)
	case o.fullInterval < time.Second:
		return o, fmt.Errorf("-full-interval %s: must be at least 1s", o.fullInterval)
	case o.loadRPS < 1 || o.loadRPS > 5000:
		return o, fmt.Errorf("-load-rps %d: must be between 1 and 5000", o.loadRPS)
	}
	return o, nil
}

// run is main without the process exit, so a test can drive it: where-to-look lines go to stdout,
// zap's JSON logs to logOut.
func run(ctx context.Context, args []string, stdout, logOut io.Writer) error {
	o, err := parseFlags(args, logOut)
	if err != nil {
		return err
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	logger := zap.New(zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.AddSync(logOut), zap.InfoLevel))
	defer logger.Sync()

	mon, err := runtimediag.NewMonitor(
		runtimediag.WithLogger(logger),
		runtimediag.WithLogInterval(o.logInterval),
		runtimediag.WithFullInterval(o.fullInterval),
	)
	if err != nil {
		return err
	}
	defer mon.Close()
	if err := mon.Start(ctx); err != nil {
		return err
	}

	reg := prometheus.NewRegistry()
	exp, err := promexport.NewCollector(mon)
	if err != nil {
		return err
	}
	reg.MustRegister(exp, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	app := newApp(ctx, o.leak)

	root := http.NewServeMux()
	root.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	root.Handle("/api/", middleware.Instrument(mon)(app.mux))

	// The tree on a listener of its own, on loopback: nothing that forwards to the app reaches it.
	dbg := http.NewServeMux()
	dbg.Handle("/debug/memdiag/", middleware.Handler(mon))

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	dbgLn, err := net.Listen("tcp", o.debugAddr)
	if err != nil {
		ln.Close()
		return err
	}
	base := "http://" + ln.Addr().String()
	dbgBase := "http://" + dbgLn.Addr().String()
	fmt.Fprintf(stdout, `memdiag example service on %[1]s
  app:     %[1]s/api/hello, /api/report, /api/cache, /api/sum?n=50, /api/sum/escaping?n=50, /api/session
  metrics: %[1]s/metrics
memdiag on its own loopback listener %[2]s
  page:    %[2]s/debug/memdiag/
  report:  %[2]s/debug/memdiag/report.txt   (or: go run ./cmd/memdiag report %[2]s)
  pprof:   %[2]s/debug/memdiag/pprof/        (go tool pprof %[2]s/debug/memdiag/pprof/heap)
  capture: curl -X POST -H 'Content-Type: application/json' -d '{"reason":"look"}' %[2]s/debug/memdiag/captures
`, base, dbgBase)
	logger.Info("service listening", zap.String("url", base+"/"), zap.String("memdiag", dbgBase+"/debug/memdiag/"))

	srv := &http.Server{Handler: root, ReadHeaderTimeout: 5 * time.Second}
	dbgSrv := &http.Server{Handler: dbg, ReadHeaderTimeout: 5 * time.Second}
	var wg sync.WaitGroup
	for _, s := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{srv, ln}, {dbgSrv, dbgLn}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.srv.Serve(s.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				logger.Error("serve", zap.String("addr", s.ln.Addr().String()), zap.Error(err))
				cancel()
			}
		}()
	}
	loadDone := make(chan struct{})
	go func() {
		defer close(loadDone)
		if o.load {
			generateLoad(ctx, base, o.loadRPS)
		}
	}()

	<-ctx.Done()
	<-loadDone // its idle connections closed, so that Shutdown does not wait for them
	// Shutdown waits up to 5 s for a connection that was accepted but never sent a request (one
	// the load generator dialled for a request cancelled meanwhile): allow for it.
	shutdownCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	dbgErr := make(chan error, 1)
	go func() { dbgErr <- dbgSrv.Shutdown(shutdownCtx) }()
	err = errors.Join(srv.Shutdown(shutdownCtx), <-dbgErr)
	cancel()
	wg.Wait()
	app.sessions.Wait()
	return err
}

// app is the demo API.
type app struct {
	mux      *http.ServeMux
	sessions sync.WaitGroup // leaked sessions end when the service stops
	leaked   atomic.Int64
}

// maxLeakedSessions bounds the deliberate leak: about 8 KiB of stack each, 40 MiB at most.
const maxLeakedSessions = 5000

func newApp(ctx context.Context, leak bool) *app {
	a := &app{mux: http.NewServeMux()}
	text := func(w http.ResponseWriter) { w.Header().Set("Content-Type", "text/plain; charset=utf-8") }

	a.mux.HandleFunc("GET /api/hello", func(w http.ResponseWriter, r *http.Request) {
		text(w)
		io.WriteString(w, "hello\n")
	})
	a.mux.HandleFunc("GET /api/report", func(w http.ResponseWriter, r *http.Request) {
		s := ""
		for i := range 200 {
			s += "line " + strconv.Itoa(i) + "\n" // each += copies the whole string: churn
		}
		text(w)
		io.WriteString(w, s)
	})
	var mu sync.Mutex
	cache := make(map[int][]byte)
	next := 0
	a.mux.HandleFunc("GET /api/cache", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cache[next%512] = make([]byte, 16<<10)
		next++
		n := len(cache)
		mu.Unlock()
		text(w)
		fmt.Fprintf(w, "%d entries\n", n)
	})
	a.mux.HandleFunc("GET /api/sum/escaping", func(w http.ResponseWriter, r *http.Request) {
		n, err := sumArg(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		text(w)
		fmt.Fprintf(w, "%d\n", sumEscaping(n))
	})
	a.mux.HandleFunc("GET /api/sum", func(w http.ResponseWriter, r *http.Request) {
		n, err := sumArg(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		text(w)
		fmt.Fprintf(w, "%d\n", sumOnStack(n))
	})
	a.mux.HandleFunc("GET /api/session", func(w http.ResponseWriter, r *http.Request) {
		if leak && a.leaked.Load() < maxLeakedSessions {
			a.leaked.Add(1)
			a.sessions.Add(1)
			// The bug: the session waits for a close that never comes; only the service's
			// shutdown ends it.
			go func() { defer a.sessions.Done(); <-ctx.Done() }()
		}
		text(w)
		io.WriteString(w, "session started\n")
	})
	return a
}

func sumArg(r *http.Request) (int, error) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 1 || n > 64 {
		return 0, errors.New("n: must be an integer between 1 and 64")
	}
	return n, nil
}

// sumEscaping allocates: make with a size known only at run time cannot live on the stack.
//
//go:noinline
func sumEscaping(n int) int {
	nums := make([]int, n)
	return fill(nums)
}

// sumOnStack is the fix: a fixed-size array the compiler keeps on the stack, sliced to n.
//
//go:noinline
func sumOnStack(n int) int {
	var buf [64]int
	return fill(buf[:n])
}

func fill(nums []int) int {
	s := 0
	for i := range nums {
		nums[i] = i * i
		s += nums[i]
	}
	return s
}

// generateLoad sends requests to the service's own routes on loopback at about rps per second
// until ctx ends. It never targets anything but the address the service listens on.
func generateLoad(ctx context.Context, base string, rps int) {
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	routes := []string{"/api/hello", "/api/report", "/api/cache", "/api/sum?n=50", "/api/sum/escaping?n=50", "/api/session"}
	t := time.NewTicker(time.Second / time.Duration(rps))
	defer t.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+routes[i%len(routes)], nil)
		if err != nil {
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			continue
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
}
