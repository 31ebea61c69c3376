package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/pprof/profile"

	"github.com/memdiag/memdiag/internal/appframe"
	"github.com/memdiag/memdiag/internal/appframe/pprofstack"
	"github.com/memdiag/memdiag/internal/humanize"
)

// maxProfileBytes bounds a profile or a goroutine dump read from a service: a dump of 100,000
// goroutines is tens of MiB.
const maxProfileBytes = 256 << 20

const stackSynopsis = `usage: memdiag stack [flags] URL

Prints every goroutine's stack from a running service's memdiag tree (GET <tree>pprof/goroutine),
as gops stack and a panic print them. The default, --debug=2, lists each goroutine with its
state and how long it has waited; it stops the service's world for the whole dump, a span that
grows with the number of goroutines (docs/performance.md), and the tree serves one such profile
a second. --debug=1 groups identical stacks with their count and stops the world only briefly.

URL is the service (http://127.0.0.1:8080: the tree is taken to be at /debug/memdiag/) or the
tree. Without a scheme, http is used.

exit status:
  0  the stacks were printed
  1  the service could not be reached, refused, or did not serve the dump
  2  bad usage

flags:
`

const heapSynopsis = `usage: memdiag heap [flags] URL

Fetches a running service's in-use heap profile (GET <tree>pprof/heap) — who retains memory now,
not who allocates fastest — and prints the functions holding the most in-use bytes, or saves the
profile for go tool pprof with -o. Figures are estimates scaled from the runtime's samples (one
per runtime.MemProfileRate bytes allocated), as of the last completed GC; --gc asks the service
to run a full GC cycle first, so that they are of now (it costs the service that cycle).

URL is the service (http://127.0.0.1:8080: the tree is taken to be at /debug/memdiag/) or the
tree. Without a scheme, http is used.

exit status:
  0  the heap was printed or saved
  1  the service could not be reached, refused, or did not serve a heap profile
  2  bad usage

flags:
`

func stackFlags() (*flag.FlagSet, *int, *time.Duration) {
	fs := flag.NewFlagSet("stack", flag.ContinueOnError)
	debug := fs.Int("debug", 2, "2: every goroutine with its state; 1: identical stacks grouped with their count")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the dump")
	return fs, debug, timeout
}

func stackUsage(w io.Writer) {
	fs, _, _ := stackFlags()
	fs.SetOutput(w)
	io.WriteString(w, stackSynopsis)
	fs.PrintDefaults()
}

type heapConfig struct {
	out     string
	gc      bool
	top     int
	timeout time.Duration
}

func heapFlags() (*flag.FlagSet, *heapConfig) {
	c := &heapConfig{}
	fs := flag.NewFlagSet("heap", flag.ContinueOnError)
	fs.StringVar(&c.out, "o", "", "save the profile (pprof format) to `file` instead of printing it")
	fs.BoolVar(&c.gc, "gc", false, "have the service run a full GC cycle first, so that the figures are of now")
	fs.IntVar(&c.top, "top", 20, "how many functions to print")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "how long to wait for the profile")
	return fs, c
}

func heapUsage(w io.Writer) {
	fs, _ := heapFlags()
	fs.SetOutput(w)
	io.WriteString(w, heapSynopsis)
	fs.PrintDefaults()
}

