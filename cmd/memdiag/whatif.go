package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"time"

	"github.com/memdiag/memdiag/runtimediag/reporttext"
)

const whatifSynopsis = `usage: memdiag whatif [flags] URL

Fetches a running service's memdiag report and prints its what-if table: GC cycles per second,
GC CPU, peak heap and peak resident predicted for GOGC off, 50, 100, 200 and 400 and, in a
memory-limited container, for a fixed 90% GOMEMLIMIT and for one that counts the measured non-Go
memory. When the window breaks the model's assumptions (a live heap or allocation rate that
moved, too few GC cycles, ...) it prints why instead. docs/whatif.md explains the model.

URL is as for memdiag report.

exit status:
  0  the table (or why there is none) was printed
  1  the service could not be reached, refused, or did not answer with a memdiag report
  2  bad usage

flags:
`

func whatifFlags() (*flag.FlagSet, *time.Duration, *bool) {
	fs := flag.NewFlagSet("whatif", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 10*time.Second, "how long to wait for the report")
	asJSON := fs.Bool("json", false, "print the report's what_if object as JSON")
	return fs, timeout, asJSON
}

func whatifUsage(w io.Writer) {
	fs, _, _ := whatifFlags()
	fs.SetOutput(w)
	io.WriteString(w, whatifSynopsis)
	fs.PrintDefaults()
}

func runWhatif(args []string, stdout, stderr io.Writer) int {
	fs, timeout, asJSON := whatifFlags()
	arg, err := parseOneURL(fs, args, timeout)
	if errors.Is(err, flag.ErrHelp) {
		whatifUsage(stdout)
		return 0
	}
	if err != nil {
		return cmdUsageError(stderr, "whatif", err)
	}
	target, err := reportURL(arg)
	if err != nil {
		return cmdUsageError(stderr, "whatif", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := fetchReport(ctx, newClient(*timeout), target)
	if err != nil {
		fmt.Fprintf(stderr, "memdiag whatif: %v\n", err)
		return exitFail
	}
	if rep.WhatIf == nil {
		fmt.Fprintln(stdout, "no what-if table: the report has no window (a report on one snapshot has no rates)")
		return 0
	}
	if *asJSON {
		if err := jsonEncoder(stdout).Encode(rep.WhatIf); err != nil {
			fmt.Fprintf(stderr, "memdiag whatif: %v\n", err)
			return exitFail
		}
		return 0
	}
	if err := reporttext.WriteWhatIf(stdout, rep.WhatIf); err != nil {
		fmt.Fprintf(stderr, "memdiag whatif: %v\n", err)
		return exitFail
	}
	return 0
}
