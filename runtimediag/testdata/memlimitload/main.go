// Command memlimitload holds C heap (malloc'd and touched) and grows a Go heap under whatever
// memory limit it is given, then prints the GC CPU it paid as JSON. With -adaptive it runs a
// memdiag Monitor with WithMemoryLimit. The memory-limit cgroup test builds and runs it.
package main

/*
#include <stdlib.h>
#include <string.h>
static void *hold(size_t n) { void *p = malloc(n); if (p) memset(p, 1, n); return p; }
*/
import "C"

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/memdiag/memdiag/runtimediag"
)

type result struct {
	GCCPUSeconds   float64 `json:"gc_cpu_seconds"`
	GCCPUFraction  float64 `json:"gc_cpu_fraction"`
	Cycles         uint64  `json:"cycles"`
	LiveBytes      int     `json:"live_bytes"`
	FinalLimit     int64   `json:"final_limit_bytes"`
	LimiterEngaged bool    `json:"limiter_engaged"`
	// With -adaptive: the non-Go memory the adaptive limit subtracted, least and last over its
	// set lines, and the C heap a full report attributes at the end.
	LimitSets     int    `json:"limit_sets,omitempty"`
	MinNonGoBytes uint64 `json:"min_non_go_bytes,omitempty"`
	NonGoBytes    uint64 `json:"non_go_bytes,omitempty"`
	NonGoSource   string `json:"non_go_source,omitempty"`
	CHeapBytes    uint64 `json:"c_heap_bytes,omitempty"`
	// ReportProblem is why CHeapBytes is absent or an estimate: the report's error, or its RSS
	// attribution's notes.
	ReportProblem string `json:"report_problem,omitempty"`
}

var live [][]byte
var sink []byte

func main() {
	cMiB := flag.Int("c-mib", 200, "C heap to hold")
	liveMiB := flag.Int("live-mib", 200, "Go live heap to grow to")
	adaptive := flag.Bool("adaptive", false, "run a Monitor with WithMemoryLimit")
	flag.Parse()

	if C.hold(C.size_t(*cMiB)<<20) == nil {
		fmt.Fprintln(os.Stderr, "malloc failed")
		os.Exit(1)
	}
	var mon *runtimediag.Monitor
	var logs *observer.ObservedLogs
	if *adaptive {
		dev, _ := zap.NewDevelopment()
		var obs zapcore.Core
		obs, logs = observer.New(zapcore.InfoLevel)
		log := zap.New(zapcore.NewTee(dev.Core(), obs))
		m, err := runtimediag.NewMonitor(runtimediag.WithTickInterval(50*time.Millisecond), runtimediag.WithFullInterval(0),
			runtimediag.WithLogInterval(0), runtimediag.WithLogger(log), runtimediag.WithMemoryLimit(runtimediag.MemoryLimit{}))
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		if err := m.Start(context.Background()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		defer m.Close()
		mon = m
		time.Sleep(200 * time.Millisecond) // a few ticks: the limit is in place before the heap grows
	}

	s := []metrics.Sample{{Name: "/cpu/classes/gc/total:cpu-seconds"}, {Name: "/cpu/classes/total:cpu-seconds"},
		{Name: "/gc/cycles/total:gc-cycles"}, {Name: "/gc/limiter/last-enabled:gc-cycle"}}
	metrics.Read(s)
	gc0, tot0, cyc0 := s[0].Value.Float64(), s[1].Value.Float64(), s[2].Value.Uint64()

	// Grow the live heap by 4 MiB every 25 ms while making 4 MiB of garbage every 5 ms.
	const chunk = 64 << 10
	grow := time.NewTicker(25 * time.Millisecond)
	defer grow.Stop()
	for len(live)*chunk < *liveMiB<<20 {
		for range 4 << 20 / chunk {
			b := make([]byte, chunk)
			b[0] = 1
			live = append(live, b)
		}
		for range 5 {
			for range 4 << 20 / chunk {
				sink = make([]byte, chunk)
			}
			time.Sleep(5 * time.Millisecond)
		}
		<-grow.C
	}
	// Hold the heap and keep churning for two seconds.
	end := time.Now().Add(2 * time.Second)
	for time.Now().Before(end) {
		for range 4 << 20 / chunk {
			sink = make([]byte, chunk)
		}
		time.Sleep(5 * time.Millisecond)
	}
	metrics.Read(s)
	r := result{
		GCCPUSeconds: s[0].Value.Float64() - gc0,
		Cycles:       s[2].Value.Uint64() - cyc0,
		LiveBytes:    len(live) * chunk,
		FinalLimit:   debug.SetMemoryLimit(-1),
		// The limiter's last-enabled cycle moved past the start: it engaged during the run.
		LimiterEngaged: s[3].Value.Uint64() > cyc0,
	}
	if d := s[1].Value.Float64() - tot0; d > 0 {
		r.GCCPUFraction = r.GCCPUSeconds / d
	}
	if mon != nil {
		for _, e := range logs.FilterMessage(runtimediag.LogMessageMemoryLimit).All() {
			f := e.ContextMap()
			if f["change"] != "set" {
				continue
			}
			ng, _ := f["non_go_bytes"].(uint64)
			r.LimitSets++
			if r.LimitSets == 1 || ng < r.MinNonGoBytes {
				r.MinNonGoBytes = ng
			}
			r.NonGoBytes = ng
			r.NonGoSource, _ = f["non_go_source"].(string)
		}
		if rep, err := mon.Report(context.Background()); err != nil {
			r.ReportProblem = err.Error()
		} else {
			r.CHeapBytes = rep.RSS.Category(runtimediag.CategoryCHeap)
			r.ReportProblem = strings.Join(rep.RSS.Notes, "; ")
		}
	}
	json.NewEncoder(os.Stdout).Encode(r)
}