func runStack(args []string, stdout, stderr io.Writer) int {
	fs, debug, timeout := stackFlags()
	arg, err := parseOneURL(fs, args, timeout, func() error {
		if *debug != 1 && *debug != 2 {
			return fmt.Errorf("--debug %d: must be 1 or 2", *debug)
		}
		return nil
	})
	if errors.Is(err, flag.ErrHelp) {
		stackUsage(stdout)
		return 0
	}
	var target string
	if err == nil {
		target, err = treeURL(arg, fmt.Sprintf("pprof/goroutine?debug=%d", *debug))
	}
	if err != nil {
		return cmdUsageError(stderr, "stack", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	body, _, err := fetchTree(ctx, newClient(*timeout), target, "text/plain", maxProfileBytes)
	if err == nil && !bytes.HasPrefix(body, []byte("goroutine ")) {
		err = fmt.Errorf("not a goroutine dump at %s (first bytes %s)", target, firstBytes(body))
	}
	if err != nil {
		fmt.Fprintf(stderr, "memdiag stack: %v\n", err)
		return exitFail
	}
	_, _ = stdout.Write(body)
	return 0
}

func runHeap(args []string, stdout, stderr io.Writer) int {
	fs, c := heapFlags()
	arg, err := parseOneURL(fs, args, &c.timeout, func() error {
		if c.top < 1 || c.top > 1000 {
			return fmt.Errorf("--top %d: must be between 1 and 1000", c.top)
		}
		return nil
	})
	if errors.Is(err, flag.ErrHelp) {
		heapUsage(stdout)
		return 0
	}
	var target string
	if err == nil {
		endpoint := "pprof/heap"
		if c.gc {
			endpoint += "?gc=1"
		}
		target, err = treeURL(arg, endpoint)
	}
	if err != nil {
		return cmdUsageError(stderr, "heap", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	body, _, err := fetchTree(ctx, newClient(c.timeout), target, "application/octet-stream", maxProfileBytes)
	var prof *profile.Profile
	if err == nil {
		if prof, err = profile.ParseData(body); err != nil {
			err = fmt.Errorf("not a heap profile at %s (first bytes %s): %w", target, firstBytes(body), err)
		}
	}
	if err == nil && c.out != "" {
		err = os.WriteFile(c.out, body, 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "memdiag heap: %v\n", err)
		return exitFail
	}
	if c.out != "" {
		fmt.Fprintf(stdout, "saved the in-use heap profile to %s (%d bytes): go tool pprof -sample_index=inuse_space %s\n", c.out, len(body), c.out)
		return 0
	}
	if err := writeHeapTop(stdout, prof, c.top); err != nil {
		fmt.Fprintf(stderr, "memdiag heap: %s: %v\n", target, err)
		return exitFail
	}
	return 0
}

// heapFunc is the in-use memory whose allocation's innermost frame is one function.
type heapFunc struct {
	name, file  string
	bytes, objs int64
}

// memdiagPackages is the import path prefix of memdiag's own packages; its examples are an
// application's code.
const memdiagPackages = "github.com/memdiag/memdiag/"

// heapSite is the function a heap sample is charged to, and its file:line: the first frame of the
// service's own code from the allocation outwards (not the runtime, not the standard library);
// "memdiag itself" when memdiag's code comes first, so that the observer's own memory is one line;
// the first frame outside the runtime when the stack holds neither.
func heapSite(locs []*profile.Location) (name, file string) {
	var first, firstOut *profile.Line
	for _, loc := range locs {
		for i := range loc.Line { // innermost (inlined) first
			ln := &loc.Line[i]
			if ln.Function == nil {
				continue
			}
			fn := ln.Function.Name
			if first == nil && !appframe.Allocator(fn) {
				first = ln
			}
			pkg := appframe.Package(fn)
			if firstOut == nil && pkg != "runtime" && !strings.HasPrefix(fn, "runtime.") {
				firstOut = ln
			}
			if strings.HasPrefix(fn, memdiagPackages) && !strings.HasPrefix(fn, memdiagPackages+"examples/") {
				return "memdiag itself", "(memdiag's own memory, not the service's)"
			}
			if pkg != "" && !appframe.Std(pkg) { // the standard library is not; main is
				return fn, fmt.Sprintf("%s:%d", ln.Function.Filename, ln.Line)
			}
		}
	}
	ln := firstOut
	if ln == nil {
		ln = first
	}
	if ln == nil && len(locs) > 0 && len(locs[0].Line) > 0 && locs[0].Line[0].Function != nil {
		ln = &locs[0].Line[0]
	}
	if ln == nil {
		return "(unknown)", ""
	}
	return ln.Function.Name, fmt.Sprintf("%s:%d", ln.Function.Filename, ln.Line)
}

// writeHeapTop prints the code that holds the most in-use bytes: each sample charged to its
// stack's first frame in the service's own code (heapSite), memdiag's own on one line.
func writeHeapTop(w io.Writer, p *profile.Profile, top int) error {
	bi, oi := pprofstack.SampleIndex(p, "inuse_space", ""), pprofstack.SampleIndex(p, "inuse_objects", "")
	if bi < 0 || oi < 0 {
		return errors.New("the profile has no inuse_space and inuse_objects: not a heap profile")
	}
	byFunc := map[string]*heapFunc{}
	var total, totalObjs int64
	for _, s := range p.Sample {
		name, file := heapSite(s.Location)
		f := byFunc[name]
		if f == nil {
			f = &heapFunc{name: name, file: file}
			byFunc[name] = f
		}
		f.bytes += s.Value[bi]
		f.objs += s.Value[oi]
		total += s.Value[bi]
		totalObjs += s.Value[oi]
	}
	funcs := make([]*heapFunc, 0, len(byFunc))
	for _, f := range byFunc {
		funcs = append(funcs, f)
	}
	sort.Slice(funcs, func(i, j int) bool {
		if funcs[i].bytes != funcs[j].bytes {
			return funcs[i].bytes > funcs[j].bytes
		}
		return funcs[i].name < funcs[j].name
	})
	fmt.Fprintf(w, "in-use heap: %s in %d objects (estimates from the runtime's samples, one per %d bytes allocated on average, as of the last completed GC)\n\n",
		humanize.Bytes(uint64(max(total, 0))), totalObjs, p.Period)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "IN-USE\tOBJECTS\tSHARE\tFUNCTION\tAT")
	for i, f := range funcs {
		if i == top {
			break
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", humanize.Bytes(uint64(max(f.bytes, 0))), f.objs, humanize.Share(float64(f.bytes), float64(total)), f.name, f.file)
	}
	tw.Flush()
	if len(funcs) > top {
		fmt.Fprintf(w, "\n%d more functions; go tool pprof on the profile (memdiag heap -o FILE URL) shows them all, with their callers\n", len(funcs)-top)
	}
	return nil
}
