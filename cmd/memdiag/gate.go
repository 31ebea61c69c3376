package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/memdiag/memdiag/bench/escape"
	"github.com/memdiag/memdiag/bench/gate"
	"github.com/memdiag/memdiag/internal/appframe"
)

const gateSynopsis = `usage: memdiag gate [flags] BASE NEW
       memdiag gate [flags] --budgets FILE NEW
       memdiag gate [flags] --budgets FILE BASE NEW
       memdiag gate --base-profile FILE --new-profile FILE --iters N

Compares go test -bench -benchmem -count=N outputs. Exact units (allocs/op, B/op, frac-allocs/op,
frac-B/op, gc-cycles/op, stw-pauses/op, assume=exact in either file) are compared as numbers, held
to tolerances, when both sides are constant within the tolerance; when their values vary on either
side, and for noisy units (ns/op, stw-ns/op), a Mann-Whitney U test corrected for the number of
tests decides, with the tolerance or a minimum effect as the smallest change that counts. Results
of different configurations (goos, goarch, cpu, note, any file key, GOMAXPROCS) are neither pooled
nor compared, as in benchstat; --ignore names keys that should not separate them. Every line of a
budgets file is checked against the median of NEW, whatever --units says. NaN, ±Inf and negative
counts, sizes or times in the inputs are bad input.

Run the built binary (go install, go build): go run exits 1 for any failure and hides 2 and 3.

exit status:
  0  every gated number was compared and none regressed
  1  a regression
  2  bad input or usage: a line that does not parse, NaN, ±Inf or an impossible value (file:line)
  3  inconclusive: too few samples, missing or added benchmarks, different configurations
  When several apply, 2 wins over 1, 1 over 3, and 3 over 0.

flags:
`

func gateUsage(w io.Writer) {
	fs, _ := gateFlags()
	fs.SetOutput(w)
	io.WriteString(w, gateSynopsis)
	fs.PrintDefaults()
}

// gateConfig is the parsed command line.
type gateConfig struct {
	format      string
	budgets     string
	update      bool
	alpha       float64
	minEffect   string
	units       string
	ignore      string
	tolerances  multiFlag
	allowAdded  bool
	explain     bool
	pkg         string
	baseDir     string
	newDir      string
	baseFlags   string
	newFlags    string
	iters       int
	top         int
	baseProfile string
	newProfile  string
	timeout     time.Duration
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, " ") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func gateFlags() (*flag.FlagSet, *gateConfig) {
	c := &gateConfig{}
	fs := flag.NewFlagSet("gate", flag.ContinueOnError)
	fs.StringVar(&c.format, "format", "text", "output `format`: text, json or markdown")
	fs.StringVar(&c.budgets, "budgets", "", "budgets `file` of per-benchmark maxima (package benchmark unit maximum)")
	fs.BoolVar(&c.update, "update", false, "lower the budgets the new results are under, add missing ones; never raise")
	fs.Float64Var(&c.alpha, "alpha", 0.05, "family-wise significance level of the noisy comparisons")
	fs.StringVar(&c.minEffect, "min-effect", "5%", "smallest change of a noisy unit's median that counts as a regression")
	fs.StringVar(&c.units, "units", strings.Join(gate.DefaultUnits(), ","), "comma-separated `units` to compare against BASE (budgets are checked whatever their unit)")
	fs.StringVar(&c.ignore, "ignore", "", "comma-separated configuration `keys` that do not keep results apart, like benchstat's -ignore: file keys such as cpu or note, and gomaxprocs")
	fs.Var(&c.tolerances, "tolerance", "`unit=spec` allowed increase of an exact unit, spec a comma list of N, N% and N/run (repeatable), e.g. B/op=16,1%")
	fs.BoolVar(&c.allowAdded, "allow-added", false, "accept benchmarks that only NEW has")
	fs.BoolVar(&c.explain, "explain", false, "for each regressed benchmark, record base and new memory profiles with go test and name the allocation sites that changed")
	fs.StringVar(&c.pkg, "pkg", "", "`package` of the benchmarks, as go test takes it, for --explain")
	fs.StringVar(&c.baseDir, "base-dir", "", "module `dir`ectory of the base tree, for --explain")
	fs.StringVar(&c.newDir, "new-dir", ".", "module `dir`ectory of the new tree, for --explain")
	fs.StringVar(&c.baseFlags, "base-flags", "", "extra go test `flags` for the base tree, space-separated, e.g. -tags=x")
	fs.StringVar(&c.newFlags, "new-flags", "", "extra go test `flags` for the new tree, space-separated")
	fs.IntVar(&c.iters, "iters", 10000, "benchmark iterations per profile (-benchtime=Nx), and the divisor for --base-profile")
	fs.IntVar(&c.top, "top", 10, "allocation sites to show per benchmark")
	fs.StringVar(&c.baseProfile, "base-profile", "", "explain only: base -memprofile `file`")
	fs.StringVar(&c.newProfile, "new-profile", "", "explain only: new -memprofile `file`")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Minute, "limit for each go test run of --explain")
	return fs, c
}

