package escape

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
)

// Explanation is one site with the compiler's reason for it.
type Explanation struct {
	Site
	// Kind names the reason; Reason says it in plain words with the specifics of this site,
	// Remedy is the standard fix for the kind.
	Kind   Kind   `json:"kind"`
	Reason string `json:"reason"`
	Remedy string `json:"remedy"`
	// Expr is the allocated expression as the compiler names it ("&point{...}", "make([]byte,
	// n)", "variable p"), empty when the compiler said nothing about this line.
	Expr string `json:"expr,omitempty"`
	// At is the position of the compiler message the reason comes from.
	At string `json:"at,omitempty"`
	// Flow is the compiler's -m=2 explanation behind the reason, as it printed it.
	Flow []string `json:"flow,omitempty"`
	// Compiler lists every message the compiler printed for the line (and, for an inlined body,
	// for the call sites it was inlined at).
	Compiler []string `json:"compiler,omitempty"`
	// Source is the line of code, trimmed; empty when the file was not found.
	Source string `json:"source,omitempty"`
	// LocalFile is the file of App in the source tree that was built, when it differs from the
	// path in the profile (a service built elsewhere).
	LocalFile string `json:"local_file,omitempty"`
}

// Index holds a build's diagnostics by line, and answers sites.
type Index struct {
	byLine map[lineKey][]*Diagnostic
	// byBase lists the built files by base name, to find a profile's path (built elsewhere,
	// or with -trimpath) in the local tree.
	byBase  map[string][]string
	sources map[string][]string
	methods map[string]map[string]bool // dir → method names declared there
	asts    map[string]parsedFile      // file → its syntax, for plusOperands
}

type lineKey struct {
	file string
	line int
}

// NewIndex indexes diagnostics whose File is absolute (as [Build] returns them). files are the
// Go files that were built, so that a site in a file without any message is still known.
func NewIndex(diags []Diagnostic, files []string) *Index {
	ix := &Index{byLine: map[lineKey][]*Diagnostic{}, byBase: map[string][]string{}, sources: map[string][]string{},
		methods: map[string]map[string]bool{}, asts: map[string]parsedFile{}}
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[f] && filepath.IsAbs(f) {
			seen[f] = true
			ix.byBase[filepath.Base(f)] = append(ix.byBase[filepath.Base(f)], f)
		}
	}
	for _, f := range files {
		add(f)
	}
	for i := range diags {
		d := &diags[i]
		ix.byLine[lineKey{d.File, d.Line}] = append(ix.byLine[lineKey{d.File, d.Line}], d)
		add(d.File)
	}
	for _, fs := range ix.byBase {
		slices.Sort(fs)
	}
	return ix
}

// Local finds a profile's file in the built tree: the same path, else the built file with the
// same base name whose path shares the longest tail of directories with it.
func (ix *Index) Local(file string) (string, bool) {
	file = filepath.ToSlash(file)
	cands := ix.byBase[pathBase(file)]
	best, bestN := "", 0
	for _, c := range cands {
		if filepath.ToSlash(c) == file {
			return c, true
		}
		n := commonTail(filepath.ToSlash(c), file)
		if n > bestN {
			best, bestN = c, n
		}
	}
	return best, bestN > 0
}

func pathBase(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[i+1:]
	}
	return p
}

// commonTail counts the path elements two slash paths share at their ends.
func commonTail(a, b string) int {
	as, bs := strings.Split(a, "/"), strings.Split(b, "/")
	n := 0
	for n < len(as) && n < len(bs) && as[len(as)-1-n] == bs[len(bs)-1-n] {
		n++
	}
	return n
}

func (ix *Index) sourceLine(file string, line int) string {
	lines, ok := ix.sources[file]
	if !ok {
		if f, err := os.Open(file); err == nil {
			sc := bufio.NewScanner(f)
			sc.Buffer(make([]byte, 64<<10), 4<<20)
			for sc.Scan() {
				lines = append(lines, sc.Text())
			}
			f.Close()
		}
		ix.sources[file] = lines
	}
	if line < 1 || line > len(lines) {
		return ""
	}
	return strings.TrimSpace(lines[line-1])
}

var methodDecl = regexp.MustCompile(`(?m)^func\s*\([^)]*\)\s*([A-Za-z_]\w*)\s*[\[(]`)

