// Command goroutineleak leaks goroutines on channels nothing can reach, runs a Monitor, and prints
// the Leaks section of the first scheduled report with a proven suspect as JSON (exit status 0),
// or the last report's Leaks after a deadline (exit status 1). Built with
// GOEXPERIMENT=goroutineleakprofile on Go 1.26 by TestGoroutineLeakProfileProves.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
)

type result struct{ n int }

// notify starts a goroutine that sends the result on a channel only it holds: once notify
// returns, nothing can receive it.
func notify(v int) {
	ch := make(chan *result)
	go func() {
		ch <- &result{v} // leaks here
	}()
}

func main() {
	m, err := runtimediag.NewMonitor(runtimediag.WithTickInterval(50*time.Millisecond),
		runtimediag.WithFullInterval(300*time.Millisecond), runtimediag.WithLogInterval(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	defer m.Close()
	for i := range 25 {
		notify(i)
	}
	var last *runtimediag.Leaks
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		_, rep := m.Latest()
		if rep == nil || rep.Leaks == nil {
			continue
		}
		last = rep.Leaks
		for _, s := range rep.Leaks.Suspects {
			if s.Kind == runtimediag.LeakGoroutines {
				json.NewEncoder(os.Stdout).Encode(rep.Leaks)
				return
			}
		}
	}
	json.NewEncoder(os.Stdout).Encode(last)
	os.Exit(1)
}