// parseInterleaved lets flags follow the positional arguments (memdiag gate a b --format json),
// which the flag package alone stops at.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func runGate(args []string, stdout, stderr io.Writer) int {
	fs, c := gateFlags()
	fs.SetOutput(io.Discard)
	pos, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		gateUsage(stdout)
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "memdiag gate: %v\n", err)
		fmt.Fprintln(stderr, "run memdiag help gate for usage")
		return gate.ExitBadInput
	}
	if c.baseProfile != "" || c.newProfile != "" {
		return explainProfiles(c, pos, stdout, stderr)
	}
	opts, err := c.options()
	if err != nil {
		return usageError(stderr, err)
	}
	var baseFile, newFile string
	switch {
	case len(pos) == 2:
		baseFile, newFile = pos[0], pos[1]
	case len(pos) == 1 && c.budgets != "":
		newFile = pos[0]
	default:
		return usageError(stderr, fmt.Errorf("want BASE NEW, or NEW with --budgets; have %d file arguments", len(pos)))
	}
	if c.update && c.budgets == "" {
		return usageError(stderr, errors.New("--update needs --budgets"))
	}
	if c.explain && (c.pkg == "" || c.baseDir == "" || baseFile == "") {
		return usageError(stderr, errors.New("--explain needs BASE, --pkg and --base-dir"))
	}

	ro := gate.ReadOptions{Ignore: splitList(c.ignore)}
	var base *gate.Set
	if baseFile != "" {
		if base, err = gate.ReadFilesWith(ro, baseFile); err != nil {
			return inputError(stderr, err)
		}
	}
	newSet, err := gate.ReadFilesWith(ro, newFile)
	if err != nil {
		return inputError(stderr, err)
	}
	var budgets *gate.Budgets
	if c.budgets != "" {
		if budgets, err = gate.ReadBudgetsFile(c.budgets); err != nil {
			return inputError(stderr, err)
		}
	}
	rep, err := gate.Compare(base, newSet, budgets, opts)
	var ie *gate.InputError
	if errors.As(err, &ie) {
		return inputError(stderr, err)
	}
	if err != nil {
		return usageError(stderr, err)
	}
	if c.explain {
		explainRegressions(c, rep, stderr)
	}
	var out bytes.Buffer
	switch c.format {
	case "json":
		err = gate.WriteJSON(&out, rep)
	case "markdown", "md":
		err = gate.WriteMarkdown(&out, rep)
	default:
		err = gate.WriteText(&out, rep)
	}
	if err != nil {
		fmt.Fprintf(stderr, "memdiag gate: %v\n", err)
		return gate.ExitBadInput
	}
	stdout.Write(out.Bytes())
	if c.update {
		if code := updateBudgets(c.budgets, budgets, newSet, rep, stderr); code != 0 {
			return code
		}
	}
	return rep.Exit
}

