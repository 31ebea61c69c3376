// Command memdiag explains and guards the memory of Go programs.
//
// Usage:
//
//	memdiag <command> [arguments]
//
// The commands are:
//
//	report  fetch a running service's memdiag report and print it
//	watch   show a running service's report, refreshed every few seconds
//	leaks   print a running service's leak suspects: what keeps growing and the code that grows it
//	whatif  predict GC cost and peak memory under other GOGC and GOMEMLIMIT settings
//	diff    compare two saved reports
//	maps    classify every memory mapping of a local process, memdiag in it or not
//	ps      list the Go processes on this host with their resident memory by class
//	stack   print every goroutine's stack from a service's memdiag tree
//	heap    print a service's in-use heap by function, or save the profile
//	cpu     take a service's CPU profile and save it for go tool pprof
//	trace   save a service's execution trace for go tool trace
//	gc      run a full GC in a service now (needs middleware.WithRuntimeControl)
//	setgc   set a service's GOGC (needs middleware.WithRuntimeControl)
//	gate    compare benchmark results and fail on allocation regressions
//	why     name the top allocation sites of benchmarks or a service, with the compiler's reason and the fix
//	help    show help for a command
//
// Run memdiag help <command> for a command's flags.
package main

import (
	"fmt"
	"io"
	"os"
)

// command is one subcommand. run returns the process exit status; it writes results to
// stdout and diagnostics to stderr.
type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
	usage   func(w io.Writer)
}

// commands is the table of subcommands.
func commands() []command {
	return []command{
		{name: "report", summary: "fetch a running service's memdiag report and print it", run: runReport, usage: reportUsage},
		{name: "watch", summary: "show a running service's report, refreshed every few seconds", run: runWatch, usage: watchUsage},
		{name: "leaks", summary: "print a running service's leak suspects: what keeps growing and the code that grows it", run: runLeaks, usage: leaksUsage},
		{name: "whatif", summary: "predict GC cost and peak memory of a running service under other GOGC and GOMEMLIMIT settings", run: runWhatif, usage: whatifUsage},
		{name: "diff", summary: "compare two saved reports", run: runDiff, usage: diffUsage},
		{name: "maps", summary: "classify every memory mapping of a local process, memdiag in it or not", run: runMaps, usage: mapsUsage},
		{name: "ps", summary: "list the Go processes on this host with their resident memory by class", run: runPs, usage: psUsage},
		{name: "stack", summary: "print every goroutine's stack from a service's memdiag tree", run: runStack, usage: stackUsage},
		{name: "heap", summary: "print a service's in-use heap by function, or save the profile", run: runHeap, usage: heapUsage},
		{name: "cpu", summary: "take a service's CPU profile and save it for go tool pprof", run: runCPU, usage: cpuUsage},
		{name: "trace", summary: "save a service's execution trace for go tool trace", run: runTrace, usage: traceUsage},
		{name: "gc", summary: "run a full GC in a service now (needs middleware.WithRuntimeControl)", run: runGC, usage: gcUsage},
		{name: "setgc", summary: "set a service's GOGC (needs middleware.WithRuntimeControl)", run: runSetGC, usage: setgcUsage},
		{name: "gate", summary: "compare benchmark results and fail on allocation regressions", run: runGate, usage: gateUsage},
		{name: "why", summary: "name the top allocation sites of benchmarks or a service, with the compiler's reason and the fix", run: runWhy, usage: whyUsage},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// exitUsage is the status for a command line that cannot be run, the same as the gate's bad
// input status.
const exitUsage = 2

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		return help(rest, stdout, stderr)
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(rest, stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "memdiag: unknown command %q\n", name)
	usage(stderr)
	return exitUsage
}

func help(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stdout)
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			c.usage(stdout)
			return 0
		}
	}
	fmt.Fprintf(stderr, "memdiag help: unknown command %q\n", args[0])
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: memdiag <command> [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(w, "  %-8s %s\n", "help", "show help for a command")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run memdiag help <command> for its flags.")
}
