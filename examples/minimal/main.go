// Command minimal mounts memdiag in ten lines: a Monitor and the /debug/memdiag tree.
//
//	go run ./examples/minimal   # then open http://127.0.0.1:8081/debug/memdiag/
package main

import (
	"context"
	"log"
	"net/http"

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
	http.Handle("/debug/memdiag/", middleware.Handler(mon))
	log.Fatal(http.ListenAndServe("127.0.0.1:8081", nil))
}