func (c *gateConfig) options() (gate.Options, error) {
	o := gate.DefaultOptions()
	switch c.format {
	case "text", "json", "markdown", "md":
	default:
		return o, fmt.Errorf("-format %q: want text, json or markdown", c.format)
	}
	if !(c.alpha > 0 && c.alpha < 1) {
		return o, fmt.Errorf("-alpha %v: want a number between 0 and 1", c.alpha)
	}
	o.Alpha = c.alpha
	eff, err := parsePct(c.minEffect)
	if err != nil {
		return o, fmt.Errorf("-min-effect: %w", err)
	}
	o.MinEffect = eff
	o.Units = splitList(c.units)
	if len(o.Units) == 0 {
		return o, errors.New("-units: want at least one unit")
	}
	for _, t := range c.tolerances {
		unit, spec, ok := strings.Cut(t, "=")
		if !ok || unit == "" {
			return o, fmt.Errorf("-tolerance %q: want unit=spec", t)
		}
		tol, err := parseTolerance(spec)
		if err != nil {
			return o, fmt.Errorf("-tolerance %q: %w", t, err)
		}
		o.Tolerances[unit] = tol
	}
	o.AllowAdded = c.allowAdded
	if c.iters < 1 {
		return o, fmt.Errorf("-iters %d: want 1 or more", c.iters)
	}
	return o, nil
}

// splitList splits a comma-separated flag value, dropping blanks.
func splitList(s string) []string {
	var out []string
	for _, u := range strings.Split(s, ",") {
		if u = strings.TrimSpace(u); u != "" {
			out = append(out, u)
		}
	}
	return out
}

// parseAmount reads a finite number of 0 or more: NaN, Inf and negative amounts would
// switch the gate off without a word.
func parseAmount(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v >= 0) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("%q: want a finite number of 0 or more", s)
	}
	return v, nil
}

// parsePct reads "5%" as 0.05 and "0.05" as 0.05.
func parsePct(s string) (float64, error) {
	scale := 1.0
	if t, ok := strings.CutSuffix(s, "%"); ok {
		s, scale = t, 0.01
	}
	v, err := parseAmount(s)
	if err != nil {
		return 0, fmt.Errorf("%q: want a finite number of 0 or more, optionally with %%", s)
	}
	return v * scale, nil
}

// parseTolerance reads a comma list of N (absolute), N% (relative) and N/run (per run).
func parseTolerance(spec string) (gate.Tolerance, error) {
	var t gate.Tolerance
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimPrefix(strings.TrimSpace(part), "+")
		var err error
		switch {
		case strings.HasSuffix(part, "%"):
			t.Rel, err = parsePct(part)
		case strings.HasSuffix(part, "/run"):
			t.PerRun, err = parseAmount(strings.TrimSuffix(part, "/run"))
		default:
			t.Abs, err = parseAmount(part)
		}
		if err != nil {
			return t, fmt.Errorf("%q: want N, N%% or N/run, N a finite number of 0 or more", part)
		}
	}
	return t, nil
}

func usageError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "memdiag gate: %v\n", err)
	fmt.Fprintln(stderr, "run memdiag help gate for usage")
	return gate.ExitBadInput
}

func inputError(stderr io.Writer, err error) int {
	fmt.Fprintf(stderr, "memdiag gate: bad input:\n%v\n", err)
	return gate.ExitBadInput
}

func updateBudgets(name string, b *gate.Budgets, newSet *gate.Set, rep *gate.Report, stderr io.Writer) int {
	if rep.Exit == gate.ExitRegression {
		fmt.Fprintln(stderr, "memdiag gate: budgets not updated: the new results regressed")
		return 0
	}
	changes := b.Ratchet(newSet)
	if len(changes) == 0 {
		return 0
	}
	var buf bytes.Buffer
	b.WriteTo(&buf)
	if err := os.WriteFile(name, buf.Bytes(), 0o644); err != nil {
		fmt.Fprintf(stderr, "memdiag gate: %v\n", err)
		return gate.ExitBadInput
	}
	for _, ch := range changes {
		old := "none"
		if ch.Old == ch.Old { // not NaN
			old = strconv.FormatFloat(ch.Old, 'g', -1, 64)
		}
		fmt.Fprintf(stderr, "budget %s %s: %s -> %s\n", ch.Benchmark, ch.Unit, old, strconv.FormatFloat(ch.New, 'g', -1, 64))
	}
	return 0
}

