package docscheck

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memdiag/memdiag/promexport"
	"github.com/memdiag/memdiag/runtimediag"
)

// docs reads every docs/*.md, by file name.
func docs(t *testing.T) map[string]string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(docsDir, "*.md"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no docs/*.md: %v", err)
	}
	out := map[string]string{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = string(b)
	}
	return out
}

func allDocs(d map[string]string) string {
	var sb strings.Builder
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range d {
			if !yield(k) {
				return
			}
		}
	}) {
		sb.WriteString(d[k])
	}
	return sb.String()
}

// section returns the text of doc from the heading that starts with heading to the next heading
// of the same or a higher level; "" when there is no such heading.
func section(doc, heading string) string {
	level := strings.IndexFunc(heading, func(r rune) bool { return r != '#' })
	i := strings.Index(doc, "\n"+heading)
	if i < 0 {
		return ""
	}
	rest := doc[i+1:]
	lines := strings.Split(rest, "\n")
	for j := 1; j < len(lines); j++ {
		l := lines[j]
		if n := strings.IndexFunc(l, func(r rune) bool { return r != '#' }); n > 0 && n <= level && strings.HasPrefix(l[n:], " ") {
			return strings.Join(lines[:j], "\n")
		}
	}
	return rest
}

// firstCells returns the backticked first cell of every table row in text: "| `x` | …" gives x.
var firstCellRE = regexp.MustCompile("(?m)^\\| `([^`]+)` \\|")

func firstCells(text string) []string {
	var out []string
	for _, m := range firstCellRE.FindAllStringSubmatch(text, -1) {
		out = append(out, m[1])
	}
	return out
}

func checkBothWays(t *testing.T, what string, code []string, documented []string, where string) {
	t.Helper()
	for _, c := range code {
		if !slices.Contains(documented, c) {
			t.Errorf("%s %q exists in the code but not in %s", what, c, where)
		}
	}
	for _, d := range documented {
		if !slices.Contains(code, d) {
			t.Errorf("%s %q is documented in %s but does not exist", what, d, where)
		}
	}
}

func TestFindingCodesDocumented(t *testing.T) {
	d := docs(t)
	codes := runtimediag.FindingCodes()
	checkBothWays(t, "finding code", codes, firstCells(section(d["findings.md"], "## The rules")), "docs/findings.md's rule table")
	var headed []string
	for _, m := range regexp.MustCompile(`(?m)^### ([a-z0-9_]+)\s*$`).FindAllStringSubmatch(d["findings.md"], -1) {
		headed = append(headed, m[1])
	}
	checkBothWays(t, "finding code", codes, headed, "docs/findings.md's ### sections")
}

func TestCategoriesDocumented(t *testing.T) {
	d := docs(t)
	names := runtimediag.RSSCategoryNames()
	checkBothWays(t, "RSS category", names, firstCells(section(d["rss-categories.md"], "## The categories")), "docs/rss-categories.md's table")
	checkBothWays(t, "RSS category", names, firstCells(section(d["reading-the-report.md"], "## Where the memory is")), "docs/reading-the-report.md's table")
	schema := d["report-schema.md"]
	for _, n := range names {
		if !strings.Contains(schema, "`"+n+"`") {
			t.Errorf("RSS category %q missing from docs/report-schema.md", n)
		}
	}
}

// TestKPIsDocumented: every efficiency field the report has is explained in reading-the-report.md,
// and every efficiency.* name there exists.
func TestKPIsDocumented(t *testing.T) {
	d := docs(t)
	fields := map[string]bool{}
	typeFields(reflectReport(), "", fields)
	var kpis []string
	for p := range fields {
		if rest, ok := strings.CutPrefix(p, "efficiency."); ok && !strings.ContainsAny(rest, ".[") {
			kpis = append(kpis, p)
		}
	}
	doc := d["reading-the-report.md"]
	for _, k := range kpis {
		if !strings.Contains(doc, "`"+k+"`") {
			t.Errorf("KPI %s is not explained in docs/reading-the-report.md", k)
		}
	}
	for _, m := range regexp.MustCompile("`(efficiency\\.[a-z_]+)`").FindAllStringSubmatch(doc, -1) {
		if !fields[m[1]] {
			t.Errorf("docs/reading-the-report.md names %s, which the report does not have", m[1])
		}
	}
}

// cliCommands reads the names in cmd/memdiag's command table with go/parser: the command is a
// main package, and nothing is exported for the sake of this test.
func cliCommands(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../../cmd/memdiag/main.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if ok && fn.Name.Name != "commands" {
			return false
		}
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok {
			return true
		}
		if k, ok := kv.Key.(*ast.Ident); ok && k.Name == "name" {
			if lit, ok := kv.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				names = append(names, s)
			}
		}
		return true
	})
	if len(names) == 0 {
		t.Fatal("no command names found in cmd/memdiag/main.go's commands(): has the table moved?")
	}
	return append(names, "help")
}

func TestCLICommandsDocumented(t *testing.T) {
	d := docs(t)
	var documented []string
	for _, m := range regexp.MustCompile(`(?m)^## memdiag ([a-z-]+)\s*$`).FindAllStringSubmatch(d["cli.md"], -1) {
		documented = append(documented, m[1])
	}
	checkBothWays(t, "CLI command", cliCommands(t), documented, "docs/cli.md's ## memdiag sections")
}

// endpoints reads the paths middleware registers (tree.handle("report.json", …)) from its
// source: the registrations are unexported, and parsing them needs nothing exported for a test.
// "{$}" is the path that ends there: the page at the prefix itself is written "/" in the docs,
// the profile index "/pprof/".
func endpoints(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("../../middleware/*.go")
	var out []string
	fset := token.NewFileSet()
	for _, p := range files {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			sel, ok := call.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			// handle(path, fn) for GET, handleMethod(method, path, fn) for the POST-only ones.
			var arg ast.Expr
			switch {
			case sel.Sel.Name == "handle" && len(call.Args) == 2:
				arg = call.Args[0]
			case sel.Sel.Name == "handleMethod" && len(call.Args) == 3:
				arg = call.Args[1]
			default:
				return true
			}
			if lit, ok := arg.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				s, _ := strconv.Unquote(lit.Value)
				// "{$}" matches the path ending there: the prefix itself, or pprof/.
				s = strings.TrimSuffix(s, "{$}")
				out = append(out, "/"+s)
			}
			return true
		})
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestEndpointsDocumented: every endpoint the tree registers is in the endpoint tables of the
// docs (getting-started.md's, and security.md's once it exists), and every path in those tables
// is registered.
func TestEndpointsDocumented(t *testing.T) {
	eps := endpoints(t)
	if len(eps) == 0 {
		t.Skip("middleware registers no endpoint yet (no handle calls found): nothing to check")
	}
	d := docs(t)
	checked := 0
	for _, doc := range []string{"getting-started.md", "security.md"} {
		text, ok := d[doc]
		if !ok {
			t.Logf("docs/%s does not exist yet: its endpoint table is not checked", doc)
			continue
		}
		var documented []string
		for _, c := range firstCells(text) {
			if strings.HasPrefix(c, "/") {
				c, _, _ = strings.Cut(c, "?")
				documented = append(documented, c)
			}
		}
		if len(documented) == 0 {
			t.Logf("docs/%s has no endpoint table (rows starting | `/path` |)", doc)
			continue
		}
		checkBothWays(t, "endpoint", eps, documented, "docs/"+doc)
		checked++
	}
	if checked == 0 {
		t.Error("no doc has an endpoint table")
	}
}

// metricNames asks a real Collector to describe itself: the names are what Prometheus scrapes.
func metricNames(t *testing.T) []string {
	t.Helper()
	mon, err := runtimediag.NewMonitor()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mon.Close() })
	c, err := promexport.NewCollector(mon)
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	re := regexp.MustCompile(`fqName: "([^"]+)"`)
	var out []string
	for desc := range ch {
		if m := re.FindStringSubmatch(desc.String()); m != nil {
			out = append(out, m[1])
		}
	}
	if len(out) == 0 {
		t.Fatal("the Collector describes no metric")
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestMetricNamesDocumented: every metric the Collector exports is named in docs/, and every
// memdiag_* name in docs/ is one it exports.
func TestMetricNamesDocumented(t *testing.T) {
	names := metricNames(t)
	all := allDocs(docs(t))
	var documented []string
	for _, m := range regexp.MustCompile("`(memdiag_[a-z0-9_]+)").FindAllStringSubmatch(all, -1) {
		documented = append(documented, m[1])
	}
	// Report keys that start with memdiag_ (memdiag_self, …) are not metrics.
	keys := map[string]bool{}
	typeFields(reflect.TypeFor[runtimediag.Report](), "", keys)
	isKey := map[string]bool{}
	for k := range keys {
		for _, part := range strings.Split(strings.ReplaceAll(k, "[]", ""), ".") {
			isKey[part] = true
		}
	}
	documented = slices.DeleteFunc(documented, func(n string) bool { return isKey[n] })
	slices.Sort(documented)
	documented = slices.Compact(documented)
	if len(documented) == 0 {
		t.Skip("no doc names a memdiag_* metric yet (promexport's documentation is not written): only the reverse check would run")
	}
	checkBothWays(t, "metric", names, documented, "docs/")
}

// TestFindingEndpointsServed: every endpoint a finding's headline or advice names is one memdiag
// serves. It reads every string literal of runtimediag's rules (findings.go, where each rule's
// advice is written) for paths under /debug/ and matches them, under the default prefix, against
// the endpoints middleware registers.
func TestFindingEndpointsServed(t *testing.T) {
	eps := endpoints(t)
	if len(eps) == 0 {
		t.Fatal("no endpoint registered by middleware")
	}
	const prefix = "/debug/memdiag"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "../../runtimediag/findings.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	pathRE := regexp.MustCompile(`/debug/[A-Za-z0-9_./{}-]*`)
	found := 0
	ast.Inspect(f, func(n ast.Node) bool {
		lit, ok := n.(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			return true
		}
		s, _ := strconv.Unquote(lit.Value)
		for _, p := range pathRE.FindAllString(s, -1) {
			found++
			rest, ok := strings.CutPrefix(p, prefix)
			if !ok || !slices.ContainsFunc(eps, func(ep string) bool { return routeMatches(ep, rest) }) {
				t.Errorf("%s: %q names %s, which memdiag does not serve (endpoints under %s: %v)",
					fset.Position(lit.Pos()), s, p, prefix, eps)
			}
		}
		return true
	})
	t.Logf("%d endpoint paths named in finding texts", found)
}

// routeMatches reports whether path fits the registered pattern ep, whose {name} segments match
// any one segment (a "{id}" written in advice included).
func routeMatches(ep, path string) bool {
	a, b := strings.Split(strings.TrimSuffix(ep, "/"), "/"), strings.Split(strings.TrimSuffix(path, "/"), "/")
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(strings.HasPrefix(a[i], "{") && strings.HasSuffix(a[i], "}") && b[i] != "") {
			return false
		}
	}
	return true
}
