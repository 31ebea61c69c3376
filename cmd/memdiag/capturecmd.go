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

	"github.com/google/pprof/profile"
)

const cpuSynopsis = `usage: memdiag cpu [flags] URL

Takes a CPU profile of a running service (GET <tree>cpu?seconds=N), saves it and prints how to
open it with go tool pprof, as gops pprof-cpu does. The service runs the runtime's CPU profiler
for N seconds (a SIGPROF 100 times a second per busy thread, about 1-5% CPU, no stop-the-world);
its tree bounds N (middleware.WithMaxDuration, 60 s by default) and takes one at a time.

URL is the service (http://127.0.0.1:8080: the tree is taken to be at /debug/memdiag/) or the
tree. Without a scheme, http is used.

exit status:
  0  the profile was saved
  1  the service could not be reached, refused, or did not serve a CPU profile
  2  bad usage

flags:
`

const traceSynopsis = `usage: memdiag trace [flags] URL

Fetches an execution trace of a running service (GET <tree>pprof/trace), saves it and prints how
to open it with go tool trace, as gops trace does. Without --seconds, the service's flight
recorder window (the seconds before you asked; runtimediag.WithFlightRecorder), and a fresh trace
of one second when it runs none; with --seconds N, a fresh trace of N seconds (the tracer's CPU
while it runs, one brief stop-the-world).

URL is the service (http://127.0.0.1:8080: the tree is taken to be at /debug/memdiag/) or the
tree. Without a scheme, http is used.

exit status:
  0  the trace was saved
  1  the service could not be reached, refused, or did not serve a trace
  2  bad usage

flags:
`

type captureConfig struct {
	out     string
	seconds int
	timeout time.Duration
}

func captureFlags(name string, defSeconds int) (*flag.FlagSet, *captureConfig) {
	c := &captureConfig{}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.StringVar(&c.out, "o", "", "save to `file` (default memdiag-"+name+"-TIME in the current directory)")
	what := "how many seconds to profile (1-3600; the service's tree may bound it lower)"
	if name == "trace" {
		what = "trace this many seconds afresh (1-3600) instead of taking the flight recorder's window"
	}
	fs.IntVar(&c.seconds, "seconds", defSeconds, what)
	fs.DurationVar(&c.timeout, "timeout", 30*time.Second, "how long to wait past the seconds")
	return fs, c
}

func cpuUsage(w io.Writer) {
	fs, _ := captureFlags("cpu", 30)
	fs.SetOutput(w)
	io.WriteString(w, cpuSynopsis)
	fs.PrintDefaults()
}

func traceUsage(w io.Writer) {
	fs, _ := captureFlags("trace", 0)
	fs.SetOutput(w)
	io.WriteString(w, traceSynopsis)
	fs.PrintDefaults()
}

func runCPU(args []string, stdout, stderr io.Writer) int {
	return runCaptureCmd("cpu", 30, args, stdout, stderr, cpuUsage)
}

func runTrace(args []string, stdout, stderr io.Writer) int {
	return runCaptureCmd("trace", 0, args, stdout, stderr, traceUsage)
}

// traceMagic starts every execution trace: "go 1.NN trace\x00\x00\x00".
var traceMagic = []byte("go 1.")

// runCaptureCmd fetches a CPU profile or a trace, checks that it is one and saves it.
func runCaptureCmd(name string, defSeconds int, args []string, stdout, stderr io.Writer, usage func(io.Writer)) int {
	fs, c := captureFlags(name, defSeconds)
	arg, err := parseOneURL(fs, args, &c.timeout, func() error {
		if c.seconds < 0 || c.seconds > 3600 || (name == "cpu" && c.seconds == 0) {
			return fmt.Errorf("--seconds %d: must be between 1 and 3600", c.seconds)
		}
		return nil
	})
	if errors.Is(err, flag.ErrHelp) {
		usage(stdout)
		return 0
	}
	var target string
	if err == nil {
		endpoint := fmt.Sprintf("cpu?seconds=%d", c.seconds)
		if name == "trace" {
			endpoint = "pprof/trace"
			if c.seconds > 0 {
				endpoint += fmt.Sprintf("?seconds=%d", c.seconds)
			}
		}
		target, err = treeURL(arg, endpoint)
	}
	if err != nil {
		return cmdUsageError(stderr, name, err)
	}
	out := c.out
	if out == "" {
		ext := ".pb.gz"
		if name == "trace" {
			ext = ".out"
		}
		out = "memdiag-" + name + "-" + time.Now().UTC().Format("20060102-150405") + ext
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	wait := time.Duration(max(c.seconds, 1)) * time.Second
	if c.seconds > 0 {
		fmt.Fprintf(stderr, "memdiag %s: %s for %s…\n", name, map[string]string{"cpu": "profiling", "trace": "tracing"}[name], wait)
	}
	body, _, err := fetchTree(ctx, newClient(wait+c.timeout), target, "application/octet-stream", maxProfileBytes)
	if err == nil {
		switch name {
		case "cpu":
			var p *profile.Profile
			if p, err = profile.ParseData(body); err == nil && (len(p.SampleType) == 0 || p.SampleType[len(p.SampleType)-1].Type != "cpu") {
				err = errors.New("its sample type is not cpu")
			}
		case "trace":
			if !bytes.HasPrefix(body, traceMagic) {
				err = errors.New("no execution trace header")
			}
		}
		if err != nil {
			err = fmt.Errorf("not a %s profile at %s (first bytes %s): %w", name, target, firstBytes(body), err)
		}
	}
	if err == nil {
		err = os.WriteFile(out, body, 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "memdiag %s: %v\n", name, err)
		return exitFail
	}
	if name == "cpu" {
		fmt.Fprintf(stdout, "saved the CPU profile (%s) to %s (%d bytes)\nopen it with: go tool pprof %s   (or go tool pprof -http=:0 %s for the web view)\n", wait, out, len(body), out, out)
	} else {
		fmt.Fprintf(stdout, "saved the execution trace to %s (%d bytes)\nopen it with: go tool trace %s\n", out, len(body), out)
	}
	return 0
}
