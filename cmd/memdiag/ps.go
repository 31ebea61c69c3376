package main

import (
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/procself"
)

const psSynopsis = `usage: memdiag ps [flags]

Lists the Go programs running on this host, as gops does: for each process whose executable
(/proc/PID/exe) carries Go build information, its PID, Go version, main module, whether it embeds
memdiag, its resident set (/proc/PID/statm) and, where its smaps can be read (the same user, or
root), the resident bytes of each mapping class (memdiag maps PID shows them mapping by mapping).
Other users' processes whose executable cannot be read are counted, not listed. Linux only.

Reading smaps walks each process's page tables: on many large processes pass --no-classes.

exit status:
  0  the list was printed (it may be empty)
  1  /proc could not be read
  2  bad usage

flags:
`

func psFlags() (*flag.FlagSet, *bool, *bool) {
	fs := flag.NewFlagSet("ps", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the list as JSON")
	noClasses := fs.Bool("no-classes", false, "leave out the per-class breakdown (no smaps reads)")
	return fs, asJSON, noClasses
}

func psUsage(w io.Writer) {
	fs, _, _ := psFlags()
	fs.SetOutput(w)
	io.WriteString(w, psSynopsis)
	fs.PrintDefaults()
}

// goProcess is one line of memdiag ps.
type goProcess struct {
	PID        int    `json:"pid"`
	Exe        string `json:"exe"`
	GoVersion  string `json:"go_version"`
	MainModule string `json:"main_module"`
	// Memdiag is true when the program links memdiag: its tree may serve a full report.
	Memdiag bool `json:"memdiag"`
	// ResidentBytes is statm's resident set; null when statm could not be read.
	ResidentBytes *uint64 `json:"resident_bytes"`
	// Classes is the resident bytes of each mapping class; null when smaps could not be read
	// (ClassesError says why) or --no-classes.
	Classes      []psClass `json:"classes"`
	ClassesError string    `json:"classes_error,omitempty"`
}

type psClass struct {
	Class    string `json:"class"`
	RssBytes uint64 `json:"rss_bytes"`
}

// psResult is what memdiag ps --json prints.
type psResult struct {
	Processes []goProcess `json:"processes"`
	// Unreadable counts the processes whose executable could not be read (another user's).
	Unreadable int `json:"unreadable"`
}

func runPs(args []string, stdout, stderr io.Writer) int {
	flags, asJSON, noClasses := psFlags()
	flags.SetOutput(io.Discard)
	pos, err := parseInterleaved(flags, args)
	if errors.Is(err, flag.ErrHelp) {
		psUsage(stdout)
		return 0
	}
	if err == nil && len(pos) != 0 {
		err = fmt.Errorf("takes no arguments, have %d", len(pos))
	}
	if err != nil {
		return cmdUsageError(stderr, "ps", err)
	}
	res, err := listGoProcesses("/proc", !*noClasses)
	if err != nil {
		fmt.Fprintf(stderr, "memdiag ps: %v\n", err)
		return exitFail
	}
	if *asJSON {
		if err := jsonEncoder(stdout).Encode(res); err != nil {
			fmt.Fprintf(stderr, "memdiag ps: %v\n", err)
			return exitFail
		}
		return 0
	}
	writePs(stdout, res)
	return 0
}

// listGoProcesses reads every process under proc and keeps the Go programs.
func listGoProcesses(proc string, classes bool) (*psResult, error) {
	ents, err := os.ReadDir(proc)
	if err != nil {
		return nil, fmt.Errorf("listing processes: %w", err)
	}
	res := &psResult{Processes: []goProcess{}}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		exePath := filepath.Join(proc, e.Name(), "exe")
		bi, err := buildinfo.ReadFile(exePath)
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				res.Unreadable++
			}
			continue // not a Go program, a kernel thread, or gone
		}
		p := goProcess{PID: pid, GoVersion: bi.GoVersion, MainModule: bi.Main.Path}
		if p.MainModule == "" {
			p.MainModule = bi.Path
		}
		if exe, err := os.Readlink(exePath); err == nil {
			p.Exe = exe
		}
		p.Memdiag = bi.Main.Path == memdiagModule || slices.ContainsFunc(bi.Deps, func(m *debug.Module) bool { return m.Path == memdiagModule })
		pfs := procself.ForPID(filepath.Dir(proc), pid)
		if st, err := pfs.Statm(); err == nil {
			r := st.ResidentBytes
			p.ResidentBytes = &r
		}
		if classes {
			m, err := readMaps(pid)
			switch {
			case err != nil:
				p.ClassesError = err.Error()
			case !m.HaveSizes:
				p.ClassesError = "smaps could not be read: only the address ranges are known"
			default:
				p.Classes = []psClass{}
				for _, c := range m.Classes {
					if c.RssBytes > 0 {
						p.Classes = append(p.Classes, psClass{Class: string(c.Class), RssBytes: c.RssBytes})
					}
				}
			}
		}
		res.Processes = append(res.Processes, p)
	}
	slices.SortFunc(res.Processes, func(a, b goProcess) int { return a.PID - b.PID })
	return res, nil
}

const memdiagModule = "github.com/memdiag/memdiag"

func writePs(w io.Writer, res *psResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tGO\tMEMDIAG\tRSS\tPROGRAM\tRESIDENT BY CLASS")
	for _, p := range res.Processes {
		rss := "?"
		if p.ResidentBytes != nil {
			rss = humanize.Bytes(*p.ResidentBytes)
		}
		md := "-"
		if p.Memdiag {
			md = "yes"
		}
		var cls string
		switch {
		case p.Classes != nil:
			parts := make([]string, 0, len(p.Classes))
			for _, c := range p.Classes {
				parts = append(parts, c.Class+" "+humanize.Bytes(c.RssBytes))
			}
			cls = strings.Join(parts, ", ")
		case p.ClassesError != "":
			cls = "unreadable (" + p.ClassesError + ")"
		}
		name := p.Exe
		if name == "" {
			name = p.MainModule
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", p.PID, p.GoVersion, md, rss, name, cls)
	}
	tw.Flush()
	fmt.Fprintf(w, "\n%d Go processes", len(res.Processes))
	if res.Unreadable > 0 {
		fmt.Fprintf(w, "; %d processes whose executable could not be read (another user's: run as root to see them)", res.Unreadable)
	}
	fmt.Fprintln(w)
}
