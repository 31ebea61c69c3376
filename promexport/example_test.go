package promexport_test

import (
	"context"
	"log"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/memdiag/memdiag/promexport"
	"github.com/memdiag/memdiag/runtimediag"
)

// A service registers memdiag beside client_golang's Go and process collectors on its own
// registry; the names do not clash.
func ExampleNewCollector() {
	ctx := context.Background()
	mon, err := runtimediag.NewMonitor()
	if err != nil {
		log.Fatal(err)
	}
	if err := mon.Start(ctx); err != nil {
		log.Fatal(err)
	}
	defer mon.Close()

	col, err := promexport.NewCollector(mon)
	if err != nil {
		log.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(col, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	log.Fatal(http.ListenAndServe("127.0.0.1:8080", mux))
}
