package escape

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// Config says what to build with escape diagnostics.
type Config struct {
	// Dir is the directory the go command runs in: the module (or a directory in it).
	Dir string
	// Packages are the package patterns, as go test takes them (./..., ./internal/parse).
	Packages []string
	// Flags are extra go command flags, e.g. -tags=integration. GOFLAGS from the environment
	// applies as well, as for any go command.
	Flags []string
	// Go is the go command; "go" when empty.
	Go string
	// Env is added to the environment of the go commands.
	Env []string
	// CacheDir holds the parsed diagnostics by build key; empty means the user cache directory
	// (os.UserCacheDir()/memdiag/escape), "off" disables the cache.
	CacheDir string
}

// Result is one build's diagnostics.
type Result struct {
	// Diagnostics are every message of the compiler for the module's packages, files absolute.
	Diagnostics []Diagnostic `json:"diagnostics"`
	// Files are the Go files of the module's packages that were built, absolute.
	Files []string `json:"files"`
	// Modules are the main modules' paths: the "own code" of the profile sites.
	Modules []string `json:"modules"`
	// Key is the cache key: a hash of the go version, the environment that changes a build,
	// the flags, the module's files and the versions of every dependency.
	Key string `json:"key"`
	// Cached is true when the diagnostics came from the cache.
	Cached bool `json:"-"`
}

// Index returns an index of the result's diagnostics.
func (r *Result) Index() *Index { return NewIndex(r.Diagnostics, r.Files) }

// listedPackage is what go list says of one package of the build.
type listedPackage struct {
	ImportPath   string
	Dir          string
	Standard     bool
	GoFiles      []string
	CgoFiles     []string
	TestGoFiles  []string
	XTestGoFiles []string
	EmbedFiles   []string
	Module       *struct {
		Path    string
		Version string
		Main    bool
		Dir     string
		Replace *struct {
			Path    string
			Version string
		}
	}
}

