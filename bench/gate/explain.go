package gate

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/google/pprof/profile"

	"github.com/memdiag/memdiag/internal/appframe"
	"github.com/memdiag/memdiag/internal/appframe/pprofstack"
)

// Site is one allocation site of a memory profile: the first frame of the module under test
// (or, without one, the first frame outside the runtime), with its allocations per benchmark
// iteration in both profiles.
type Site struct {
	Function string `json:"function"`
	File     string `json:"file"`
	Line     int64  `json:"line"`
	// Leaf is the library function that allocated when it is not the site itself: the
	// strings.genSplit behind a strings.Split line.
	LeafFunction string `json:"leaf_function,omitempty"`
	LeafFile     string `json:"leaf_file,omitempty"`
	LeafLine     int64  `json:"leaf_line,omitempty"`
	// InlinedInto are the frames the site was inlined into, innermost first; the compiler
	// reports an inlined body's escapes at those call sites.
	InlinedInto []appframe.Frame `json:"inlined_into,omitempty"`
	// Objects and bytes allocated per iteration, in the base and the new profile.
	BaseObjects float64 `json:"base_objects_per_op"`
	NewObjects  float64 `json:"new_objects_per_op"`
	BaseBytes   float64 `json:"base_bytes_per_op"`
	NewBytes    float64 `json:"new_bytes_per_op"`
	// Why the new tree allocates here, when the explain step built it with escape diagnostics
	// (bench/escape): the reason kind, the allocated expression, the reason in plain words, the
	// compiler's flow behind it and the standard remedy.
	Kind   string   `json:"kind,omitempty"`
	Expr   string   `json:"expr,omitempty"`
	Reason string   `json:"reason,omitempty"`
	Flow   []string `json:"flow,omitempty"`
	Remedy string   `json:"remedy,omitempty"`
}

// Where is file:line with the file's directory dropped, the way a reader looks for it.
func (s Site) Where() string { return fmt.Sprintf("%s:%d", filepath.Base(s.File), s.Line) }

// ReadProfile reads a -memprofile file.
func ReadProfile(name string) (*profile.Profile, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := profile.Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return p, nil
}

type siteKey struct {
	fn, file         string
	line             int64
	leafFn, leafFile string
	leafLine         int64
}

// sites sums a profile's allocations by site, divided by ops.
func sites(p *profile.Profile, ops float64, own appframe.Matcher) (map[siteKey][2]float64, map[siteKey][]appframe.Frame, error) {
	all, err := pprofstack.AllocSites(p, own, ops)
	if err != nil {
		return nil, nil, err
	}
	out := make(map[siteKey][2]float64, len(all))
	inlined := make(map[siteKey][]appframe.Frame, len(all))
	for _, st := range all {
		k := siteKey{fn: st.App.Function, file: st.App.File, line: int64(st.App.Line)}
		if st.Leaf != st.App {
			k.leafFn, k.leafFile, k.leafLine = st.Leaf.Function, st.Leaf.File, int64(st.Leaf.Line)
		}
		// Added, not set: a site that is its own leaf and one whose leaf is an empty frame share a key.
		v := out[k]
		v[0] += st.Objects
		v[1] += st.Bytes
		out[k] = v
		if _, ok := inlined[k]; !ok {
			inlined[k] = st.InlinedInto
		}
	}
	return out, inlined, nil
}

// DiffProfiles compares two -memprofile profiles (recorded with -memprofilerate=1 so that
// every allocation is in them) of baseOps and newOps benchmark iterations, and returns the
// sites whose objects or bytes per iteration changed, largest change in objects first, then
// in bytes. Changes under 0.01 objects and 1 byte per iteration are left out: they are
// one-time allocations of the test binary spread over the iterations. A site is the first
// frame outside the standard library (see [DiffProfilesOwn]).
func DiffProfiles(base, new *profile.Profile, baseOps, newOps float64) ([]Site, error) {
	return DiffProfilesOwn(base, new, baseOps, newOps, appframe.Matcher{})
}

// DiffProfilesOwn is [DiffProfiles] with the sites charged to the first frame own says is the
// program's (the module under test): a strings.Split line rather than strings.genSplit, which
// is kept as the site's leaf.
func DiffProfilesOwn(base, new *profile.Profile, baseOps, newOps float64, own appframe.Matcher) ([]Site, error) {
	if baseOps <= 0 || newOps <= 0 {
		return nil, fmt.Errorf("iterations %v and %v: want more than 0", baseOps, newOps)
	}
	bs, binl, err := sites(base, baseOps, own)
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	ns, ninl, err := sites(new, newOps, own)
	if err != nil {
		return nil, fmt.Errorf("new: %w", err)
	}
	keys := map[siteKey]bool{}
	for k := range bs {
		keys[k] = true
	}
	for k := range ns {
		keys[k] = true
	}
	var out []Site
	for k := range keys {
		b, n := bs[k], ns[k]
		if math.Abs(n[0]-b[0]) < 0.01 && math.Abs(n[1]-b[1]) < 1 {
			continue
		}
		inl := ninl[k]
		if inl == nil {
			inl = binl[k]
		}
		out = append(out, Site{Function: k.fn, File: k.file, Line: k.line,
			LeafFunction: k.leafFn, LeafFile: k.leafFile, LeafLine: k.leafLine, InlinedInto: inl,
			BaseObjects: b[0], NewObjects: n[0], BaseBytes: b[1], NewBytes: n[1]})
	}
	slices.SortFunc(out, func(a, b Site) int {
		da, db := math.Abs(a.NewObjects-a.BaseObjects), math.Abs(b.NewObjects-b.BaseObjects)
		if da != db {
			if da > db {
				return -1
			}
			return 1
		}
		da, db = math.Abs(a.NewBytes-a.BaseBytes), math.Abs(b.NewBytes-b.BaseBytes)
		if da != db {
			if da > db {
				return -1
			}
			return 1
		}
		if c := strings.Compare(a.Where(), b.Where()); c != 0 {
			return c
		}
		// Same base name and line in two files, or two functions inlined at one line: order
		// by the full names so that the output does not follow map order.
		if c := strings.Compare(a.File, b.File); c != 0 {
			return c
		}
		if c := strings.Compare(a.Function, b.Function); c != 0 {
			return c
		}
		return strings.Compare(a.LeafFunction, b.LeafFunction)
	})
	return out, nil
}

