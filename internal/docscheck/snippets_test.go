package docscheck

import (
	"bufio"
	"bytes"
	"fmt"
	"go/ast"
	"go/doc/comment"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// snippet is a block of Go code shown to readers: a ```go block of a Markdown file, or an
// indented block of a package's doc comment that parses as Go.
type snippet struct {
	file string // relative to the module root
	line int    // of the block's first line of code
	code string
}

// snippetImports are the packages a snippet may name without importing them, as readers are told
// to: each is imported when the snippet mentions name + ".".
var snippetImports = map[string]string{
	"atomic":      "sync/atomic",
	"bench":       "github.com/memdiag/memdiag/bench",
	"collectors":  "github.com/prometheus/client_golang/prometheus/collectors",
	"context":     "context",
	"errors":      "errors",
	"fmt":         "fmt",
	"http":        "net/http",
	"log":         "log",
	"middleware":  "github.com/memdiag/memdiag/middleware",
	"os":          "os",
	"procself":    "github.com/memdiag/memdiag/procself",
	"promexport":  "github.com/memdiag/memdiag/promexport",
	"prometheus":  "github.com/prometheus/client_golang/prometheus",
	"promhttp":    "github.com/prometheus/client_golang/prometheus/promhttp",
	"runtimediag": "github.com/memdiag/memdiag/runtimediag",
	"subtle":      "crypto/subtle",
	"testing":     "testing",
	"time":        "time",
	"tls":         "crypto/tls",
	"zap":         "go.uber.org/zap",
}

// snippetAmbient declares what the docs' prose says a snippet's reader already has: a context, a
// logger, the application's handler and mux, a Prometheus registry, a Monitor, a ticker, and a
// benchmark's own load and parse functions. A statement snippet runs in a block of its own inside
// a function returning error, so that it may declare any of these names again.
const snippetAmbient = `package snippet

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/memdiag/memdiag/runtimediag"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
)

type ambient struct {
	ctx    context.Context
	logger *zap.Logger
	appMux http.Handler
	mux    *http.ServeMux
	reg    *prometheus.Registry
	mon    *runtimediag.Monitor
	ticker *time.Ticker
}

func load(testing.TB) []byte { return nil }
func parse([]byte)           {}
`

const snippetFuncHead = `func _(ctx context.Context, logger *zap.Logger, appMux http.Handler, mux *http.ServeMux, reg *prometheus.Registry, mon *runtimediag.Monitor, ticker *time.Ticker) error {
	_, _, _, _, _, _, _ = ctx, logger, appMux, mux, reg, mon, ticker
	{
`

// markdownSnippets returns the ```go blocks of a Markdown file, dedented when the block sits in
// a list item.
func markdownSnippets(t *testing.T, rel string) []snippet {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("../..", rel))
	if err != nil {
		t.Fatal(err)
	}
	var out []snippet
	var cur *snippet
	var indent string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trim := strings.TrimLeft(line, " ")
		switch {
		case cur == nil && trim == "```go":
			indent = line[:len(line)-len(trim)]
			cur = &snippet{file: rel, line: n + 1}
		case cur != nil && strings.HasPrefix(trim, "```"):
			out = append(out, *cur)
			cur = nil
		case cur != nil:
			cur.code += strings.TrimPrefix(line, indent) + "\n"
		}
	}
	if cur != nil {
		t.Errorf("%s:%d: a ```go block that never closes", rel, cur.line-1)
	}
	return out
}

// docSnippets returns the code blocks of a package's doc comment that parse as Go: a doc comment's
// code blocks also show tables and command lines, which are not Go and are left alone.
func docSnippets(t *testing.T, rel string) []snippet {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join("../..", rel), nil, parser.ParseComments|parser.PackageClauseOnly)
	if err != nil {
		t.Fatal(err)
	}
	if f.Doc == nil {
		return nil
	}
	text := f.Doc.Text()
	docLine := fset.Position(f.Doc.Pos()).Line
	var p comment.Parser
	var out []snippet
	for _, blk := range p.Parse(text).Content {
		code, ok := blk.(*comment.Code)
		if !ok || !parsesAsGo(code.Text) {
			continue
		}
		// The block's first line, found in the comment's text: Parse keeps no positions.
		line := docLine
		first, _, _ := strings.Cut(code.Text, "\n")
		for i, l := range strings.Split(text, "\n") {
			if strings.TrimSpace(l) == strings.TrimSpace(first) {
				line = docLine + i
				break
			}
		}
		out = append(out, snippet{file: rel, line: line, code: code.Text})
	}
	return out
}