// declaresMethod reports whether a method named name is declared in the package of file.
func (ix *Index) declaresMethod(file, name string) bool {
	dir := filepath.Dir(file)
	ms, ok := ix.methods[dir]
	if !ok {
		ms = map[string]bool{}
		if ents, err := os.ReadDir(dir); err == nil {
			for _, e := range ents {
				if !strings.HasSuffix(e.Name(), ".go") {
					continue
				}
				b, err := os.ReadFile(filepath.Join(dir, e.Name()))
				if err != nil {
					continue
				}
				for _, m := range methodDecl.FindAllSubmatch(b, -1) {
					ms[string(m[1])] = true
				}
			}
		}
		ix.methods[dir] = ms
	}
	return ms[name]
}

// Explain joins a site with the compiler's messages for its line, and for the call sites its
// body was inlined at, and names the reason.
func (ix *Index) Explain(s Site) Explanation {
	e := Explanation{Site: s}
	local, ok := ix.Local(s.App.File)
	if !ok {
		if s.Library() {
			e.setLeaf()
		} else {
			e.set(NotBuilt, "")
		}
		return e
	}
	if local != s.App.File {
		e.LocalFile = local
	}
	e.Source = ix.sourceLine(local, s.App.Line)
	lines := []lineKey{{local, s.App.Line}}
	for _, f := range s.InlinedInto {
		if l, ok := ix.Local(f.File); ok {
			lines = append(lines, lineKey{l, f.Line})
		}
	}
	var diags []*Diagnostic
	for i, k := range lines {
		for _, d := range ix.byLine[k] {
			if d.Verdict == Inline || d.Verdict == NoInline {
				continue
			}
			// At a line a body was inlined at, every inlined expression has the call's
			// position: only a heap message there names what was allocated.
			if i > 0 && d.Verdict != Moved && d.Verdict != Escapes {
				continue
			}
			diags = append(diags, d)
			if m := d.Where() + ": " + d.Message; !slices.Contains(e.Compiler, m) {
				e.Compiler = append(e.Compiler, m)
			}
		}
	}
	// An allocation inside a library function is explained by that function; one inside the
	// runtime (runtime.newobject, kept in some profiles) by the compiler's report for the line.
	if s.Library() {
		if k, _ := leafKind(s.Leaf.Function); k != "" || !strings.HasPrefix(s.Leaf.Function, "runtime.") {
			e.setLeaf()
			return e
		}
	}
	// The compiler's own report: the first heap message of the site's line wins over the
	// lines it was inlined at, and among one line's messages the most specific kind.
	best, bestRank := (*Diagnostic)(nil), len(rank)+1
	var bestKind Kind
	var bestDetail string
	for _, d := range diags {
		var k Kind
		var detail string
		switch d.Verdict {
		case Moved, Escapes:
			k, detail = ix.classify(d, local)
		case NoEscape:
			k = sizedAtRunTime(d.Subject)
		}
		if k == "" {
			continue
		}
		r := slices.Index(rank, k)
		if r < 0 {
			r = len(rank)
		}
		if best == nil || (d.File == best.File && d.Line == best.Line && r < bestRank) {
			best, bestRank, bestKind, bestDetail = d, r, k, detail
		}
	}
	if best != nil {
		e.set(bestKind, bestDetail)
		e.Expr = best.Subject
		if best.Verdict == Moved {
			e.Expr = "variable " + best.Subject
		}
		e.At = best.Where()
		e.Flow = best.FlowText()
		return e
	}
	if s.Library() {
		e.setLeaf()
		return e
	}
	e.set(fromSource(e.Source), "")
	return e
}

// rank orders kinds from the most to the least specific, for a line with several messages.
var rank = []Kind{TooLarge, ClosureCapture, MethodValue, Closure, Goroutine, Conversion, StringConcat, AppendGrowth,
	NonConstantMake, FmtArgs, MapAlloc, MapGrowth, SliceLiteral, PointerReturned, LeakingCall, StoredOnHeap,
	InterfaceBoxing, UnknownEscapeMsg}

func (e *Explanation) set(k Kind, detail string) {
	e.Kind, e.Reason, e.Remedy = k, k.Reason(), k.Remedy()
	if detail != "" {
		e.Reason += " (" + detail + ")"
	}
}

