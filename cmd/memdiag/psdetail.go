package main

import (
	"bytes"
	"debug/buildinfo"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/procself"
)

// psDetail is memdiag ps PID: one process as gops PID shows it, read from /proc. A figure that
// could not be read is null, never 0.
type psDetail struct {
	PID         int      `json:"pid"`
	PPID        *int     `json:"ppid"`
	Exe         string   `json:"exe"`
	CommandLine []string `json:"command_line"`
	// GoVersion and MainModule are empty when the executable carries no Go build information.
	GoVersion  string `json:"go_version"`
	MainModule string `json:"main_module"`
	Memdiag    bool   `json:"memdiag"`
	User       string `json:"user"`
	UID        *int   `json:"uid"`
	// StartTime is when the process started (boot time from /proc/uptime, plus stat's start
	// ticks); null when either could not be read.
	StartTime *time.Time `json:"start_time"`
	Threads   *int       `json:"threads"`
	// ResidentBytes is statm's resident set.
	ResidentBytes *uint64 `json:"resident_bytes"`
	// UserCPUSeconds and SystemCPUSeconds are stat's utime and stime.
	UserCPUSeconds   *float64 `json:"user_cpu_seconds"`
	SystemCPUSeconds *float64 `json:"system_cpu_seconds"`
	// CPUCores is the CPU time used per second of life, on average since the start (1 = one
	// CPU busy all the time): what gops shows as CPU %.
	CPUCores *float64 `json:"cpu_cores"`
	// Connections are its TCP and UDP sockets; null when its descriptors could not be read
	// (another user's process).
	Connections []psConn `json:"connections"`
	// Problems lists what could not be read, with the reason.
	Problems []string `json:"problems"`
}

// parseUptime reads /proc/uptime's first field, the seconds since boot ("12345.67 23456.78"), at
// most nine digits of them (31 years): more would overflow a Duration.
func parseUptime(b []byte) (time.Duration, error) {
	f, _, _ := bytes.Cut(bytes.TrimSpace(b), []byte(" "))
	sec, frac, hasFrac := bytes.Cut(f, []byte("."))
	if len(sec) == 0 || len(sec) > 9 || !allDigits(sec) || (hasFrac && (len(frac) == 0 || len(frac) > 9 || !allDigits(frac))) {
		return 0, fmt.Errorf("uptime: %q is not seconds since boot", firstBytes(f))
	}
	s, _ := strconv.ParseInt(string(sec), 10, 64)
	d := time.Duration(s) * time.Second
	if hasFrac {
		ns, _ := strconv.ParseInt(string(frac)+strings.Repeat("0", 9-len(frac)), 10, 64)
		d += time.Duration(ns)
	}
	return d, nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// readPsDetail reads one process below root ("/" on a live system).
func readPsDetail(root string, pid int, now time.Time) (*psDetail, error) {
	proc := filepath.Join(root, "proc")
	if _, err := os.Stat(filepath.Join(proc, strconv.Itoa(pid))); err != nil {
		return nil, fmt.Errorf("process %d: %w", pid, err)
	}
	d := &psDetail{PID: pid, CommandLine: []string{}, Problems: []string{}}
	problem := func(what string, err error) { d.Problems = append(d.Problems, what+": "+err.Error()) }
	pfs := procself.ForPID(root, pid)
	exePath := filepath.Join(proc, strconv.Itoa(pid), "exe")
	if exe, err := os.Readlink(exePath); err == nil {
		d.Exe = exe
	} else {
		problem("executable", err)
	}
	if bi, err := buildinfo.ReadFile(exePath); err == nil {
		d.GoVersion, d.MainModule = bi.GoVersion, bi.Main.Path
		d.Memdiag = linksMemdiag(bi)
	}
	if args, err := pfs.Cmdline(); err == nil {
		d.CommandLine = args
	} else {
		problem("command line", err)
	}
	if st, err := pfs.Status(); err == nil {
		uid := int(st.UIDs[0])
		d.UID = &uid
		if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
			d.User = u.Username
		}
	} else {
		problem("status", err)
	}
	if sm, err := pfs.Statm(); err == nil {
		r := sm.ResidentBytes
		d.ResidentBytes = &r
	} else {
		problem("statm", err)
	}
	if conns, err := readConns(proc, pid); err == nil {
		d.Connections = conns
	} else {
		problem("connections", err)
	}
	st, err := pfs.Stat()
	if err != nil {
		problem("stat", err)
		return d, nil
	}
	ppid, threads := st.PPID, st.NumThreads
	ut, stt := st.UTime.Seconds(), st.STime.Seconds()
	d.PPID, d.Threads, d.UserCPUSeconds, d.SystemCPUSeconds = &ppid, &threads, &ut, &stt
	b, err := os.ReadFile(filepath.Join(proc, "uptime"))
	var up time.Duration
	if err == nil {
		up, err = parseUptime(b)
	}
	if err != nil {
		problem("uptime", err)
		return d, nil
	}
	if life := up - st.StartTime; life > 0 {
		start := now.Add(-life).Truncate(time.Second)
		cores := (ut + stt) / life.Seconds()
		d.StartTime, d.CPUCores = &start, &cores
	}
	return d, nil
}

