package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/google/pprof/profile"

	"github.com/memdiag/memdiag/bench/escape"
	"github.com/memdiag/memdiag/internal/appframe"
)

const whySynopsis = `usage: memdiag why [flags] PKG
       memdiag why [flags] --from URL|report.json [PKG...]

Runs PKG's benchmarks with a memory profile (-memprofilerate=1), builds PKG with the compiler's
escape diagnostics (-gcflags=<module>/...=-m=2), and prints the top allocation sites of the
module's own code with the allocated expression, the compiler's reason, its flow, and the
standard remedy. A site whose allocation happens in a library function (strings.Split,
fmt.Sprintf) is charged to the module's line that called it, the library frame kept.

With --from, the sites come from a running service's report (its top_allocation_sites) or a saved
report.json, and the reasons from the source tree in the current directory: PKG defaults to the
packages of the sites that are in the current module.

The parsed diagnostics are cached under the user cache directory by a hash of the go version,
the flags and the source files, so a second run skips the compile.

exit status: 0 done, 1 a go command or the service failed, 2 bad usage

flags:
`

func whyUsage(w io.Writer) {
	fs, _ := whyFlags()
	fs.SetOutput(w)
	io.WriteString(w, whySynopsis)
	fs.PrintDefaults()
}

type whyConfig struct {
	bench   string
	iters   int
	flags   string
	top     int
	format  string
	from    string
	dir     string
	timeout time.Duration
	noCache bool
}