func parsesAsGo(code string) bool {
	_, stmtErr := parser.ParseFile(token.NewFileSet(), "", "package p\nfunc _() {\n"+code+"\n}\n", 0)
	_, fileErr := parser.ParseFile(token.NewFileSet(), "", "package p\n"+code, 0)
	return stmtErr == nil || fileErr == nil
}

// snippetSource makes a compilable file of s: a file of declarations as it is, statements inside
// a function that has the ambient names, and a list of expressions (options shown as a call's
// arguments) as the elements of a slice. A Markdown "{ ... }" stands for code the reader writes;
// it becomes a return of the error.
func snippetSource(s snippet) string {
	code := strings.ReplaceAll(s.code, "{ ... }", "{ return err }")
	var imports []string
	for name, path := range snippetImports {
		if strings.Contains(code, name+".") && !strings.Contains(code, `"`+path+`"`) {
			imports = append(imports, fmt.Sprintf("\t%q\n", path))
		}
	}
	sort.Strings(imports)
	head := "package snippet\n\nimport (\n\t\"context\"\n\t\"net/http\"\n\t\"time\"\n\t\"github.com/memdiag/memdiag/runtimediag\"\n\t\"github.com/prometheus/client_golang/prometheus\"\n\t\"go.uber.org/zap\"\n" + strings.Join(imports, "") + ")\n"
	head = dedupeImports(head)
	lineDirective := fmt.Sprintf("//line %s:%d\n", s.file, s.line)
	if _, err := parser.ParseFile(token.NewFileSet(), "", "package p\n"+code, 0); err == nil && strings.TrimSpace(code) != "" {
		// A file of declarations: its own imports come first, before the added ones.
		own, rest := splitImports(code)
		return "package snippet\n\n" + own + head[len("package snippet\n\n"):] + lineDirective + rest
	}
	if _, err := parser.ParseFile(token.NewFileSet(), "", "package p\nfunc _() {\n"+code+"\n}\n", 0); err == nil {
		return head + snippetFuncHead + lineDirective + code + "\n\t}\n\treturn nil\n}\n"
	}
	return head + snippetFuncHead + "_ = []any{\n" + lineDirective + code + "\n}\n\t}\n\treturn nil\n}\n"
}

// splitImports returns a declaration file's import lines and the rest.
func splitImports(code string) (imports, rest string) {
	var imp, other strings.Builder
	inBlock := false
	for _, l := range strings.SplitAfter(code, "\n") {
		t := strings.TrimSpace(l)
		switch {
		case inBlock:
			imp.WriteString(l)
			inBlock = t != ")"
		case strings.HasPrefix(t, "import ("):
			imp.WriteString(l)
			inBlock = true
		case strings.HasPrefix(t, "import "):
			imp.WriteString(l)
		default:
			other.WriteString(l)
		}
	}
	return imp.String(), other.String()
}

// dedupeImports drops a repeated import line from an import block.
func dedupeImports(src string) string {
	seen := map[string]bool{}
	var b strings.Builder
	for _, l := range strings.SplitAfter(src, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, `"`) {
			if seen[t] {
				continue
			}
			seen[t] = true
		}
		b.WriteString(l)
	}
	return b.String()
}