// explainRegressions records base and new profiles of each regressed benchmark and attaches
// the sites that changed to the report. Failures are reported per benchmark, not fatal: the
// regression stands either way.
func explainRegressions(c *gateConfig, rep *gate.Report, stderr io.Writer) {
	// One profile pair per benchmark name: go test runs it under the configuration of this
	// machine, whichever of its configurations regressed.
	seen := map[string]bool{}
	for _, r := range rep.Regressions() {
		if seen[r.Benchmark.String()] {
			continue
		}
		seen[r.Benchmark.String()] = true
		e := gate.Explanation{Benchmark: r.Benchmark}
		sites, err := explainOne(c, r.Benchmark.Name, stderr)
		if err != nil {
			e.Error = err.Error()
		}
		e.Sites = sites
		if len(e.Sites) > c.top {
			e.Sites = e.Sites[:c.top]
		}
		rep.Explanations = append(rep.Explanations, e)
	}
}

func explainOne(c *gateConfig, name string, stderr io.Writer) ([]gate.Site, error) {
	tmp, err := os.MkdirTemp("", "memdiag-gate-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	profiles := [2]string{filepath.Join(tmp, "base.prof"), filepath.Join(tmp, "new.prof")}
	dirs := [2]string{c.baseDir, c.newDir}
	flags := [2]string{c.baseFlags, c.newFlags}
	for i := range 2 {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		err := gate.ProfileBenchmark(ctx, gate.ProfileRun{Dir: dirs[i], Pkg: c.pkg, Benchmark: name,
			Iterations: c.iters, Flags: strings.Fields(flags[i]), Out: profiles[i]})
		cancel()
		if err != nil {
			return nil, err
		}
	}
	// The new tree, built with escape diagnostics: its module names the sites' own frames,
	// and its compiler says why each one allocates. Without it the sites are still named.
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	res, buildErr := escape.Build(ctx, escape.Config{Dir: c.newDir, Packages: []string{c.pkg}, Flags: strings.Fields(c.newFlags)})
	own := appframe.Matcher{}
	if buildErr != nil {
		fmt.Fprintf(stderr, "memdiag gate: no escape reasons for %s: %v\n", name, buildErr)
	} else {
		own.Modules = res.Modules
	}
	bp, err := gate.ReadProfile(profiles[0])
	if err != nil {
		return nil, err
	}
	np, err := gate.ReadProfile(profiles[1])
	if err != nil {
		return nil, err
	}
	sites, err := gate.DiffProfilesOwn(bp, np, float64(c.iters), float64(c.iters), own)
	if err != nil || res == nil {
		return sites, err
	}
	ix := res.Index()
	for i := range sites {
		explainSite(ix, &sites[i])
	}
	return sites, nil
}

// explainSite fills a gate site's reason from the new tree's escape diagnostics.
func explainSite(ix *escape.Index, s *gate.Site) {
	app := escape.Frame{Function: s.Function, File: s.File, Line: int(s.Line)}
	es := escape.Site{App: app, Leaf: app, InlinedInto: s.InlinedInto}
	if s.LeafFunction != "" {
		es.Leaf = escape.Frame{Function: s.LeafFunction, File: s.LeafFile, Line: int(s.LeafLine)}
	}
	e := ix.Explain(es)
	s.Kind, s.Expr, s.Reason, s.Flow, s.Remedy = string(e.Kind), e.Expr, e.Reason, e.Flow, e.Remedy
}

func diffFiles(base, new string, iters float64) ([]gate.Site, error) {
	bp, err := gate.ReadProfile(base)
	if err != nil {
		return nil, err
	}
	np, err := gate.ReadProfile(new)
	if err != nil {
		return nil, err
	}
	return gate.DiffProfiles(bp, np, iters, iters)
}

func explainProfiles(c *gateConfig, pos []string, stdout, stderr io.Writer) int {
	if c.baseProfile == "" || c.newProfile == "" || len(pos) != 0 {
		return usageError(stderr, errors.New("--base-profile and --new-profile go together, without result files"))
	}
	if c.iters < 1 {
		return usageError(stderr, fmt.Errorf("-iters %d: want 1 or more", c.iters))
	}
	sites, err := diffFiles(c.baseProfile, c.newProfile, float64(c.iters))
	if err != nil {
		return inputError(stderr, err)
	}
	if c.format == "json" {
		if len(sites) > c.top {
			sites = sites[:c.top]
		}
		if sites == nil {
			sites = []gate.Site{}
		}
		enc := jsonEncoder(stdout)
		if err := enc.Encode(sites); err != nil {
			return inputError(stderr, err)
		}
		return 0
	}
	gate.WriteSites(stdout, sites, c.top)
	return 0
}
