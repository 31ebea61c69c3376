package docscheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// procselfDir is procself's source, beside docsDir.
var procselfDir = filepath.Join("..", "..", "procself")

// TestProcfsBackedReaders checks that procself/doc.go and docs/architecture.md name exactly the
// procself readers that go through github.com/prometheus/procfs. A reader is procfs-backed when
// its own body, or an unexported function or method of the package it calls (transitively),
// refers to the procfs package or calls FS.procfs. Calls to other exported readers do not count:
// Identity is not procfs-backed because Cmdline is.
func TestProcfsBackedReaders(t *testing.T) {
	want := procfsBackedReaders(t)
	if len(want) == 0 {
		t.Fatal("found no procself reader that uses procfs: the parse is broken")
	}

	docGo, err := os.ReadFile(filepath.Join(procselfDir, "doc.go"))
	if err != nil {
		t.Fatal(err)
	}
	// doc.go: the sentence "... procfs backs exactly these readers: [FS.X], ... ." (to the first
	// full stop at the end of a comment line's word).
	fromDoc := listedReaders(t, "procself/doc.go", string(docGo), `procfs backs exactly these readers:`, `\[FS\.(\w+)\]`)
	if d := diffNames(want, fromDoc); d != "" {
		t.Errorf("procself/doc.go's list of procfs-backed readers drifted from the code:\n%s", d)
	}

	arch := docs(t)["architecture.md"]
	fromArch := listedReaders(t, "docs/architecture.md", arch, `procfs backs exactly these`, "`FS\\.(\\w+)`")
	if d := diffNames(want, fromArch); d != "" {
		t.Errorf("docs/architecture.md's list of procfs-backed readers drifted from the code:\n%s", d)
	}
}

// listedReaders returns the FS method names matched by nameRE in the paragraph of text that
// follows marker, up to the end of the sentence (a '.' followed by whitespace).
func listedReaders(t *testing.T, file, text, marker, nameRE string) []string {
	t.Helper()
	i := strings.Index(text, marker)
	if i < 0 {
		t.Fatalf("%s: no %q", file, marker)
	}
	rest := text[i+len(marker):]
	if end := regexp.MustCompile(`\.\s`).FindStringIndex(rest); end != nil {
		rest = rest[:end[0]]
	}
	var names []string
	for _, m := range regexp.MustCompile(nameRE).FindAllStringSubmatch(rest, -1) {
		names = append(names, m[1])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// procfsBackedReaders parses procself's non-test Go files and returns the exported methods of FS
// that reach the procfs package.
func procfsBackedReaders(t *testing.T) []string {
	t.Helper()
	fset := token.NewFileSet()
	paths, err := filepath.Glob(filepath.Join(procselfDir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	type fn struct {
		decl    *ast.FuncDecl
		direct  bool     // refers to procfs itself
		callees []string // names of the package's unexported functions and methods it calls
	}
	funcs := map[string][]*fn{} // by name: methods of different types may share one
	var fsMethods []*fn
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		procfsName := ""
		for _, imp := range f.Imports {
			if strings.Trim(imp.Path.Value, `"`) == "github.com/prometheus/procfs" {
				procfsName = "procfs"
				if imp.Name != nil {
					procfsName = imp.Name.Name
				}
			}
		}
		for _, d := range f.Decls {
			decl, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			info := &fn{decl: decl}
			ast.Inspect(decl, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SelectorExpr:
					if id, ok := n.X.(*ast.Ident); ok && procfsName != "" && id.Name == procfsName {
						info.direct = true
					}
				case *ast.CallExpr:
					var name string
					switch f := n.Fun.(type) {
					case *ast.Ident:
						name = f.Name
					case *ast.SelectorExpr:
						name = f.Sel.Name
					}
					if name == "procfs" {
						info.direct = true // FS.procfs, the package's way into procfs
					} else if name != "" && !unicode.IsUpper(rune(name[0])) {
						info.callees = append(info.callees, name)
					}
				}
				return true
			})
			funcs[decl.Name.Name] = append(funcs[decl.Name.Name], info)
			if decl.Recv != nil && decl.Name.IsExported() && receiverType(decl) == "FS" {
				fsMethods = append(fsMethods, info)
			}
		}
	}
	var reaches func(f *fn, seen map[*fn]bool) bool
	reaches = func(f *fn, seen map[*fn]bool) bool {
		if f.direct {
			return true
		}
		if seen[f] {
			return false
		}
		seen[f] = true
		for _, c := range f.callees {
			for _, g := range funcs[c] {
				if reaches(g, seen) {
					return true
				}
			}
		}
		return false
	}
	var out []string
	for _, m := range fsMethods {
		if reaches(m, map[*fn]bool{}) {
			out = append(out, m.decl.Name.Name)
		}
	}
	slices.Sort(out)
	return out
}

func receiverType(decl *ast.FuncDecl) string {
	typ := decl.Recv.List[0].Type
	if s, ok := typ.(*ast.StarExpr); ok {
		typ = s.X
	}
	if id, ok := typ.(*ast.Ident); ok {
		return id.Name
	}
	return ""
}

// diffNames says which names code has that the doc lacks, and the reverse; "" when they agree.
func diffNames(code, doc []string) string {
	var b strings.Builder
	for _, n := range code {
		if !slices.Contains(doc, n) {
			b.WriteString("  FS." + n + " uses procfs but the doc does not list it\n")
		}
	}
	for _, n := range doc {
		if !slices.Contains(code, n) {
			b.WriteString("  FS." + n + " is listed but does not use procfs\n")
		}
	}
	return b.String()
}
