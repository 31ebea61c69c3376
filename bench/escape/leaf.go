package escape

import "strings"

// leafRule names the reason of an allocation made inside a library or runtime function, by
// the function's name prefix; remedy "" keeps the kind's own.
type leafRule struct {
	prefix string
	kind   Kind
	remedy string
}

// leafRules are checked in order; the first prefix that matches wins. The runtime's entries
// matter where a profile keeps the runtime's frames (older toolchains, other profilers).
var leafRules = []leafRule{
	{"runtime.growslice", AppendGrowth, ""},
	{"runtime.mapassign", MapGrowth, ""},
	{"runtime.hashGrow", MapGrowth, ""},
	{"runtime.growWork", MapGrowth, ""},
	{"internal/runtime/maps.", MapGrowth, ""},
	{"runtime.makemap", MapAlloc, ""},
	{"runtime.concatstring", StringConcat, ""},
	{"runtime.slicebytetostring", Conversion, ""},
	{"runtime.stringtoslicebyte", Conversion, ""},
	{"runtime.stringtoslicerune", Conversion, ""},
	{"runtime.slicerunetostring", Conversion, ""},
	{"runtime.intstring", Conversion, ""},
	{"runtime.convT", InterfaceBoxing, ""},
	{"runtime.makeslice", NonConstantMake, ""},
	{"runtime.newproc", Goroutine, ""},
	{"runtime.malg", Goroutine, ""},
	{"fmt.", FmtArgs, ""},
	{"strings.genSplit", LibraryCall, "iterate with strings.Cut, or strings.SplitSeq / FieldsSeq (Go 1.24), which yield the parts without building a slice"},
	{"strings.Fields", LibraryCall, "iterate with strings.FieldsSeq (Go 1.24) or strings.Cut instead of building a slice"},
	{"strings.(*Builder).grow", AppendGrowth, "call b.Grow(n) once with the final size before writing"},
	{"strings.(*Builder).Write", AppendGrowth, "call b.Grow(n) once with the final size before writing"},
	{"strings.Join", LibraryCall, "write the parts into one reused strings.Builder or []byte"},
	{"strings.Repeat", LibraryCall, "write into a reused buffer, or keep the repeated string in a variable"},
	{"strings.Replace", LibraryCall, "check strings.Contains first (no change, no copy), or use a strings.Replacer made once"},
	{"strings.To", LibraryCall, "compare with strings.EqualFold instead of converting case, or convert once"},
	{"strings.Map", LibraryCall, "transform into a reused []byte"},
	{"bytes.growSlice", AppendGrowth, "Grow the bytes.Buffer once to the final size, and reuse it with Reset"},
	{"bytes.(*Buffer).grow", AppendGrowth, "Grow the bytes.Buffer once to the final size, and reuse it with Reset"},
	{"bytes.(*Buffer).String", Conversion, "use b.Bytes() where a []byte will do"},
	{"strconv.", LibraryCall, "use strconv.AppendInt / AppendFloat / AppendQuote into a reused []byte"},
	{"errors.New", LibraryCall, "create the error once in a package-level variable"},
	{"encoding/json.", LibraryCall, "reuse a json.Encoder/Decoder on a stream and decode into a reused value; the reflection allocates per call"},
	{"encoding/binary.", LibraryCall, "use the Append*/PutUint* functions into a reused buffer instead of Read/Write with interfaces"},
	{"reflect.", LibraryCall, "reflect allocates on its own and the compiler cannot see it: use concrete types or generics on the hot path"},
	{"sort.", LibraryCall, "slices.Sort / slices.SortFunc do not box the slice and the comparison into interfaces"},
	{"regexp.", LibraryCall, "compile the expression once (a package variable) and use the Index or Match methods that return no new strings"},
	{"time.NewTimer", LibraryCall, "reuse one time.Timer with Reset"},
	{"time.After", LibraryCall, "reuse one time.Timer with Reset"},
	{"bufio.New", LibraryCall, "keep the reader or writer and Reset it onto the next stream"},
	{"context.With", LibraryCall, "derive the context once per request, not per item"},
	{"sync.(*Pool).", LibraryCall, "the pool's New ran: the pool was empty (after a GC, or more goroutines than pooled objects)"},
}

// leafKind returns the reason kind and remedy of an allocation inside fn, "" when fn is not
// in the table.
func leafKind(fn string) (Kind, string) {
	for _, r := range leafRules {
		if strings.HasPrefix(fn, r.prefix) {
			return r.kind, r.remedy
		}
	}
	return "", ""
}
