package gate

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"golang.org/x/perf/benchfmt"
	"golang.org/x/perf/benchproc"
)

// InputError lists every line of the inputs that could not be parsed, as file:line: message.
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

// Key names one benchmark across runs: its package and its full name without the GOMAXPROCS
// suffix, e.g. {"example.com/p", "Parse/size=10"}.
type Key struct {
	Pkg  string `json:"pkg"`
	Name string `json:"name"`
}

func (k Key) String() string {
	if k.Pkg == "" {
		return k.Name
	}
	return k.Pkg + " " + k.Name
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
	// Config holds, for each configuration key that matters for comparison (goversion,
	// goexperiment, goos, goarch, gomaxprocs), the distinct values seen.
	Config map[string][]string
	// Units is the unit metadata the inputs declared.
	Units benchfmt.UnitMetadataMap
}

// configKeys are compared between base and new. gomaxprocs comes from the name suffix when
// no configuration line states it.
var configKeys = []string{"goversion", "goexperiment", "goos", "goarch", "gomaxprocs"}

// ReadFiles reads a Set from files; "-" is standard input.
func ReadFiles(names ...string) (*Set, error) {
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
	return Read(names, rs)
}

// Read reads a Set from readers named by names (used in error messages). Every syntax error
// is collected, with its file and line, into one *InputError.
func Read(names []string, rs []io.Reader) (*Set, error) {
	if len(names) != len(rs) {
		return nil, fmt.Errorf("%d names for %d inputs", len(names), len(rs))
	}
	set := &Set{
		Files:      names,
		Benchmarks: map[Key]map[string]*Samples{},
		Config:     map[string][]string{},
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
				k := proj.Project(rec)
				key := Key{Pkg: k.Get(pkgF), Name: k.Get(nameF)}
				for _, ck := range configKeys {
					v := rec.GetConfig(ck)
					if v == "" && ck == "gomaxprocs" {
						v = strings.TrimPrefix(k.Get(procsF), "-")
					}
					if v != "" && !slices.Contains(set.Config[ck], v) {
						set.Config[ck] = append(set.Config[ck], v)
					}
				}
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