func whyFlags() (*flag.FlagSet, *whyConfig) {
	c := &whyConfig{}
	fs := flag.NewFlagSet("why", flag.ContinueOnError)
	fs.StringVar(&c.bench, "bench", ".", "`regexp` of the benchmarks to run, as go test -bench takes it")
	fs.IntVar(&c.iters, "iters", 1000, "iterations per benchmark (-benchtime=Nx); figures are per iteration")
	fs.StringVar(&c.flags, "flags", "", "extra go `flags` for the build and the run, space-separated, e.g. -tags=x")
	fs.IntVar(&c.top, "top", 10, "allocation sites to show")
	fs.StringVar(&c.format, "format", "text", "output `format`: text, json or markdown")
	fs.StringVar(&c.from, "from", "", "take the sites from a running service's `URL` or a saved report.json instead of running benchmarks")
	fs.StringVar(&c.dir, "C", ".", "run in `dir`ectory (the module, or a directory in it)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "limit for the build and the benchmark run")
	fs.BoolVar(&c.noCache, "no-cache", false, "compile even when the diagnostics are cached")
	return fs, c
}

// whyOutput is the JSON form of memdiag why.
type whyOutput struct {
	// Source says where the sites came from: "benchmarks" or the report's URL or file.
	Source string `json:"source"`
	// Units of objects and bytes: "objects/op" and "B/op" for benchmarks, "objects/s" and
	// "B/s" (sampled, scaled) for a service.
	ObjectsUnit string `json:"objects_unit"`
	BytesUnit   string `json:"bytes_unit"`
	// Cached is true when the compiler's diagnostics came from the cache.
	Cached bool                 `json:"diagnostics_cached"`
	Sites  []escape.Explanation `json:"sites"`
}

func runWhy(args []string, stdout, stderr io.Writer) int {
	fs, c := whyFlags()
	fs.SetOutput(io.Discard)
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		whyUsage(stdout)
		return 0
	}
	fail := func(code int, err error) int {
		fmt.Fprintf(stderr, "memdiag why: %v\n", err)
		if code == exitUsage {
			fmt.Fprintln(stderr, "run memdiag help why for usage")
		}
		return code
	}
	if err != nil {
		return fail(exitUsage, err)
	}
	switch c.format {
	case "text", "json", "markdown", "md":
	default:
		return fail(exitUsage, fmt.Errorf("-format %q: want text, json or markdown", c.format))
	}
	if c.iters < 1 || c.top < 1 {
		return fail(exitUsage, errors.New("-iters and -top: want 1 or more"))
	}
	if c.from == "" && len(pos) != 1 {
		return fail(exitUsage, fmt.Errorf("want one package, have %d arguments", len(pos)))
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	cfg := escape.Config{Dir: c.dir, Packages: pos, Flags: strings.Fields(c.flags)}
	if c.noCache {
		cfg.CacheDir = "off"
	}

	out := whyOutput{Source: "benchmarks", ObjectsUnit: escape.PerOp.Objects, BytesUnit: escape.PerOp.Bytes}
	var sites []escape.Site
	if c.from != "" {
		out.Source, out.ObjectsUnit, out.BytesUnit = c.from, "objects/s", "B/s"
		s, err := reportSites(ctx, c.from)
		if err != nil {
			return fail(exitFail, err)
		}
		sites = s
		if len(cfg.Packages) == 0 {
			if cfg.Packages, err = sitePackages(ctx, c.dir, sites); err != nil {
				return fail(exitFail, err)
			}
		}
	}
	res, err := escape.Build(ctx, cfg)
	if err != nil {
		return fail(exitFail, err)
	}
	out.Cached = res.Cached
	own := appframe.Matcher{Modules: res.Modules}
	if c.from == "" {
		if sites, err = benchSites(ctx, c, pos[0], own); err != nil {
			return fail(exitFail, err)
		}
	}
	ix := res.Index()
	out.Sites = []escape.Explanation{}
	for _, s := range sites {
		if len(out.Sites) == c.top {
			break
		}
		if !own.Own(s.App.Function) {
			continue
		}
		out.Sites = append(out.Sites, ix.Explain(s))
	}
	var buf bytes.Buffer
	u := escape.Units{Objects: out.ObjectsUnit, Bytes: out.BytesUnit}
	switch c.format {
	case "json":
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		err = enc.Encode(out)
	case "markdown", "md":
		err = escape.WriteMarkdown(&buf, out.Sites, u)
	default:
		err = escape.WriteText(&buf, out.Sites, u)
	}
	if err != nil {
		return fail(exitFail, err)
	}
	stdout.Write(buf.Bytes())
	return 0
}

// benchSites runs pkg's benchmarks once with a memory profile of every allocation and returns
// the sites per benchmark iteration.
func benchSites(ctx context.Context, c *whyConfig, pkg string, own appframe.Matcher) ([]escape.Site, error) {
	tmp, err := os.MkdirTemp("", "memdiag-why-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	prof := filepath.Join(tmp, "mem.prof")
	args := []string{"test", "-run=^$", "-bench=" + c.bench, "-benchtime=" + strconv.Itoa(c.iters) + "x", "-count=1",
		"-memprofile=" + prof, "-memprofilerate=1", "-o=" + filepath.Join(tmp, "why.test")}
	args = append(args, strings.Fields(c.flags)...)
	args = append(args, pkg)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = c.dir
	output, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, output)
	}
	f, err := os.Open(prof)
	if err != nil {
		return nil, fmt.Errorf("go test wrote no profile (does -bench %q match a benchmark in %s?): %w", c.bench, pkg, err)
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", prof, err)
	}
	// Each selected benchmark runs b.N=1 once, then the -benchtime count.
	n := strings.Count(string(output), "\nBenchmark") + boolInt(strings.HasPrefix(string(output), "Benchmark"))
	if n == 0 {
		return nil, fmt.Errorf("-bench %q ran no benchmark in %s", c.bench, pkg)
	}
	return escape.ProfileSites(p, own, float64(c.iters+1))
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// reportSites reads the top allocation sites of a service's report, from a URL or a file.
func reportSites(ctx context.Context, from string) ([]escape.Site, error) {
	// Read as JSON rather than through the Go type: the report's JSON is the contract, and a
	// report may carry an app_frame per site that this build's Report type does not know.
	var raw []byte
	if _, statErr := os.Stat(from); statErr == nil {
		if _, err := readReportFile(from); err != nil {
			return nil, err
		}
		b, err := os.ReadFile(from)
		if err != nil {
			return nil, err
		}
		raw = b
	} else {
		r, err := fetchReport(ctx, newClient(30*time.Second), from)
		if err != nil {
			return nil, err
		}
		if raw, err = json.Marshal(r); err != nil {
			return nil, err
		}
	}
	var doc struct {
		Top *struct {
			Sites []struct {
				Function         string  `json:"function"`
				File             string  `json:"file"`
				Line             int     `json:"line"`
				BytesPerSecond   float64 `json:"bytes_per_second"`
				ObjectsPerSecond float64 `json:"objects_per_second"`
				App              *struct {
					Function string `json:"function"`
					File     string `json:"file"`
					Line     int    `json:"line"`
				} `json:"app_frame"`
			} `json:"sites"`
		} `json:"top_allocation_sites"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		return nil, err
	}
	if doc.Top == nil || len(doc.Top.Sites) == 0 {
		return nil, fmt.Errorf("%s: the report has no top_allocation_sites (the first full report of a Monitor has no window yet)", from)
	}
	var out []escape.Site
	for _, s := range doc.Top.Sites {
		leaf := escape.Frame{Function: s.Function, File: s.File, Line: s.Line}
		site := escape.Site{App: leaf, Leaf: leaf, Objects: s.ObjectsPerSecond, Bytes: s.BytesPerSecond}
		if s.App != nil && s.App.Function != "" {
			site.App = escape.Frame{Function: s.App.Function, File: s.App.File, Line: s.App.Line}
		}
		out = append(out, site)
	}
	return out, nil
}

// sitePackages returns the import paths of the sites' own frames that are in the module of dir.
func sitePackages(ctx context.Context, dir string, sites []escape.Site) ([]string, error) {
	cmd := exec.CommandContext(ctx, "go", "list", "-m")
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("go list -m in %s: %w", dir, err)
	}
	own := appframe.Matcher{Modules: strings.Fields(string(out))}
	seen := map[string]bool{}
	var pkgs []string
	for _, s := range sites {
		if !own.Own(s.App.Function) {
			continue
		}
		p := appframe.Package(s.App.Function)
		if !seen[p] {
			seen[p] = true
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) == 0 {
		return nil, fmt.Errorf("no site of the report is in module %s: run memdiag why --from in the service's source tree", strings.TrimSpace(string(out)))
	}
	return pkgs, nil
}