// exportImporter is a types.Importer over the export data `go list -export` writes for the
// packages snippets may import and everything they import.
func exportImporter(t *testing.T, fset *token.FileSet) types.Importer {
	t.Helper()
	paths := []string{"testing"}
	for _, p := range snippetImports {
		paths = append(paths, p)
	}
	cmd := exec.Command("go", append([]string{"list", "-export", "-deps", "-f", "{{.ImportPath}}\t{{.Export}}"}, paths...)...)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -export: %v\n%s", err, stderr.Bytes())
	}
	exports := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, file, ok := strings.Cut(l, "\t"); ok && file != "" {
			exports[path] = file
		}
	}
	return importer.ForCompiler(fset, "gc", func(path string) (rc io.ReadCloser, err error) {
		file, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("%s: not among the packages a snippet may import", path)
		}
		return os.Open(file)
	})
}

// checkSnippet type-checks s with the ambient declarations and returns its errors. A name
// declared and not used, or an import not used, is no error here: a snippet shows a step, and
// the reader uses what it declares in the next.
func checkSnippet(fset *token.FileSet, imp types.Importer, s snippet) []error {
	src := snippetSource(s)
	amb, err := parser.ParseFile(fset, "ambient.go", snippetAmbient, 0)
	if err != nil {
		return []error{err}
	}
	f, err := parser.ParseFile(fset, s.file, src, parser.ParseComments)
	if err != nil {
		return []error{fmt.Errorf("%w\n%s", err, src)}
	}
	var errs []error
	conf := types.Config{Importer: imp, Error: func(err error) {
		if te, ok := err.(types.Error); ok && te.Soft &&
			(strings.Contains(te.Msg, "declared and not used") || strings.Contains(te.Msg, "imported and not used")) {
			return
		}
		errs = append(errs, err)
	}}
	conf.Check("snippet", fset, []*ast.File{amb, f}, nil) // errors reach conf.Error
	return errs
}

// TestDocSnippetsCompile type-checks every Go snippet a reader is shown — the README's, the
// docs', and the package doc comments' — against the code as it is: a renamed option, a changed
// signature or an undefined helper in a snippet fails here.
func TestDocSnippetsCompile(t *testing.T) {
	var snippets []snippet
	md, err := filepath.Glob("../../docs/*.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range append([]string{"../../README.md"}, md...) {
		snippets = append(snippets, markdownSnippets(t, strings.TrimPrefix(f, "../../"))...)
	}
	docs, err := filepath.Glob("../../*/doc.go")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("../../*/*/doc.go")
	for _, f := range append(docs, more...) {
		snippets = append(snippets, docSnippets(t, strings.TrimPrefix(f, "../../"))...)
	}
	// The README's, runtimediag's and bench's snippets are the ones readers copy first: they
	// must be found, so that this test cannot pass by finding nothing.
	found := map[string]bool{}
	for _, s := range snippets {
		found[s.file] = true
	}
	for _, f := range []string{"README.md", "runtimediag/doc.go", "bench/doc.go"} {
		if !found[f] {
			t.Errorf("%s: no Go snippet found", f)
		}
	}
	fset := token.NewFileSet()
	imp := exportImporter(t, fset)
	for _, s := range snippets {
		for _, err := range checkSnippet(fset, imp, s) {
			t.Errorf("%v", err)
		}
	}
	t.Logf("%d snippets type-checked", len(snippets))
}

// TestDocSnippetsCompileCanFail shows the check rejects what it must: an undefined helper, a
// wrong argument type, a misspelled option.
func TestDocSnippetsCompileCanFail(t *testing.T) {
	fset := token.NewFileSet()
	imp := exportImporter(t, fset)
	for _, code := range []string{
		"reg.MustRegister(must(promexport.NewCollector(mon)))\n",
		"mon, err := runtimediag.NewMonitor(runtimediag.WithTickInterval(\"1s\"))\n",
		"middleware.Handler(mon, middleware.WithTrustedProxy(\"127.0.0.1\"))\n",
	} {
		if errs := checkSnippet(fset, imp, snippet{file: "bad.md", line: 1, code: code}); len(errs) == 0 {
			t.Errorf("%q type-checks; want an error", code)
		}
	}
	ok := "col, err := promexport.NewCollector(mon)\nif err != nil { ... }\nreg.MustRegister(col)\n"
	if errs := checkSnippet(fset, imp, snippet{file: "good.md", line: 1, code: ok}); len(errs) != 0 {
		t.Errorf("%q: %v", ok, errs)
	}
}
