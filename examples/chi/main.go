// Command chi mounts memdiag on a github.com/go-chi/chi/v5 router: the /debug/memdiag tree under a
// chi sub-route, and Instrument naming routes by chi's route pattern. It is a module of its own so
// that chi never becomes a dependency of memdiag.
//
//	cd examples/chi && go run .   # then open http://127.0.0.1:8082/debug/memdiag/
package main

import (
	"context"
	"log"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/memdiag/memdiag/middleware"
	"github.com/memdiag/memdiag/runtimediag"
)

func main() {
	mon, err := runtimediag.NewMonitor()
	if err != nil {
		log.Fatal(err)
	}
	if err := mon.Start(context.Background()); err != nil {
		log.Fatal(err)
	}
	defer mon.Close()
	log.Fatal(http.ListenAndServe("127.0.0.1:8082", newRouter(mon)))
}

// newRouter is the app: chi routes, instrumented, plus the memdiag tree.
func newRouter(mon *runtimediag.Monitor) http.Handler {
	r := chi.NewRouter()
	// chi knows a request's route pattern only after routing; RouteFunc runs before the handler,
	// so it asks the router to match the request first.
	instrument := middleware.Instrument(mon, middleware.WithRouteFunc(func(req *http.Request) string {
		rctx := chi.NewRouteContext()
		if r.Match(rctx, req.Method, req.URL.Path) {
			return req.Method + " " + rctx.RoutePattern()
		}
		return middleware.RouteUnmatched
	}))
	r.Group(func(app chi.Router) {
		app.Use(instrument)
		app.Get("/users/{id}", func(w http.ResponseWriter, req *http.Request) {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Write([]byte("user " + chi.URLParam(req, "id") + "\n"))
		})
	})
	r.Handle("/debug/memdiag/*", middleware.Handler(mon))
	return r
}