func writePsDetail(w io.Writer, d *psDetail, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	line := func(k, v string) { fmt.Fprintf(tw, "%s\t%s\n", k, v) }
	unread := humanize.Absent + " (not readable)"
	line("pid", strconv.Itoa(d.PID))
	if d.PPID != nil {
		line("parent", strconv.Itoa(*d.PPID))
	} else {
		line("parent", unread)
	}
	prog := d.Exe
	if prog == "" {
		prog = humanize.Absent
	}
	if d.GoVersion != "" {
		prog += fmt.Sprintf(" (%s, %s", d.GoVersion, d.MainModule)
		if d.Memdiag {
			prog += ", links memdiag"
		}
		prog += ")"
	} else {
		prog += " (not a Go program, or its executable is not readable)"
	}
	line("program", prog)
	line("command line", strings.Join(d.CommandLine, " "))
	switch {
	case d.UID != nil && d.User != "":
		line("user", fmt.Sprintf("%s (uid %d)", d.User, *d.UID))
	case d.UID != nil:
		line("user", fmt.Sprintf("uid %d", *d.UID))
	default:
		line("user", unread)
	}
	if d.StartTime != nil {
		line("started", fmt.Sprintf("%s (%s ago)", d.StartTime.UTC().Format(time.RFC3339), now.Sub(*d.StartTime).Round(time.Second)))
	} else {
		line("started", unread)
	}
	if d.Threads != nil {
		line("threads", strconv.Itoa(*d.Threads))
	} else {
		line("threads", unread)
	}
	if d.ResidentBytes != nil {
		line("resident", humanize.Bytes(*d.ResidentBytes)+" (memdiag maps "+strconv.Itoa(d.PID)+" splits it by mapping)")
	} else {
		line("resident", unread)
	}
	if d.CPUCores != nil {
		line("cpu", fmt.Sprintf("%.1f%% of one CPU on average since the start (user %.1f s, system %.1f s)", *d.CPUCores*100, *d.UserCPUSeconds, *d.SystemCPUSeconds))
	} else {
		line("cpu", unread)
	}
	if d.Connections != nil {
		line("connections", strconv.Itoa(len(d.Connections)))
		for _, c := range d.Connections {
			fmt.Fprintf(tw, "\t%s %s -> %s %s\n", c.Proto, c.Local, c.Remote, c.State)
		}
	} else {
		line("connections", unread)
	}
	tw.Flush()
	for _, p := range d.Problems {
		fmt.Fprintf(w, "not read: %s\n", p)
	}
}

// runPsDetail is memdiag ps PID.
func runPsDetail(arg string, asJSON bool, stdout, stderr io.Writer) int {
	pid, err := strconv.Atoi(arg)
	if err != nil || pid <= 0 {
		return cmdUsageError(stderr, "ps", fmt.Errorf("%q: not a process ID", arg))
	}
	now := time.Now()
	d, err := readPsDetail("/", pid, now)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = fmt.Errorf("no process %d", pid)
		}
		fmt.Fprintf(stderr, "memdiag ps: %v\n", err)
		return exitFail
	}
	if asJSON {
		if err := jsonEncoder(stdout).Encode(d); err != nil {
			fmt.Fprintf(stderr, "memdiag ps: %v\n", err)
			return exitFail
		}
		return 0
	}
	writePsDetail(stdout, d, now)
	return 0
}
