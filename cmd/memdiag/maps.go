package main

import (
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"text/tabwriter"

	"github.com/memdiag/memdiag/internal/humanize"
	"github.com/memdiag/memdiag/procself"
	"github.com/memdiag/memdiag/runtimediag"
	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

const mapsSynopsis = `usage: memdiag maps [flags] PID|self

Classifies every mapping of a local process from /proc/PID/smaps, the view pmap gives, explained:
for each mapping its address, permissions, size, resident bytes, class (go_heap, go_runtime,
thread_stack, c_heap, binary, shared_library, file_mapping, shared_memory, kernel, anonymous,
other_anonymous) and what it was recognised as, then the sums per class. The process need not
embed memdiag; it is read from outside, so:

  - the Go heap is found from Go's mapping names (Go 1.25 and later, on kernels that show them)
    or else from the 64 MiB-aligned shape of its arenas, when the executable is a Go program;
    its split into objects, fragmentation, free pages and stacks needs the process's own
    runtime/metrics (memdiag report);
  - "anonymous" in a Go program is the runtime's off-heap memory or someone else's: only the
    process itself can tell;
  - large C allocations glibc maps on their own are not recognised (that needs the process's
    memory) and show as anonymous.

Reading another user's process needs root (or the same user): when smaps is denied and maps is
not, the mappings are shown without sizes. Linux only.

exit status:
  0  the mappings were printed
  1  the process's mappings could not be read (no such process, permission denied, not Linux)
  2  bad usage

flags:
`

func mapsFlags() (*flag.FlagSet, *bool, *bool) {
	fs := flag.NewFlagSet("maps", flag.ContinueOnError)
	asJSON := fs.Bool("json", false, "print the classification as JSON")
	summary := fs.Bool("summary", false, "print only the sums per class")
	return fs, asJSON, summary
}

func mapsUsage(w io.Writer) {
	fs, _, _ := mapsFlags()
	fs.SetOutput(w)
	io.WriteString(w, mapsSynopsis)
	fs.PrintDefaults()
}

// mapsResult is what memdiag maps --json prints.
type mapsResult struct {
	PID       int    `json:"pid"`
	Exe       string `json:"exe,omitempty"`
	GoVersion string `json:"go_version,omitempty"`
	// Source is the file the mappings were read from: smaps, or maps when smaps was denied.
	Source string `json:"source"`
	rssattr.MappingClassification
}

func runMaps(args []string, stdout, stderr io.Writer) int {
	flags, asJSON, summary := mapsFlags()
	flags.SetOutput(io.Discard)
	pos, err := parseInterleaved(flags, args)
	if errors.Is(err, flag.ErrHelp) {
		mapsUsage(stdout)
		return 0
	}
	if err == nil && len(pos) != 1 {
		err = fmt.Errorf("want one PID or self, have %d arguments", len(pos))
	}
	if err != nil {
		return cmdUsageError(stderr, "maps", err)
	}
	pid := 0
	if pos[0] != "self" {
		if pid, err = strconv.Atoi(pos[0]); err != nil || pid <= 0 {
			return cmdUsageError(stderr, "maps", fmt.Errorf("%q is not a process ID (a positive number, or self)", pos[0]))
		}
	}
	res, err := readMaps(pid)
	if err != nil {
		fmt.Fprintf(stderr, "memdiag maps: %v\n", err)
		return exitFail
	}
	if *asJSON {
		if err := jsonEncoder(stdout).Encode(res); err != nil {
			fmt.Fprintf(stderr, "memdiag maps: %v\n", err)
			return exitFail
		}
		return 0
	}
	writeMaps(stdout, res, !*summary)
	return 0
}

func readMaps(pid int) (*mapsResult, error) {
	pfs := procself.ForPID("/", pid)
	res := &mapsResult{PID: pid, Source: "smaps"}
	if pid == 0 {
		res.PID = os.Getpid()
	}
	ms, err := pfs.Smaps()
	if errors.Is(err, fs.ErrPermission) {
		// maps needs less than smaps on some kernels and hardened setups (smaps walks page tables).
		if mm, merr := pfs.Maps(); merr == nil {
			ms, err, res.Source = mm, nil, "maps"
		}
	}
	if err != nil {
		return nil, mapsError(pfs.ProcPath("smaps"), pid, err)
	}
	exe, _, exeErr := pfs.Exe()
	if exeErr == nil {
		res.Exe = exe
	}
	goProgram := pid == 0
	if bi, err := buildinfo.ReadFile(pfs.ProcPath("exe")); err == nil {
		goProgram, res.GoVersion = true, bi.GoVersion
	}
	res.MappingClassification = rssattr.ClassifyMappings(ms, rssattr.ExternalProcess{Exe: exe, GoProgram: goProgram})
	return res, nil
}

func mapsError(path string, pid int, err error) error {
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		return fmt.Errorf("reading a process's mappings needs Linux's /proc: %w", err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("cannot read %s: permission denied (run as the same user or root)", path)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("no process %d (%s does not exist)", pid, path)
	}
	return err
}

func writeMaps(w io.Writer, res *mapsResult, table bool) {
	kind := "not a Go program (or its executable could not be read)"
	if res.GoVersion != "" {
		kind = "Go program, " + res.GoVersion
	} else if res.PID == os.Getpid() {
		kind = "Go program (this memdiag)"
	}
	fmt.Fprintf(w, "process %d  %s\n  %s\n", res.PID, res.Exe, kind)
	fmt.Fprintf(w, "  %d mappings from /proc/%d/%s; Go heap arenas found by: %s\n", len(res.Mappings), res.PID, res.Source, res.ArenasFoundBy)
	if !res.HaveSizes {
		fmt.Fprintln(w, "  smaps could not be read: resident sizes are unknown, only the address ranges are shown")
	}

	if table {
		fmt.Fprintln(w)
		tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
		fmt.Fprintln(tw, "ADDRESS\tPERMS\tSIZE\tRSS\tCLASS\tNAME")
		for _, m := range res.Mappings {
			rss := humanize.Bytes(m.RssBytes)
			if !res.HaveSizes {
				rss = humanize.Absent
			}
			fmt.Fprintf(tw, "%x-%x\t%s\t%s\t%s\t%s\t%s\n", m.Start, m.End, m.Perms, humanize.Bytes(m.SizeBytes), rss, m.Class, m.Name)
		}
		tw.Flush()
	}

	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "CLASS\tMAPPINGS\tSIZE\tRSS\tSHARE\t  WHAT IT IS")
	for _, s := range res.Classes {
		rss, sh := humanize.Bytes(s.RssBytes), humanize.Share(float64(s.RssBytes), float64(res.ResidentBytes))
		if !res.HaveSizes {
			rss, sh = humanize.Absent, ""
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t  %s\n", s.Class, s.Mappings, humanize.Bytes(s.SizeBytes), rss, sh, classMeaning[s.Class])
	}
	if res.HaveSizes {
		fmt.Fprintf(tw, "total\t%d\t\t%s\t\t\n", len(res.Mappings), humanize.Bytes(res.ResidentBytes))
	}
	tw.Flush()
}

// classMeaning says in a few words what each class holds, for a reader of the table who has not
// read docs/rss-categories.md.
var classMeaning = map[runtimediag.MappingClass]string{
	rssattr.ClassGoHeap:         "Go heap arenas: objects, fragmentation, free pages, goroutine stacks",
	rssattr.ClassGoRuntime:      "Go runtime metadata, named by Go",
	rssattr.ClassThreadStack:    "OS thread stacks: [stack] and pthread stacks",
	rssattr.ClassCHeap:          "C malloc: [heap] and glibc arenas",
	rssattr.ClassBinary:         "the executable and its bss",
	rssattr.ClassSharedLibrary:  "shared libraries and their bss",
	rssattr.ClassFileMapping:    "other mapped files (reclaimable page cache)",
	rssattr.ClassSharedMemory:   "/dev/shm, System V, memfd, shared anonymous",
	rssattr.ClassKernel:         "[vdso], [vvar], [vsyscall]",
	rssattr.ClassAnonymous:      "Go runtime off-heap memory or others' (only the process can tell)",
	rssattr.ClassOtherAnonymous: "anonymous memory not recognised as any of the above",
}
