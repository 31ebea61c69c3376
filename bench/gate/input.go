package gate

import (
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchproc"

	"github.com/memdiag/memdiag/bench"
)

// InputError lists every line of the inputs that could not be used, as file:line: message.
type InputError struct {
	Errs []error
}

func (e *InputError) Error() string {
	var b strings.Builder
	for i, err := range e.Errs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(err.Error())
	}
	return b.String()
}

// Unwrap lets errors.As find the underlying *benchfmt.SyntaxError of each line.
func (e *InputError) Unwrap() []error { return e.Errs }

// Key names one benchmark across runs: its package, its full name without the GOMAXPROCS
// suffix, e.g. {"example.com/p", "Parse/size=10"}, and its configuration.
type Key struct {
	Pkg  string `json:"pkg"`
	Name string `json:"name"`
	// Config is everything else that tells results apart, as benchstat's default grouping
	// does (x/perf benchproc's .config and .fullname): every file configuration line but pkg
	// (goos, goarch, cpu, note, goversion, any "key: value" line) and the GOMAXPROCS of the
	// name's -N suffix, one "key: value" line each, sorted. Results that differ in it are
	// different benchmarks: never pooled, never compared with each other. [Row.Config] shows
	// the part of it that varies.
	Config string `json:"-"`
}

// String is the package and the name; the configuration is left out.
func (k Key) String() string {
	if k.Pkg == "" {
		return k.Name
	}
	return k.Pkg + " " + k.Name
}

// bench is k without its configuration: what a budget names.
func (k Key) bench() Key { return Key{Pkg: k.Pkg, Name: k.Name} }

// ConfigPair is one configuration key and its value.
type ConfigPair struct{ Key, Value string }

// procsKey is the configuration key of the GOMAXPROCS suffix, named as benchproc names it.
const procsKey = "/gomaxprocs"

// ConfigPairs returns k.Config as pairs, sorted by key.
func (k Key) ConfigPairs() []ConfigPair {
	var out []ConfigPair
	for line := range strings.SplitSeq(k.Config, "\n") {
		if key, value, ok := strings.Cut(line, ": "); ok {
			out = append(out, ConfigPair{key, value})
		}
	}
	return out
}

func configString(pairs []ConfigPair) string {
	slices.SortFunc(pairs, func(a, b ConfigPair) int { return strings.Compare(a.Key, b.Key) })
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.Key + ": " + p.Value)
	}
	return b.String()
}

// Samples are the measurements of one benchmark in one unit.
type Samples struct {
	Values []float64
	// Iters are the iteration counts of the results the values came from; exact tolerances
	// allow a fixed amount per run, which is smaller per iteration the more iterations ran.
	Iters []int
}

// Set is one side of a comparison: every result read from its files.
type Set struct {
	// Files are the names the results were read from.
	Files []string
	// Benchmarks maps each benchmark to its samples by unit, in the units the input used
	// (ns/op, not benchfmt's tidied sec/op).
	Benchmarks map[Key]map[string]*Samples
	// Order is the benchmarks in the order they first appeared.
	Order []Key
	// Config holds, for each configuration key (the file keys but pkg, and /gomaxprocs), the
	// distinct values seen.
	Config map[string][]string
	// Units is the unit metadata the inputs declared.
	Units benchfmt.UnitMetadataMap
}

// nonNegativeUnits cannot hold a negative value: counts, sizes, times and rates. A negative
// one is a broken input, not an improvement. Units of differences (retained-heap-B,
// rss-growth-B and any unit not listed) may be negative.
var nonNegativeUnits = []string{bench.UnitNs, "sec/op", bench.UnitBytes, bench.UnitAllocs, "MB/s", "B/s",
	bench.UnitFracAllocs, bench.UnitFracBytes, bench.UnitGCCycles, bench.UnitSTW, bench.UnitSTWPauses, bench.UnitPeakHeap}

// ReadOptions configure how results are read.
type ReadOptions struct {
	// Ignore lists configuration keys that do not separate results, like benchstat's
	// -ignore: file keys such as "cpu" or "note", and "gomaxprocs" for the -N suffix.
	Ignore []string
}

// ReadFiles reads a Set from files; "-" is standard input.
func ReadFiles(names ...string) (*Set, error) {
	return ReadFilesWith(ReadOptions{}, names...)
}

// ReadFilesWith is [ReadFiles] with options.
func ReadFilesWith(o ReadOptions, names ...string) (*Set, error) {
	var rs []io.Reader
	var closers []io.Closer
	defer func() {
		for _, c := range closers {
			c.Close()
		}
	}()
	for _, name := range names {
		if name == "-" {
			rs = append(rs, os.Stdin)
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, err
		}
		closers = append(closers, f)
		rs = append(rs, f)
	}
	return ReadWith(o, names, rs)
}

