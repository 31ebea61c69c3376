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

	"github.com/memdiag/memdiag/internal/appframe"
	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/procself"
)

const psSynopsis = `usage: memdiag ps [flags] [PID]

Lists the Go programs running on this host, as gops does: for each process whose executable
(/proc/PID/exe) carries Go build information, its PID, Go version, main module, whether it embeds
memdiag, its resident set (/proc/PID/statm) and, where its smaps can be read (the same user, or
root), the resident bytes of each mapping class (memdiag maps PID shows them mapping by mapping).
Other users' processes whose executable cannot be read are counted, not listed. Linux only.

Reading smaps walks each process's page tables: on many large processes pass --no-classes.

With a PID, one process as gops PID shows it: parent, program and Go version, command line, user,
start time, threads, resident set, CPU used (on average since the start) and TCP and UDP
connections, from /proc.

exit status:
  0  the list was printed (it may be empty)
  1  /proc could not be read
  2  bad usage

flags:
`

type psConfig struct {
	asJSON, noClasses, tree bool
}

func psFlags() (*flag.FlagSet, *psConfig) {
	c := &psConfig{}
	fs := flag.NewFlagSet("ps", flag.ContinueOnError)
	fs.BoolVar(&c.asJSON, "json", false, "print the list as JSON")
	fs.BoolVar(&c.noClasses, "no-classes", false, "leave out the per-class breakdown (no smaps reads)")
	fs.BoolVar(&c.tree, "tree", false, "show the Go processes as a tree: each under its nearest Go ancestor (from /proc/PID/stat's parent PIDs), as gops tree")
	return fs, c
}

func psUsage(w io.Writer) {
	fs, _ := psFlags()
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
	// PPID is the parent process (/proc/PID/stat); null when stat could not be read.
	PPID *int `json:"ppid"`
	// GoParentPID is the nearest ancestor that is one of the listed Go processes; null when none
	// is (the process is a root of memdiag ps --tree).
	GoParentPID *int `json:"go_parent_pid"`
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
	flags, c := psFlags()
	flags.SetOutput(io.Discard)
	pos, err := parseInterleaved(flags, args)
	if errors.Is(err, flag.ErrHelp) {
		psUsage(stdout)
		return 0
	}
	if err == nil && len(pos) > 1 {
		err = fmt.Errorf("takes at most one PID, have %d arguments", len(pos))
	}
	if err == nil && len(pos) == 1 {
		if c.tree {
			return cmdUsageError(stderr, "ps", errors.New("--tree lists every Go process: not with a PID"))
		}
		return runPsDetail(pos[0], c.asJSON, stdout, stderr)
	}
	if err != nil {
		return cmdUsageError(stderr, "ps", err)
	}
	if err == nil && c.tree && c.asJSON {
		err = errors.New("--tree and --json: the JSON has each process's ppid and go_parent_pid, from which the tree is drawn")
	}
	if err != nil {
		return cmdUsageError(stderr, "ps", err)
	}
	res, err := listGoProcesses("/proc", !c.noClasses)
	if err != nil {
		fmt.Fprintf(stderr, "memdiag ps: %v\n", err)
		return exitFail
	}
	if c.asJSON {
		if err := jsonEncoder(stdout).Encode(res); err != nil {
			fmt.Fprintf(stderr, "memdiag ps: %v\n", err)
			return exitFail
		}
		return 0
	}
	if c.tree {
		writePsTree(stdout, res)
	} else {
		writePs(stdout, res)
	}
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
		p.Memdiag = linksMemdiag(bi)
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
	linkGoParents(proc, ents, res.Processes)
	return res, nil
}

// maxAncestry bounds the walk up the parent chain: deeper than any real process tree, and a
// guard against a cycle read from a changing /proc.
const maxAncestry = 256

// linkGoParents fills each Go process's PPID and its nearest Go ancestor, reading the parent PID
// of every process under proc (the chain may pass through shells and other non-Go programs).
func linkGoParents(proc string, ents []fs.DirEntry, ps []goProcess) {
	parent := map[int]int{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		if st, err := procself.ForPID(filepath.Dir(proc), pid).Stat(); err == nil {
			parent[pid] = st.PPID
		}
	}
	isGo := map[int]bool{}
	for _, p := range ps {
		isGo[p.PID] = true
	}
	for i := range ps {
		pp, ok := parent[ps[i].PID]
		if !ok {
			continue
		}
		ps[i].PPID = &pp
		for cur, n := pp, 0; cur > 0 && n < maxAncestry; n++ {
			if isGo[cur] && cur != ps[i].PID {
				gp := cur
				ps[i].GoParentPID = &gp
				break
			}
			next, ok := parent[cur]
			if !ok {
				break
			}
			cur = next
		}
	}
}

// writePsTree prints the Go processes as a tree under their nearest Go ancestors.
func writePsTree(w io.Writer, res *psResult) {
	children := map[int][]goProcess{}
	var roots []goProcess
	for _, p := range res.Processes {
		if p.GoParentPID == nil {
			roots = append(roots, p)
		} else {
			children[*p.GoParentPID] = append(children[*p.GoParentPID], p)
		}
	}
	var walk func(p goProcess, prefix, branch string, depth int)
	walk = func(p goProcess, prefix, branch string, depth int) {
		fmt.Fprintf(w, "%s%s%s\n", prefix, branch, psTreeLine(p))
		if depth == maxAncestry {
			return
		}
		switch branch {
		case "├─ ":
			prefix += "│  "
		case "└─ ":
			prefix += "   "
		}
		kids := children[p.PID]
		for i, k := range kids {
			b := "├─ "
			if i == len(kids)-1 {
				b = "└─ "
			}
			walk(k, prefix, b, depth+1)
		}
	}
	for _, r := range roots {
		walk(r, "", "", 0)
	}
	fmt.Fprintf(w, "\n%d Go processes, each under its nearest Go ancestor (the chain may pass through other programs)", len(res.Processes))
	if res.Unreadable > 0 {
		fmt.Fprintf(w, "; %d processes whose executable could not be read (another user's: run as root to see them)", res.Unreadable)
	}
	fmt.Fprintln(w)
}

// psTreeLine is one process in memdiag ps --tree.
func psTreeLine(p goProcess) string {
	name := p.Exe
	if name == "" {
		name = p.MainModule
	}
	var extra []string
	extra = append(extra, p.GoVersion)
	if p.Memdiag {
		extra = append(extra, "memdiag")
	}
	if p.ResidentBytes != nil {
		extra = append(extra, humanize.Bytes(*p.ResidentBytes)+" resident")
	}
	return fmt.Sprintf("%d %s (%s)", p.PID, name, strings.Join(extra, ", "))
}

// linksMemdiag reports whether a Go binary's build info names memdiag: its main module, or one
// of its dependencies.
func linksMemdiag(bi *buildinfo.BuildInfo) bool {
	return bi.Main.Path == appframe.Module || slices.ContainsFunc(bi.Deps, func(m *debug.Module) bool { return m.Path == appframe.Module })
}

func writePs(w io.Writer, res *psResult) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "PID\tGO\tMEMDIAG\tRSS\tPROGRAM\tRESIDENT BY CLASS")
	for _, p := range res.Processes {
		rss := humanize.Absent
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
