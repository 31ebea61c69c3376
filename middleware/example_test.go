package middleware_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"

	"github.com/memdiag/memdiag/middleware"
	"github.com/memdiag/memdiag/runtimediag"
)

// The /debug/memdiag tree goes on a mux of its own, served on a loopback listener no proxy
// forwards to. It serves loopback callers only unless an option opens it.
func ExampleHandler() {
	mon, err := runtimediag.NewMonitor()
	if err != nil {
		log.Fatal(err)
	}
	if err := mon.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer mon.Close()

	dbg := http.NewServeMux()
	dbg.Handle("/debug/memdiag/", middleware.Handler(mon))
	// In a service: go (&http.Server{Addr: "127.0.0.1:6061", Handler: dbg}).ListenAndServe()

	for _, peer := range []string{"127.0.0.1:50000", "203.0.113.7:50000"} {
		r := httptest.NewRequest("GET", "http://127.0.0.1:6061/debug/memdiag/history.json", nil)
		r.RemoteAddr = peer
		w := httptest.NewRecorder()
		dbg.ServeHTTP(w, r)
		fmt.Println(peer, w.Code, w.Header().Get("Content-Type"))
	}
	// Output:
	// 127.0.0.1:50000 200 application/json; charset=utf-8
	// 203.0.113.7:50000 403 text/plain; charset=utf-8
}

// Instrument wraps the application's handler and counts requests per ServeMux pattern.
func ExampleInstrument() {
	mon, err := runtimediag.NewMonitor()
	if err != nil {
		log.Fatal(err)
	}
	defer mon.Close()

	app := http.NewServeMux()
	app.HandleFunc("GET /users/{id}", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "user "+r.PathValue("id"))
	})
	handler := middleware.Instrument(mon)(app)

	for _, id := range []string{"1", "2"} {
		w := httptest.NewRecorder()
		handler.ServeHTTP(w, httptest.NewRequest("GET", "/users/"+id, nil))
		fmt.Println(w.Code, w.Body.String())
	}
	for _, rs := range mon.Routes() {
		fmt.Println(rs.Route, rs.Requests)
	}
	// Output:
	// 200 user 1
	// 200 user 2
	// GET /users/{id} 2
}
