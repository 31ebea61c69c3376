package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"time"

	"github.com/memdiag/memdiag/runtimediag/reporttext"
)

const reportSynopsis = `usage: memdiag report [flags] URL

Fetches a running service's memdiag report (GET <tree>report.json) and prints it as text: where
the resident memory is, allocation and GC efficiency, findings with advice, top allocation sites.

URL is the service (http://127.0.0.1:8080: the tree is taken to be at /debug/memdiag/), the tree
(http://127.0.0.1:8080/debug/memdiag/) or report.json itself. Without a scheme, http is used.
The tree serves loopback callers only unless the service configured an authorizer.

exit status:
  0  the report was printed
  1  the service could not be reached, refused, or did not answer with a memdiag report
  2  bad usage

flags:
`

type reportConfig struct {
	timeout time.Duration
	asJSON  bool
	window  time.Duration
}

func reportFlags() (*flag.FlagSet, *reportConfig) {
	c := &reportConfig{}
	fs := flag.NewFlagSet("report", flag.ContinueOnError)
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long to wait for the report (a full report reads smaps: seconds on a large process)")
	fs.BoolVar(&c.asJSON, "json", false, "print the report's JSON as received, indented, instead of text")
	fs.DurationVar(&c.window, "window", 0, windowFlagUsage)
	return fs, c
}

// windowFlagUsage is the --window flag's help, the same for report and watch.
const windowFlagUsage = "report over the last `duration` (e.g. 5m) instead of the Monitor's last full interval; the service answers 400 when its window readings do not reach that far"

// withWindow adds ?window=d to the report's URL; d 0 leaves it alone.
func withWindow(target string, d time.Duration) (string, error) {
	if d == 0 {
		return target, nil
	}
	if d < 0 {
		return "", fmt.Errorf("--window %s: must be positive", d)
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", err
	}
	q := u.Query()
	q.Set("window", d.String())
	u.RawQuery = q.Encode()
	return u.String(), nil
}

func reportUsage(w io.Writer) {
	fs, _ := reportFlags()
	fs.SetOutput(w)
	io.WriteString(w, reportSynopsis)
	fs.PrintDefaults()
}

func runReport(args []string, stdout, stderr io.Writer) int {
	fs, c := reportFlags()
	arg, err := parseOneURL(fs, args, &c.timeout)
	if errors.Is(err, flag.ErrHelp) {
		reportUsage(stdout)
		return 0
	}
	if err != nil {
		return cmdUsageError(stderr, "report", err)
	}
	target, err := reportURL(arg)
	if err == nil {
		target, err = withWindow(target, c.window)
	}
	if err != nil {
		return cmdUsageError(stderr, "report", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := fetchReport(ctx, newClient(c.timeout), target)
	if err != nil {
		fmt.Fprintf(stderr, "memdiag report: %v\n", err)
		return exitFail
	}
	if c.asJSON {
		if err := jsonEncoder(stdout).Encode(rep); err != nil {
			fmt.Fprintf(stderr, "memdiag report: %v\n", err)
			return exitFail
		}
		return 0
	}
	// Render here rather than fetch report.txt, so that decodeReport checks this is memdiag.
	if err := reporttext.Write(stdout, rep, target); err != nil {
		fmt.Fprintf(stderr, "memdiag report: %v\n", err)
		return exitFail
	}
	return 0
}

// cmdUsageError reports a command line that cannot be run.
func cmdUsageError(stderr io.Writer, name string, err error) int {
	fmt.Fprintf(stderr, "memdiag %s: %v\n", name, err)
	fmt.Fprintf(stderr, "run memdiag help %s for usage\n", name)
	return exitUsage
}