// setLeaf names the reason from the library function that allocated.
func (e *Explanation) setLeaf() {
	k, remedy := leafKind(e.Leaf.Function)
	if k == "" {
		k = LibraryCall
	}
	e.set(k, "inside "+e.Leaf.Function+", "+where(e.Leaf))
	if remedy != "" {
		e.Remedy = remedy
	}
}

// sizedAtRunTime names what a "does not escape" expression allocates anyway: the compiler
// keeps only a small fixed buffer on the stack for a make, a concatenation or a conversion
// whose size is known at run time.
func sizedAtRunTime(subj string) Kind {
	switch {
	case strings.HasPrefix(subj, "make(map["), strings.HasPrefix(subj, "map["):
		return MapGrowth
	case strings.HasPrefix(subj, "make("):
		return NonConstantMake
	case subj == "append" || strings.HasPrefix(subj, "append("):
		return AppendGrowth
	case isConversion(subj):
		return Conversion
	case strings.Contains(subj, " + "):
		return StringConcat
	}
	return ""
}

func isConversion(subj string) bool {
	for _, p := range []string{"([]byte)(", "([]uint8)(", "([]rune)(", "([]int32)(", "string("} {
		if strings.HasPrefix(subj, p) {
			return true
		}
	}
	return false
}

var selector = regexp.MustCompile(`^[\w.()*\[\]]*\.([A-Za-z_]\w*)$`)

// classify names the reason of one "moved to heap" or "escapes to heap" message.
func (ix *Index) classify(d *Diagnostic, file string) (Kind, string) {
	whys := d.Whys()
	subj := d.Subject
	for _, w := range whys {
		switch w {
		case "too large for stack", "too aligned for stack", "zero-sized element":
			return TooLarge, w
		case "non-constant size":
			return NonConstantMake, ""
		}
	}
	if d.Verdict == Moved {
		if slices.Contains(whys, "captured by a closure") {
			return ClosureCapture, "captured at " + noteAt(d, "captured by a closure")
		}
		return destination(d, PointerReturned)
	}
	switch {
	case subj == "func literal":
		if slices.Contains(whys, "go") {
			return Goroutine, ""
		}
		k, detail := destination(d, Closure)
		if k == FmtArgs || k == LeakingCall {
			return Closure, detail
		}
		return Closure, detail
	case subj == "append" || strings.HasPrefix(subj, "append("):
		return AppendGrowth, ""
	case isConversion(subj):
		return Conversion, ""
	case strings.HasPrefix(subj, "make(map[") || strings.HasPrefix(subj, "map["):
		_, detail := destination(d, MapAlloc)
		return MapAlloc, detail
	case strings.HasPrefix(subj, "&") || strings.HasPrefix(subj, "new(") || strings.HasPrefix(subj, "make("):
		return destination(d, PointerReturned)
	case subj == "... argument":
		if k, detail := destination(d, SliceLiteral); k == FmtArgs {
			return k, detail
		}
		return SliceLiteral, ""
	case strings.HasPrefix(subj, "[]") && strings.HasSuffix(subj, "}"):
		_, detail := destination(d, SliceLiteral)
		return SliceLiteral, detail
	case strings.Contains(subj, " + ") && !boxed(d) && ix.plusOperands(file, d.Line, d.Col) != "number":
		// A sum of numbers that escapes was boxed: an interface conversion prints as its operand.
		return StringConcat, ""
	}
	if m := selector.FindStringSubmatch(subj); m != nil && !boxed(d) && ix.declaresMethod(file, m[1]) {
		return MethodValue, ""
	}
	// Any other expression that escapes is a value converted to an interface: an OCONVIFACE
	// prints as its operand.
	if k, detail := destination(d, InterfaceBoxing); k == FmtArgs {
		return k, detail
	}
	return InterfaceBoxing, ""
}

// boxed reports whether the flow shows an interface conversion or a variadic ... argument: the
// expression is boxed, whatever its text looks like.
func boxed(d *Diagnostic) bool {
	for _, st := range d.Flow {
		if strings.Contains(st.To, "... argument") {
			return true
		}
		for _, n := range st.Notes {
			if n.Why == "interface-converted" || n.Why == "slice-literal-element" {
				return true
			}
		}
	}
	return false
}

