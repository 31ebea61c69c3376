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
	"time"

	"github.com/memdiag/memdiag/runtimediag/reporttext"
)

const watchSynopsis = `usage: memdiag watch [flags] URL

Fetches the report every --interval and shows it: redrawn in place when stdout is a terminal,
otherwise one report after another, separated by a line. Stops on Ctrl-C, or after --count
reports. A failed fetch is shown in place of the report and watching goes on (a restarting
service comes back). URL is taken as memdiag report takes it.

Each fetch asks the service for a fresh full report, which reads its smaps: on a large process
that costs milliseconds of its CPU per fetch, so keep the interval at seconds. Fetching does not
move the report's window: its rates cover the Monitor's own (the line under the title says which),
the same for every viewer.

exit status:
  0  stopped by Ctrl-C or after --count reports, the last one fetched
  1  the last fetch failed
  2  bad usage

flags:
`

type watchConfig struct {
	interval time.Duration
	timeout  time.Duration
	count    int
	window   time.Duration
}

func watchFlags() (*flag.FlagSet, *watchConfig) {
	c := &watchConfig{}
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.DurationVar(&c.interval, "interval", 2*time.Second, "time between fetches (at least 100ms)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "how long to wait for each report")
	fs.IntVar(&c.count, "count", 0, "stop after this many reports (0: until Ctrl-C)")
	fs.DurationVar(&c.window, "window", 0, windowFlagUsage)
	return fs, c
}

func watchUsage(w io.Writer) {
	fs, _ := watchFlags()
	fs.SetOutput(w)
	io.WriteString(w, watchSynopsis)
	fs.PrintDefaults()
}

func runWatch(args []string, stdout, stderr io.Writer) int {
	fs, c := watchFlags()
	fs.SetOutput(io.Discard)
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		watchUsage(stdout)
		return 0
	}
	switch {
	case err != nil:
	case len(pos) != 1:
		err = fmt.Errorf("want one URL, have %d arguments", len(pos))
	case c.interval < 100*time.Millisecond:
		err = fmt.Errorf("--interval %s: must be at least 100ms", c.interval)
	case c.timeout <= 0:
		err = fmt.Errorf("--timeout %s: must be positive", c.timeout)
	case c.count < 0:
		err = fmt.Errorf("--count %d: must not be negative", c.count)
	}
	if err != nil {
		return cmdUsageError(stderr, "watch", err)
	}
	target, err := reportURL(pos[0])
	if err == nil {
		target, err = withWindow(target, c.window)
	}
	if err != nil {
		return cmdUsageError(stderr, "watch", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return watch(ctx, c, target, isTerminal(stdout), stdout)
}

func watch(ctx context.Context, c *watchConfig, target string, terminal bool, stdout io.Writer) int {
	client := newClient(c.timeout)
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	status := 0
	var buf bytes.Buffer
	for n := 1; ; n++ {
		buf.Reset()
		if terminal {
			buf.WriteString("\x1b[H\x1b[2J") // home, clear: redraw in place
		} else if n > 1 {
			buf.WriteString("\n" + separator + "\n\n")
		}
		rep, err := fetchReport(ctx, client, target)
		if ctx.Err() != nil {
			return status // Ctrl-C during a fetch: stop quietly
		}
		if err != nil {
			status = exitFail
			fmt.Fprintf(&buf, "memdiag watch %s  %s\n\n%v\n", target, time.Now().Format(time.TimeOnly), err)
		} else {
			status = 0
			reporttext.Write(&buf, rep, target) // a bytes.Buffer does not fail
		}
		if terminal {
			fmt.Fprintf(&buf, "\nevery %s; Ctrl-C to stop\n", c.interval)
		}
		stdout.Write(buf.Bytes()) // one write per report, so a terminal never shows half of one
		if c.count > 0 && n >= c.count {
			return status
		}
		select {
		case <-ctx.Done():
			return status
		case <-tick.C:
		}
	}
}

const separator = "────────────────────────────────────────────────────────────────────────"

// isTerminal reports whether w is a character device (a terminal), without a dependency for it.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
