package docscheck

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/memdiag/memdiag/internal/appframe"
)

const modulePath = "github.com/memdiag/memdiag"

// layerRule places the packages a pattern names: a package path relative to the module, or such a
// path followed by "/..." for the package and everything under it.
type layerRule struct {
	pattern string
	layer   int
}

// readLayers reads the table under "### Layers" in docs/architecture.md.
func readLayers(t *testing.T) []layerRule {
	t.Helper()
	f, err := os.Open("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := regexp.MustCompile(`^\|\s*(\d+)\s*\|(.*)\|\s*$`)
	name := regexp.MustCompile("`([^`]+)`")
	var rules []layerRule
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			in = strings.TrimSpace(strings.TrimLeft(line, "#")) == "Layers"
			continue
		}
		if !in {
			continue
		}
		m := row.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		layer, _ := strconv.Atoi(m[1])
		for _, n := range name.FindAllStringSubmatch(m[2], -1) {
			rules = append(rules, layerRule{pattern: n[1], layer: layer})
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(rules) == 0 {
		t.Fatal(`docs/architecture.md: no "### Layers" table`)
	}
	return rules
}

// layerOf returns the layer of the package at rel (a path relative to the module) by the longest
// pattern that matches it, and false when none does.
func layerOf(rules []layerRule, rel string) (int, bool) {
	best, layer := -1, 0
	for _, r := range rules {
		p, tree := strings.CutSuffix(r.pattern, "/...")
		if rel != p && !(tree && strings.HasPrefix(rel, p+"/")) {
			continue
		}
		if len(p) > best {
			best, layer = len(p), r.layer
		}
	}
	return layer, best >= 0
}

// TestImportsRunDownTheLayers fails when a package imports a package of a higher layer than its
// own, by the layering docs/architecture.md documents, or when a package has no layer there. Only
// the packages' own imports count: a test may import what it needs to drive the package.
func TestImportsRunDownTheLayers(t *testing.T) {
	rules := readLayers(t)
	pkgs := listPackages(t)
	seen := map[string]bool{}
	for _, p := range pkgs {
		rel, ok := moduleRel(p.ImportPath)
		if !ok {
			continue
		}
		from, ok := layerOf(rules, rel)
		if !ok {
			if !seen[rel] {
				t.Errorf("%s: no layer in docs/architecture.md's Layers table", rel)
				seen[rel] = true
			}
			continue
		}
		for _, imp := range p.Imports {
			irel, ok := moduleRel(imp)
			if !ok {
				continue
			}
			to, ok := layerOf(rules, irel)
			if !ok {
				continue // reported as a package of its own
			}
			key := rel + " " + irel
			if to > from && !seen[key] {
				seen[key] = true
				t.Errorf("%s (layer %d) imports %s (layer %d): an arrow running back up", rel, from, irel, to)
			}
		}
	}
}

// listPackages is every package of the module with its own imports (tests' aside), on each
// platform memdiag builds for: an import only darwin or windows builds still counts.
func listPackages(t *testing.T) []listedPackage {
	t.Helper()
	var pkgs []listedPackage
	for _, goos := range []string{"linux", "darwin", "windows"} {
		cmd := exec.Command("go", "list", "-json=ImportPath,Imports", "./...")
		cmd.Dir = "../.."
		cmd.Env = append(os.Environ(), "GOOS="+goos)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go list (GOOS=%s): %v\n%s", goos, err, stderr.Bytes())
		}
		dec := json.NewDecoder(bytes.NewReader(out))
		for {
			var p listedPackage
			if err := dec.Decode(&p); err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			pkgs = append(pkgs, p)
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

type listedPackage struct {
	ImportPath string
	Imports    []string
}

// moduleRel returns path relative to the module root ("." for the root), and false for a package
// outside the module.
func moduleRel(path string) (string, bool) {
	if path == modulePath {
		return ".", true
	}
	rel, ok := strings.CutPrefix(path, modulePath+"/")
	return rel, ok
}

func TestLayerOf(t *testing.T) {
	rules := []layerRule{{"runtimediag", 2}, {"runtimediag/internal/...", 0}, {"runtimediag/reporttext", 3}, {"bench/...", 3}}
	for _, c := range []struct {
		rel   string
		layer int
		ok    bool
	}{
		{"runtimediag", 2, true},
		{"runtimediag/internal/trend", 0, true},
		{"runtimediag/reporttext", 3, true},
		{"runtimediag/other", 0, false},
		{"bench", 3, true},
		{"bench/gate", 3, true},
		{"benchmarks", 0, false},
	} {
		layer, ok := layerOf(rules, c.rel)
		if layer != c.layer || ok != c.ok {
			t.Errorf("layerOf(%q) = %d, %v; want %d, %v", c.rel, layer, ok, c.layer, c.ok)
		}
	}
}

// TestPackageTableImports fails when the Packages table of docs/architecture.md leaves out an
// import of a package it describes: another memdiag package by its path (`procself`,
// `runtimediag/rssattr`), a third-party one by a name of its path (`zap`, `pprof/profile`,
// `x/perf`). The standard library and internal packages are not listed. A package is described
// by the row of the longest path that holds it.
func TestPackageTableImports(t *testing.T) {
	rows := readPackageTable(t)
	pkgs := listPackages(t)
	seen := map[string]bool{}
	for _, p := range pkgs {
		rel, ok := moduleRel(p.ImportPath)
		if !ok {
			continue
		}
		row, ok := rowOf(rows, rel)
		if !ok {
			continue // TestImportsRunDownTheLayers names packages the docs do not place
		}
		for _, imp := range p.Imports {
			if appframe.Std(imp) || strings.Contains(imp, "/internal/") {
				continue
			}
			key := row.packages[0] + " " + imp
			if seen[key] {
				continue
			}
			seen[key] = true
			if !mentions(row.imports, imp) {
				t.Errorf("docs/architecture.md: the row of %s does not list its import %s (%s imports it)", row.packages[0], imp, rel)
			}
		}
	}
}

type packageRow struct {
	packages []string // module-relative paths, without the trailing slash
	imports  string   // the last column's text
}

// readPackageTable reads the table under "## Packages" in docs/architecture.md.
func readPackageTable(t *testing.T) []packageRow {
	t.Helper()
	b, err := os.ReadFile("../../docs/architecture.md")
	if err != nil {
		t.Fatal(err)
	}
	name := regexp.MustCompile("`([^`]+)/`")
	var rows []packageRow
	in := false
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.HasPrefix(line, "#") {
			in = strings.TrimSpace(strings.TrimLeft(line, "#")) == "Packages"
			continue
		}
		if !in || !strings.HasPrefix(line, "|") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "| "), " | ")
		if len(cells) < 3 {
			continue
		}
		var r packageRow
		for _, m := range name.FindAllStringSubmatch(cells[0], -1) {
			r.packages = append(r.packages, m[1])
		}
		if len(r.packages) == 0 {
			continue
		}
		r.imports = cells[len(cells)-1]
		rows = append(rows, r)
	}
	if len(rows) < 10 {
		t.Fatalf(`docs/architecture.md: %d rows in the "## Packages" table`, len(rows))
	}
	return rows
}

