// Command service is a small HTTP service on loopback with a memdiag Monitor watching its memory:
// it serves a few routes, drives them with a built-in bounded load generator, and the Monitor logs a
// summary line through zap every few seconds, takes a full report (RSS attribution, allocation
// sites, findings) less often, and logs each finding when it appears, gets worse or clears
// (docs/logging.md).
//
//	go run ./examples/service            # listens on 127.0.0.1:8080
//	go run ./examples/service -addr 127.0.0.1:0 -interval 2s -load=false
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
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/memdiag/memdiag/runtimediag"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
}

type options struct {
	addr      string
	interval  time.Duration
	fullEvery int
	load      bool
	loadRPS   int
}

func parseFlags(args []string, out io.Writer) (options, error) {
	var o options
	fl := flag.NewFlagSet("service", flag.ContinueOnError)
	fl.SetOutput(out)
	fl.StringVar(&o.addr, "addr", "127.0.0.1:8080", "listen address; loopback only unless you mean it")
	fl.DurationVar(&o.interval, "interval", 5*time.Second, "how often the Monitor logs its summary line")
	fl.IntVar(&o.fullEvery, "full-every", 6, "take a full report every N intervals (0: only on demand)")
	fl.BoolVar(&o.load, "load", true, "run the built-in loopback load generator")
	fl.IntVar(&o.loadRPS, "load-rps", 200, "requests per second of the load generator (1-5000)")
	if err := fl.Parse(args); err != nil {
		return o, err
	}
	switch {
	case o.interval < 100*time.Millisecond:
		return o, fmt.Errorf("-interval %s: must be at least 100ms", o.interval)
	case o.fullEvery < 0:
		return o, fmt.Errorf("-full-every %d: must not be negative", o.fullEvery)
	case o.loadRPS < 1 || o.loadRPS > 5000:
		return o, fmt.Errorf("-load-rps %d: must be between 1 and 5000", o.loadRPS)
	}
	return o, nil
}

// run is main without the process exit, so a test can drive it.
func run(ctx context.Context, args []string, logOut io.Writer) error {
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
		runtimediag.WithTickInterval(min(time.Second, o.interval)),
		runtimediag.WithLogInterval(o.interval),
		runtimediag.WithFullInterval(o.interval*time.Duration(o.fullEvery)),
	)
	if err != nil {
		return err
	}
	defer mon.Close()
	if err := mon.Start(ctx); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", o.addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: newApp(), ReadHeaderTimeout: 5 * time.Second}
	logger.Info("service listening", zap.String("url", "http://"+ln.Addr().String()+"/"))

	var wg sync.WaitGroup
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("serve", zap.Error(err))
			cancel()
		}
	}()
	if o.load {
		wg.Add(1)
		go func() { defer wg.Done(); generateLoad(ctx, "http://"+ln.Addr().String(), o.loadRPS) }()
	}

	<-ctx.Done()

	shutdownCtx, done := context.WithTimeout(context.Background(), 5*time.Second)
	defer done()
	err = srv.Shutdown(shutdownCtx)
	cancel()
	wg.Wait()
	return err
}

// newApp is the demo API: routes with different allocation behaviour.
func newApp() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "hello\n")
	})
	// /report builds a string by repeated concatenation: many short-lived allocations per request.
	mux.HandleFunc("GET /report", func(w http.ResponseWriter, r *http.Request) {
		s := ""
		for i := range 200 {
			s += fmt.Sprintf("line %d\n", i)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, s)
	})
	// /cache keeps a bounded amount of data alive, so the live heap is not empty.
	var mu sync.Mutex
	cache := make(map[int][]byte)
	next := 0
	mux.HandleFunc("GET /cache", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cache[next%512] = make([]byte, 16<<10)
		next++
		n := len(cache)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprintf(w, "%d entries\n", n)
	})
	return mux
}

// generateLoad sends requests to the service's own routes on loopback at about rps per second
// until ctx ends. It never targets anything but the address the service listens on.
func generateLoad(ctx context.Context, base string, rps int) {
	client := &http.Client{Timeout: 2 * time.Second}
	routes := []string{"/hello", "/report", "/cache"}
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