// Build compiles the packages and their tests (go test -c, so that benchmarks' own files are
// covered) with -gcflags=<module>/...=-m=2 and parses what the compiler says. -gcflags
// applies only to the packages it names, so the pattern names every package of the main
// modules, and -gcflags already given in GOFLAGS or Flags without a pattern are kept for them.
// A build whose key is in the cache is not compiled again.
func Build(ctx context.Context, c Config) (*Result, error) {
	if len(c.Packages) == 0 {
		return nil, errors.New("escape: no packages to build")
	}
	goCmd := c.Go
	if goCmd == "" {
		goCmd = "go"
	}
	dir, err := filepath.Abs(c.Dir)
	if err != nil {
		return nil, err
	}
	run := func(args ...string) ([]byte, []byte, error) {
		cmd := exec.CommandContext(ctx, goCmd, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), c.Env...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		if err != nil {
			err = fmt.Errorf("escape: %s %s in %s: %w\n%s", goCmd, strings.Join(args, " "), dir, err, tail(stderr.Bytes(), 4000))
		}
		return stdout.Bytes(), stderr.Bytes(), err
	}

	buildFlags := withoutGcflags(c.Flags)
	listArgs := append([]string{"list", "-deps", "-test", "-json=ImportPath,Dir,Standard,GoFiles,CgoFiles,TestGoFiles,XTestGoFiles,EmbedFiles,Module"}, buildFlags...)
	listArgs = append(listArgs, c.Packages...)
	out, _, err := run(listArgs...)
	if err != nil {
		return nil, err
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, fmt.Errorf("escape: reading go list output: %w", err)
		}
		pkgs = append(pkgs, p)
	}
	env, _, err := run("env", "GOVERSION", "GOOS", "GOARCH", "GOFLAGS", "GOEXPERIMENT", "CGO_ENABLED", "GOAMD64", "GOARM64")
	if err != nil {
		return nil, err
	}

	res := &Result{}
	h := sha256.New()
	fmt.Fprintf(h, "memdiag escape v1\n%s\n%q\n%q\n", env, c.Flags, c.Packages)
	seenMod := map[string]bool{}
	seenFile := map[string]bool{}
	for _, p := range pkgs {
		if p.Standard || strings.HasSuffix(p.ImportPath, ".test") {
			continue // the go command writes the test main from the packages' own files
		}
		m := p.Module
		local := m == nil || m.Main || (m.Replace != nil && m.Replace.Version == "")
		if m != nil && m.Main && !seenMod[m.Path] {
			seenMod[m.Path] = true
			res.Modules = append(res.Modules, m.Path)
		}
		if !local {
			fmt.Fprintf(h, "dep %s %s@%s\n", p.ImportPath, m.Path, m.Version)
			continue
		}
		fmt.Fprintf(h, "pkg %s\n", p.ImportPath)
		for _, list := range [][]string{p.GoFiles, p.CgoFiles, p.TestGoFiles, p.XTestGoFiles, p.EmbedFiles} {
			for _, f := range list {
				path := f
				if !filepath.IsAbs(path) {
					path = filepath.Join(p.Dir, f)
				}
				if seenFile[path] {
					continue
				}
				seenFile[path] = true
				b, err := os.ReadFile(path)
				if err != nil {
					return nil, fmt.Errorf("escape: %w", err)
				}
				sum := sha256.Sum256(b)
				fmt.Fprintf(h, "file %s %x\n", path, sum)
				if m != nil && m.Main && strings.HasSuffix(f, ".go") {
					res.Files = append(res.Files, path)
				}
			}
		}
	}
	if len(res.Modules) == 0 {
		return nil, fmt.Errorf("escape: %s is in no module (escape diagnostics are named by module path)", dir)
	}
	slices.Sort(res.Modules)
	slices.Sort(res.Files)
	res.Key = hex.EncodeToString(h.Sum(nil))

	cacheFile := ""
	if c.CacheDir != "off" {
		cd := c.CacheDir
		if cd == "" {
			if ucd, err := os.UserCacheDir(); err == nil {
				cd = filepath.Join(ucd, "memdiag", "escape")
			}
		}
		if cd != "" {
			cacheFile = filepath.Join(cd, res.Key+".json")
			if b, err := os.ReadFile(cacheFile); err == nil {
				var cached Result
				if json.Unmarshal(b, &cached) == nil && cached.Key == res.Key {
					cached.Cached = true
					return &cached, nil
				}
			}
		}
	}

	tmp, err := os.MkdirTemp("", "memdiag-escape-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	args := []string{"test", "-c", "-o", tmp}
	args = append(args, buildFlags...)
	base := baseGcflags(os.Getenv("GOFLAGS"), c.Flags)
	for _, mod := range res.Modules {
		args = append(args, "-gcflags="+mod+"/...="+strings.TrimSpace(base+" -m=2"))
	}
	args = append(args, c.Packages...)
	stdout, stderr, err := run(args...)
	if err != nil {
		return nil, err
	}
	diags, err := Parse(io.MultiReader(bytes.NewReader(stderr), bytes.NewReader(stdout)))
	if err != nil {
		return nil, err
	}
	for _, d := range diags {
		if strings.HasPrefix(d.File, "<") || strings.HasPrefix(d.File, "_testmain") {
			continue
		}
		if !filepath.IsAbs(d.File) {
			d.File = filepath.Join(dir, d.File)
		}
		res.Diagnostics = append(res.Diagnostics, d)
	}
	if cacheFile != "" {
		if b, err := json.Marshal(res); err == nil {
			if os.MkdirAll(filepath.Dir(cacheFile), 0o755) == nil {
				// Written whole under a temporary name, then renamed: a reader never sees half.
				t := cacheFile + ".tmp" + filepath.Base(tmp)
				if os.WriteFile(t, b, 0o644) == nil {
					os.Rename(t, cacheFile)
				}
			}
		}
	}
	return res, nil
}

// withoutGcflags drops -gcflags from flags: Build sets its own, carrying their values over.
func withoutGcflags(flags []string) []string {
	var out []string
	for i := 0; i < len(flags); i++ {
		f := flags[i]
		switch {
		case f == "-gcflags" || f == "--gcflags":
			i++
		case strings.HasPrefix(f, "-gcflags=") || strings.HasPrefix(f, "--gcflags="):
		default:
			out = append(out, f)
		}
	}
	return out
}

// baseGcflags collects the -gcflags values without a package pattern from GOFLAGS and flags:
// they would apply to the named packages, and Build's own pattern flag would replace them.
func baseGcflags(goflags string, flags []string) string {
	var vals []string
	all := append(strings.Fields(goflags), flags...)
	for i := 0; i < len(all); i++ {
		f := strings.TrimPrefix(all[i], "-")
		var v string
		switch {
		case f == "-gcflags" || f == "gcflags":
			if i+1 < len(all) {
				v = all[i+1]
				i++
			}
		case strings.HasPrefix(f, "-gcflags=") || strings.HasPrefix(f, "gcflags="):
			_, v, _ = strings.Cut(f, "=")
		default:
			continue
		}
		v = strings.Trim(v, `"'`)
		if pat, args, ok := strings.Cut(v, "="); ok && !strings.HasPrefix(pat, "-") {
			_ = args // a pattern of its own: the go command applies it to its packages
			continue
		}
		vals = append(vals, v)
	}
	return strings.Join(vals, " ")
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