// rowOf is the row of the longest package path that is rel or holds it.
func rowOf(rows []packageRow, rel string) (packageRow, bool) {
	best, found := -1, packageRow{}
	for _, r := range rows {
		for _, p := range r.packages {
			if (rel == p || strings.HasPrefix(rel, p+"/")) && len(p) > best {
				best, found = len(p), r
			}
		}
	}
	return found, best >= 0
}

// mentions reports whether an imports column names imp: a memdiag package by its module-relative
// path, a third-party one by its last element, its module's name, or its last two elements
// (pprof/profile), or x/<repo> for golang.org/x.
func mentions(column, imp string) bool {
	words := regexp.MustCompile("[A-Za-z0-9_./-]+").FindAllString(column, -1)
	has := func(w string) bool {
		for _, x := range words {
			if strings.Trim(x, "./") == w {
				return true
			}
		}
		return false
	}
	if rel, ok := moduleRel(imp); ok {
		return has(rel)
	}
	parts := strings.Split(imp, "/")
	var names []string
	names = append(names, parts[len(parts)-1])
	if len(parts) >= 2 {
		names = append(names, strings.Join(parts[len(parts)-2:], "/"))
	}
	switch {
	case parts[0] == "golang.org" && len(parts) >= 3 && parts[1] == "x":
		names = append(names, "x/"+parts[2])
	case parts[0] == "github.com" && len(parts) >= 3:
		names = append(names, parts[2])
	case len(parts) >= 2:
		names = append(names, parts[1]) // go.uber.org/zap/zapcore: zap
	}
	for _, n := range names {
		if has(n) {
			return true
		}
	}
	return false
}

func TestMentions(t *testing.T) {
	for _, c := range []struct {
		column, imp string
		want        bool
	}{
		{"procself, gcmodel, zap", "go.uber.org/zap/zapcore", true},
		{"procself, gcmodel, zap", modulePath + "/procself", true},
		{"procself, gcmodel, zap", modulePath + "/runtimediag/rssattr", false},
		{"runtimediag, runtimediag/rssattr", modulePath + "/runtimediag/rssattr", true},
		{"x/perf (benchfmt, benchproc)", "golang.org/x/perf/benchfmt", true},
		{"fgprof, pprof/profile (the /cpu profile)", "github.com/google/pprof/profile", true},
		{"procself", "github.com/prometheus/procfs", false},
		{"the standard library", "github.com/felixge/fgprof", false},
	} {
		if got := mentions(c.column, c.imp); got != c.want {
			t.Errorf("mentions(%q, %q) = %v, want %v", c.column, c.imp, got, c.want)
		}
	}
}