// destination reads where the flow takes a pointer: a result (returned), a call that keeps
// its parameter (fmt's are FmtArgs), or anywhere else on the heap. def is the kind when the
// flow says nothing of the three.
func destination(d *Diagnostic, def Kind) (Kind, string) {
	if len(d.Flow) == 0 {
		return def, ""
	}
	for _, st := range d.Flow {
		for _, n := range st.Notes {
			if n.Why == "call parameter" {
				callee, _, _ := strings.Cut(n.Expr, "(")
				if printLike(callee) {
					return FmtArgs, "passed to " + callee
				}
			}
		}
	}
	for _, st := range d.Flow {
		if strings.HasPrefix(st.To, "~r") || slices.ContainsFunc(st.Notes, func(n Note) bool { return n.Why == "return" }) {
			return defReturned(def), "returned at " + noteAt(d, "return")
		}
	}
	for _, st := range d.Flow {
		for _, n := range st.Notes {
			switch n.Why {
			case "call parameter":
				callee, _, _ := strings.Cut(n.Expr, "(")
				return defOr(def, LeakingCall), "passed to " + callee + " at " + n.At
			case "go", "defer":
				return defOr(def, Goroutine), n.Why + " at " + n.At
			case "send", "key of map put", "map literal key", "map literal value":
				return defOr(def, StoredOnHeap), n.Why + " at " + n.At
			}
		}
	}
	last := d.Flow[len(d.Flow)-1]
	if last.To == "{heap}" && len(last.Notes) > 0 {
		n := last.Notes[len(last.Notes)-1]
		return defOr(def, StoredOnHeap), n.Why + " " + n.Expr + " at " + n.At
	}
	// Held by another object that escapes: a closure or a method value binding it.
	if holder, ok := strings.CutPrefix(last.To, "{storage for "); ok {
		holder = strings.TrimSuffix(holder, "}")
		switch {
		case holder == "func literal":
			return defOr(def, ClosureCapture), "held by a func literal that escapes"
		case selector.MatchString(holder):
			return defOr(def, MethodValue), "bound as the receiver of " + holder + ", which escapes"
		}
		return defOr(def, StoredOnHeap), "held by " + holder + ", which escapes"
	}
	return defOr(def, StoredOnHeap), ""
}

// defReturned keeps a non-pointer kind (a closure, a map) and says PointerReturned otherwise.
func defReturned(def Kind) Kind {
	if def == PointerReturned || def == InterfaceBoxing || def == SliceLiteral {
		return PointerReturned
	}
	return def
}

// defOr keeps a specific kind over a generic destination.
func defOr(def, dest Kind) Kind {
	if def == PointerReturned {
		return dest
	}
	return def
}

func noteAt(d *Diagnostic, why string) string {
	for _, st := range d.Flow {
		for _, n := range st.Notes {
			if n.Why == why {
				return n.At
			}
		}
	}
	return d.Where()
}

// printLike reports whether a callee is a printf-style function that takes ...any and keeps
// its arguments: fmt's, log's, and anything named like them.
func printLike(callee string) bool {
	if strings.HasPrefix(callee, "fmt.") || strings.HasPrefix(callee, "log.") || strings.HasPrefix(callee, "(*log.Logger).") {
		return true
	}
	for _, s := range []string{"Printf", "Sprintf", "Errorf", "Fprintf", "Sprint", "Println", "Print"} {
		if strings.HasSuffix(callee, s) {
			return true
		}
	}
	return false
}

var (
	indexAssign = regexp.MustCompile(`^[\w.()*]+\[[^\]]+\]\s*(=|\+=|-=|\|=|&=|\+\+|--)`)
	concatLit   = regexp.MustCompile(`"\s*\+|\+\s*"`)
)

// fromSource guesses the reason from the line itself when the compiler reported no heap
// allocation on it: growth inside the runtime (append, a map assignment), a make or a
// concatenation sized at run time.
func fromSource(src string) Kind {
	switch {
	case src == "":
		return CompilerUnknown
	case strings.Contains(src, "append("):
		return AppendGrowth
	case indexAssign.MatchString(src):
		return MapGrowth
	case strings.Contains(src, "make(map["):
		return MapGrowth
	case strings.Contains(src, "make("):
		return NonConstantMake
	case concatLit.MatchString(src):
		return StringConcat
	}
	return CompilerUnknown
}