// Read reads a Set from readers named by names (used in error messages). Every syntax error
// and every value that cannot be a measurement (NaN, ±Inf, a negative count, size or time,
// an iteration count under 1) is collected, with its file and line, into one *InputError.
func Read(names []string, rs []io.Reader) (*Set, error) {
	return ReadWith(ReadOptions{}, names, rs)
}

// ReadWith is [Read] with options.
func ReadWith(o ReadOptions, names []string, rs []io.Reader) (*Set, error) {
	if len(names) != len(rs) {
		return nil, fmt.Errorf("%d names for %d inputs", len(names), len(rs))
	}
	set := &Set{
		Files:      names,
		Benchmarks: map[Key]map[string]*Samples{},
		Config:     map[string][]string{},
	}
	ignore := map[string]bool{}
	for _, k := range o.Ignore {
		if k == "gomaxprocs" || k == procsKey {
			// Both the -N suffix and a gomaxprocs: line, as a reader of either expects.
			ignore["gomaxprocs"], ignore[procsKey] = true, true
		}
		ignore[k] = true
	}
	var parser benchproc.ProjectionParser
	proj, err := parser.Parse("pkg,.fullname,/gomaxprocs", nil)
	if err != nil {
		return nil, err
	}
	fields := proj.Fields()
	pkgF, nameF, procsF := fields[0], fields[1], fields[2]

	var errs []error
	var reader *benchfmt.Reader
	var pairs []ConfigPair
	for i, r := range rs {
		if reader == nil {
			reader = benchfmt.NewReader(r, names[i])
		} else {
			reader.Reset(r, names[i])
		}
		for reader.Scan() {
			switch rec := reader.Result().(type) {
			case *benchfmt.SyntaxError:
				errs = append(errs, rec)
			case *benchfmt.Result:
				if bad := checkResult(rec); len(bad) > 0 {
					errs = append(errs, bad...)
					continue
				}
				k := proj.Project(rec)
				// benchproc's .config: every file configuration key, here without pkg,
				// which Key holds on its own.
				pairs = pairs[:0]
				for _, c := range rec.Config {
					if c.File && c.Key != "pkg" && !ignore[c.Key] {
						pairs = append(pairs, ConfigPair{c.Key, string(c.Value)})
					}
				}
				if p := strings.TrimPrefix(k.Get(procsF), "-"); p != "" && !ignore[procsKey] {
					pairs = append(pairs, ConfigPair{procsKey, p})
				}
				for _, p := range pairs {
					if !slices.Contains(set.Config[p.Key], p.Value) {
						set.Config[p.Key] = append(set.Config[p.Key], p.Value)
					}
				}
				key := Key{Pkg: k.Get(pkgF), Name: k.Get(nameF), Config: configString(pairs)}
				units, ok := set.Benchmarks[key]
				if !ok {
					units = map[string]*Samples{}
					set.Benchmarks[key] = units
					set.Order = append(set.Order, key)
				}
				for _, v := range rec.Values {
					unit, val := v.Unit, v.Value
					if v.OrigUnit != "" {
						unit, val = v.OrigUnit, v.OrigValue
					}
					s := units[unit]
					if s == nil {
						s = &Samples{}
						units[unit] = s
					}
					s.Values = append(s.Values, val)
					s.Iters = append(s.Iters, rec.Iters)
				}
			}
		}
		if err := reader.Err(); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", names[i], err))
		}
	}
	if reader != nil {
		set.Units = reader.Units()
	}
	if len(errs) > 0 {
		return nil, &InputError{Errs: errs}
	}
	if len(set.Order) == 0 {
		return nil, &InputError{Errs: []error{errors.New(strings.Join(names, ", ") + ": no benchmark results")}}
	}
	return set, nil
}

// checkResult refuses what no benchmark can measure. A NaN reaching the U test makes it
// allocate without bound (benchmath ranks the samples, and NaN compares unequal to
// everything), an infinite median passes any budget, and a negative count looks like an
// improvement; each is reported at its line instead.
func checkResult(rec *benchfmt.Result) []error {
	var errs []error
	file, line := rec.Pos()
	if rec.Iters < 1 {
		errs = append(errs, fmt.Errorf("%s:%d: Benchmark%s: iteration count %d: want 1 or more", file, line, rec.Name, rec.Iters))
	}
	for _, v := range rec.Values {
		unit, val := v.Unit, v.Value
		if v.OrigUnit != "" {
			unit, val = v.OrigUnit, v.OrigValue
		}
		switch {
		case math.IsNaN(val) || math.IsInf(val, 0):
			errs = append(errs, fmt.Errorf("%s:%d: Benchmark%s: %v %s: not a finite number", file, line, rec.Name, val, unit))
		case val < 0 && slices.Contains(nonNegativeUnits, unit):
			errs = append(errs, fmt.Errorf("%s:%d: Benchmark%s: %v %s: cannot be negative", file, line, rec.Name, val, unit))
		}
	}
	return errs
}
