package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
)

const gcSynopsis = `usage: memdiag gc [flags] URL

Runs a full GC cycle in a running service now (POST <tree>gc), as gops gc does, and prints how
long it took and the heap before and after. The service must allow it: its tree answers 403
unless it was built with middleware.Handler(mon, middleware.WithRuntimeControl()). The service
logs each use.

URL is the service (http://127.0.0.1:8080: the tree is taken to be at /debug/memdiag/) or the
tree. Without a scheme, http is used.

exit status:
  0  the GC ran
  1  the service could not be reached, refused (runtime control off), or did not answer
  2  bad usage

flags:
`

const setgcSynopsis = `usage: memdiag setgc [flags] URL N|off

Sets a running service's GOGC to N (POST <tree>setgc), as gops setgc does, until it restarts or
is set again; N off (or -1, written after --) turns the GC off. Prints the old and new values. The service must allow it
(middleware.WithRuntimeControl(); 403 otherwise) and logs each use. memdiag whatif predicts the
effect of a value before you set it.

exit status:
  0  GOGC was set
  1  the service could not be reached, refused (runtime control off), or did not answer
  2  bad usage

flags:
`

func controlFlags(name string) (*flag.FlagSet, *time.Duration) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the answer")
	return fs, timeout
}

func gcUsage(w io.Writer) {
	fs, _ := controlFlags("gc")
	fs.SetOutput(w)
	io.WriteString(w, gcSynopsis)
	fs.PrintDefaults()
}

func setgcUsage(w io.Writer) {
	fs, _ := controlFlags("setgc")
	fs.SetOutput(w)
	io.WriteString(w, setgcSynopsis)
	fs.PrintDefaults()
}

// controlAnswer is what gc and setgc answer (docs/report-schema.json GCResult, SetGCResult).
type controlAnswer struct {
	DurationSeconds *float64 `json:"duration_seconds"`
	GCCycles        *uint64  `json:"gc_cycles"`
	Before          *struct {
		HeapObjectsBytes *uint64 `json:"heap_objects_bytes"`
		HeapLiveBytes    *uint64 `json:"heap_live_bytes"`
		GOGC             *int    `json:"gogc"`
		MemoryLimitBytes *int64  `json:"memory_limit_bytes"`
	} `json:"before"`
	After *struct {
		HeapObjectsBytes *uint64 `json:"heap_objects_bytes"`
		HeapLiveBytes    *uint64 `json:"heap_live_bytes"`
		GOGC             *int    `json:"gogc"`
		MemoryLimitBytes *int64  `json:"memory_limit_bytes"`
	} `json:"after"`
	Note string `json:"note"`
}

func runGC(args []string, stdout, stderr io.Writer) int {
	return runControl("gc", args, stdout, stderr)
}

func runSetGC(args []string, stdout, stderr io.Writer) int {
	return runControl("setgc", args, stdout, stderr)
}

func runControl(name string, args []string, stdout, stderr io.Writer) int {
	fs, timeout := controlFlags(name)
	fs.SetOutput(io.Discard)
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		map[string]func(io.Writer){"gc": gcUsage, "setgc": setgcUsage}[name](stdout)
		return 0
	}
	want := map[string]int{"gc": 1, "setgc": 2}[name]
	if err == nil && len(pos) != want {
		err = fmt.Errorf("want %d arguments (%s), have %d", want, map[string]string{"gc": "URL", "setgc": "URL N"}[name], len(pos))
	}
	payload := []byte("{}")
	if err == nil && name == "setgc" {
		n, perr := strconv.Atoi(pos[1])
		if pos[1] == "off" {
			n, perr = -1, nil
		}
		if perr != nil || (n != -1 && (n < 1 || n > 1_000_000)) {
			err = fmt.Errorf("N %q: must be off (or -1, after --) or between 1 and 1000000", pos[1])
		}
		payload = fmt.Appendf(nil, `{"gogc":%d}`, n)
	}
	if err == nil && *timeout <= 0 {
		err = fmt.Errorf("--timeout %s: must be positive", *timeout)
	}
	var target string
	if err == nil {
		target, err = treeURL(pos[0], name)
	}
	if err != nil {
		return cmdUsageError(stderr, name, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	body, err := postTree(ctx, newClient(*timeout), target, payload, 1<<20)
	var a controlAnswer
	if err == nil {
		if jerr := json.Unmarshal(body, &a); jerr != nil || a.Before == nil || a.After == nil {
			err = fmt.Errorf("not a %s answer at %s (first bytes %s)", name, target, firstBytes(body))
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "memdiag %s: %v\n", name, err)
		return exitFail
	}
	switch name {
	case "gc":
		if a.DurationSeconds == nil || a.Before.HeapObjectsBytes == nil || a.After.HeapObjectsBytes == nil || a.After.HeapLiveBytes == nil {
			fmt.Fprintf(stderr, "memdiag gc: %s: the answer lacks its figures: %s\n", target, firstBytes(body))
			return exitFail
		}
		fmt.Fprintf(stdout, "ran a full GC in %s: heap objects %s -> %s, live heap %s (wall time, measured by the service)\n",
			time.Duration(*a.DurationSeconds*1e9).Round(time.Microsecond), humanize.Bytes(*a.Before.HeapObjectsBytes), humanize.Bytes(*a.After.HeapObjectsBytes), humanize.Bytes(*a.After.HeapLiveBytes))
	case "setgc":
		if a.Before.GOGC == nil || a.After.GOGC == nil {
			fmt.Fprintf(stderr, "memdiag setgc: %s: the answer lacks GOGC: %s\n", target, firstBytes(body))
			return exitFail
		}
		limit := "none"
		if l := a.After.MemoryLimitBytes; l != nil && *l != math.MaxInt64 {
			limit = humanize.Bytes(uint64(*l))
		}
		fmt.Fprintf(stdout, "GOGC %s -> %s (GOMEMLIMIT %s)\n%s\n", gogcText(*a.Before.GOGC), gogcText(*a.After.GOGC), limit, a.Note)
	}
	return 0
}

func gogcText(n int) string {
	if n < 0 {
		return "off"
	}
	return strconv.Itoa(n)
}
