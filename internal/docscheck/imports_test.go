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
	// Every platform's files: an import only darwin or windows builds still counts.
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
