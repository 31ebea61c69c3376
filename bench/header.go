package bench

import (
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"testing"
)

// Main runs the tests and benchmarks of m and exits with their status. When benchmarks are
// selected (-test.bench), it first prints the [Header] to standard output, where go test
// writes the results it describes. Use it as the whole body of TestMain:
//
//	func TestMain(m *testing.M) { bench.Main(m) }
func Main(m *testing.M) {
	if !flag.Parsed() {
		flag.Parse()
	}
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		if err := Header(os.Stdout); err != nil {
			fmt.Fprintf(os.Stderr, "bench: header: %v\n", err)
		}
	}
	os.Exit(m.Run())
}

// Header writes benchfmt unit metadata and configuration lines that make a results file
// self-describing:
//
//	Unit allocs/op assume=exact better=lower
//	goversion: go1.26.8
//	gogc: 100
//	gomemlimit: off
//	gomaxprocs: 2
//	goexperiment: default
func Header(w io.Writer) error {
	var b strings.Builder
	for _, u := range Units() {
		b.WriteString("Unit ")
		b.WriteString(u.Unit)
		if u.Exact {
			b.WriteString(" assume=exact")
		}
		if u.HigherIsBetter {
			b.WriteString(" better=higher")
		} else {
			b.WriteString(" better=lower")
		}
		b.WriteByte('\n')
	}
	for _, kv := range Config() {
		b.WriteString(kv[0])
		b.WriteString(": ")
		b.WriteString(kv[1])
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Config returns the configuration lines of [Header] as key, value pairs. The values come from
// the running program (runtime/metrics and the build information), not from the environment,
// so they say what was in force, e.g. a GOGC set by debug.SetGCPercent.
func Config() [][2]string {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}, {Name: "/gc/gomemlimit:bytes"}}
	metrics.Read(s)
	gogc := "unknown"
	if s[0].Value.Kind() == metrics.KindUint64 {
		// GOGC=off is stored as -1 and read back as its uint64 bit pattern.
		if v := s[0].Value.Uint64(); v > 1<<31 {
			gogc = "off"
		} else {
			gogc = strconv.FormatUint(v, 10)
		}
	}
	memlimit := "unknown"
	if s[1].Value.Kind() == metrics.KindUint64 {
		if v := s[1].Value.Uint64(); v == uint64(1<<63-1) {
			memlimit = "off"
		} else {
			memlimit = strconv.FormatUint(v, 10)
		}
	}
	return [][2]string{
		{"goversion", runtime.Version()},
		{"gogc", gogc},
		{"gomemlimit", memlimit},
		{"gomaxprocs", strconv.Itoa(runtime.GOMAXPROCS(0))},
		{"goexperiment", goexperiment()},
	}
}

// goexperiment is the GOEXPERIMENT the binary was built with, from its build information;
// "default" when none was set.
func goexperiment() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "GOEXPERIMENT" && s.Value != "" {
				return s.Value
			}
		}
	}
	return "default"
}
