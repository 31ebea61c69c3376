package procself

import (
	"errors"
	"fmt"
	iofs "io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// Latency is /proc/<pid>/latency, the LatencyTOP record of where the process's threads waited in the
// kernel and for how long. The kernel only fills it while /proc/sys/kernel/latencytop is 1; otherwise
// the file holds just its header and Records is empty. Writing to the file (not done here) clears it.
type Latency struct {
	Version string          // the header's version, "v0.1" on every kernel so far
	Records []LatencyRecord // one per distinct kernel backtrace, in the kernel's order (at most 32)
}

// LatencyRecord is one kind of wait: the same kernel backtrace seen Count times.
type LatencyRecord struct {
	Count     int           // how many waits had this backtrace
	Total     time.Duration // the waits' summed duration (the kernel counts microseconds)
	Max       time.Duration // the longest single wait
	Backtrace []string      // kernel functions, innermost first, e.g. "futex_wait_queue"
}

const latencyHeader = "Latency Top version : "

// Latency reads /proc/<pid>/latency. Most distribution kernels are built without CONFIG_LATENCYTOP;
// then the file does not exist and the error wraps both [ErrAbsent] and fs.ErrNotExist.
func (fs FS) Latency() (Latency, error) {
	path := fs.ProcPath("latency")
	b, err := fs.readFile(path)
	if err != nil {
		if errors.Is(err, iofs.ErrNotExist) {
			// The file is missing for a whole kernel, not for this process, only if the process
			// directory itself is there.
			if _, serr := os.Stat(fs.ProcPath()); serr == nil {
				return Latency{}, fmt.Errorf("%w: %w: kernel built without CONFIG_LATENCYTOP", err, ErrAbsent)
			}
		}
		return Latency{}, err
	}
	l, err := parseLatency(b)
	return l, withFile(err, path)
}

// parseLatency parses the header line and the "count total_us max_us function..." records that
// kernel/latencytop.c lstats_show_proc writes.
func parseLatency(b []byte) (Latency, error) {
	var l Latency
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(b) == 0 || !strings.HasPrefix(lines[0], latencyHeader) {
		return Latency{}, &ParseError{Line: 1, Msg: fmt.Sprintf("missing %q header", strings.TrimSpace(latencyHeader))}
	}
	l.Version = strings.TrimSpace(strings.TrimPrefix(lines[0], latencyHeader))
	for i, line := range lines[1:] {
		n := i + 2
		f := strings.Fields(line)
		if len(f) == 0 {
			return Latency{}, &ParseError{Line: n, Msg: "empty line"}
		}
		if len(f) < 4 {
			return Latency{}, &ParseError{Line: n, Msg: fmt.Sprintf("%d fields, want count, total, max and a backtrace", len(f))}
		}
		var v [3]int64
		for j, name := range []string{"count", "total", "max"} {
			x, err := strconv.ParseInt(f[j], 10, 64)
			if err != nil {
				return Latency{}, &ParseError{Line: n, Msg: name, Err: err}
			}
			// The kernel's count is an int; microseconds above the limit overflow time.Duration.
			limit := int64(1<<63-1) / int64(time.Microsecond)
			if j == 0 {
				limit = 1<<31 - 1
			}
			if x < 0 || x > limit {
				return Latency{}, &ParseError{Line: n, Msg: fmt.Sprintf("%s %d out of range", name, x)}
			}
			v[j] = x
		}
		l.Records = append(l.Records, LatencyRecord{
			Count:     int(v[0]),
			Total:     time.Duration(v[1]) * time.Microsecond,
			Max:       time.Duration(v[2]) * time.Microsecond,
			Backtrace: f[3:],
		})
	}
	return l, nil
}