// WriteSites writes at most top sites as a table.
func WriteSites(w io.Writer, sites []Site, top int) error {
	if len(sites) == 0 {
		_, err := io.WriteString(w, "no allocation site changed by 0.01 objects or 1 byte per op\n")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "function\tfile:line\tobjects/op before\tafter\tB/op before\tafter\t")
	for i, s := range sites {
		if top > 0 && i == top {
			break
		}
		fn := s.Function
		if s.LeafFunction != "" {
			fn += " (in " + s.LeafFunction + ")"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", fn, s.Where(), formatNum(round(s.BaseObjects)),
			formatNum(round(s.NewObjects)), formatNum(round(s.BaseBytes)), formatNum(round(s.NewBytes)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	return writeReasons(w, sites, top)
}

// writeReasons writes, under the table, why each site allocates and the remedy, for the sites
// the explain step found a reason for.
func writeReasons(w io.Writer, sites []Site, top int) error {
	var b strings.Builder
	for i, s := range sites {
		if top > 0 && i == top {
			break
		}
		if s.Kind == "" {
			continue
		}
		fmt.Fprintf(&b, "%s [%s]", s.Where(), s.Kind)
		if s.Expr != "" {
			fmt.Fprintf(&b, " %s", s.Expr)
		}
		fmt.Fprintf(&b, ": %s\n  fix: %s\n", s.Reason, s.Remedy)
		for _, l := range s.Flow {
			fmt.Fprintf(&b, "  | %s\n", l)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	_, err := io.WriteString(w, "\n"+b.String())
	return err
}

// round keeps three decimals: per-op figures carry the test binary's one-time allocations
// divided by the iterations, which is noise past that.
func round(v float64) float64 { return math.Round(v*1000) / 1000 }

// BenchRegexp is the -bench pattern that selects exactly the benchmark named name (without
// the Benchmark prefix and GOMAXPROCS suffix), one anchored pattern per sub-benchmark level.
func BenchRegexp(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		if i == 0 {
			p = "Benchmark" + p
		}
		parts[i] = "^" + regexp.QuoteMeta(p) + "$"
	}
	return strings.Join(parts, "/")
}

// ProfileRun says how to record one benchmark's memory profile with go test.
type ProfileRun struct {
	// Dir is the module directory go test runs in.
	Dir string
	// Pkg is the package pattern, e.g. ./internal/parse.
	Pkg string
	// Benchmark is the name without the Benchmark prefix and GOMAXPROCS suffix.
	Benchmark string
	// Iterations is the fixed -benchtime=Nx, so that both sides are divided by the same count.
	Iterations int
	// Flags are extra go test flags, e.g. -tags.
	Flags []string
	// Out is the profile file to write.
	Out string
	// Go is the go command; "go" when empty.
	Go string
}

// ProfileBenchmark runs go test -run=^$ -bench=<the benchmark> -count=1 -benchtime=<N>x
// -memprofile=<out> -memprofilerate=1 in r.Dir. The test binary goes to a temporary directory
// rather than next to the package.
func ProfileBenchmark(ctx context.Context, r ProfileRun) error {
	if r.Iterations < 1 {
		return fmt.Errorf("iterations %d: want 1 or more", r.Iterations)
	}
	tmp, err := os.MkdirTemp("", "memdiag-explain-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	out, err := filepath.Abs(r.Out)
	if err != nil {
		return err
	}
	goCmd := r.Go
	if goCmd == "" {
		goCmd = "go"
	}
	args := []string{"test", "-run=^$", "-bench=" + BenchRegexp(r.Benchmark), "-count=1",
		"-benchtime=" + strconv.Itoa(r.Iterations) + "x", "-memprofile=" + out, "-memprofilerate=1",
		"-o=" + filepath.Join(tmp, "bench.test")}
	args = append(args, r.Flags...)
	args = append(args, r.Pkg)
	cmd := exec.CommandContext(ctx, goCmd, args...)
	cmd.Dir = r.Dir
	output, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s in %s: %w\n%s", goCmd, strings.Join(args, " "), r.Dir, err, output)
	}
	if _, err := os.Stat(out); err != nil {
		return fmt.Errorf("go test wrote no profile (does %s match a benchmark in %s?): %w", BenchRegexp(r.Benchmark), r.Pkg, err)
	}
	return nil
}
