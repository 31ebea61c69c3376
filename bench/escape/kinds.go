package escape

// Kind names why a site allocates. The names are stable: JSON output and docs/why.md use them.
type Kind string

// The kinds of reason, each with its plain words and its standard remedy in [kinds].
const (
	PointerReturned  Kind = "pointer-returned"   // &x, &T{}, new(T) returned from the function
	StoredOnHeap     Kind = "stored-on-heap"     // a pointer stored in a global, a heap object, a channel
	LeakingCall      Kind = "leaking-call"       // passed to a function that keeps its parameter
	ClosureCapture   Kind = "closure-capture"    // a variable captured by reference by an escaping closure
	Closure          Kind = "closure"            // a func literal that outlives the call
	InterfaceBoxing  Kind = "interface-boxing"   // a non-pointer value converted to an interface
	FmtArgs          Kind = "fmt-args"           // arguments of fmt.Sprintf and friends, boxed and kept
	NonConstantMake  Kind = "non-constant-make"  // make with a size known only at run time
	AppendGrowth     Kind = "append-growth"      // append outgrew the capacity
	MapGrowth        Kind = "map-growth"         // a map grew as it was filled
	MapAlloc         Kind = "map-alloc"          // a map created and kept beyond the call
	StringConcat     Kind = "string-concat"      // a + b
	Conversion       Kind = "conversion"         // []byte(s), string(b), []rune(s)
	MethodValue      Kind = "method-value"       // x.M used as a func value
	TooLarge         Kind = "too-large"          // too large (or too aligned) for the stack
	SliceLiteral     Kind = "slice-literal"      // []T{...} or a variadic ... slice kept beyond the call
	Goroutine        Kind = "goroutine"          // go f(x): the arguments and closure live on the heap
	LibraryCall      Kind = "library-call"       // allocated inside a library function called here
	CompilerUnknown  Kind = "no-compiler-reason" // the compiler reports no heap allocation here
	NotBuilt         Kind = "not-built"          // the line is not in the packages that were built
	UnknownEscapeMsg Kind = "escapes"            // an escape the compiler explains with a flow we do not name
)

// kindText is the plain-words reason and the standard remedy of a kind.
type kindText struct {
	reason, remedy string
}

var kinds = map[Kind]kindText{
	PointerReturned: {
		"a pointer to it is returned, so it must outlive the function's stack frame",
		"return the value instead of a pointer (T, not *T), or let the caller pass a *T to fill: the caller's variable can stay on its stack",
	},
	StoredOnHeap: {
		"its address is stored where it outlives the call (a global, a heap object, a channel, a map)",
		"do not keep the pointer: store a copy of the value, or reuse one long-lived object (a field, a sync.Pool) instead of a new one per call",
	},
	LeakingCall: {
		"it is passed to a function whose parameter leaks: the compiler cannot prove the callee does not keep it",
		"pass a value instead of a pointer, change the callee so it does not retain its argument (its -m output then says \"does not escape\"), or keep the call out of the hot path",
	},
	ClosureCapture: {
		"a closure captures it by reference and the closure outlives the call, so the variable moves to the heap",
		"pass the value to the function as an argument, copy it into a local the closure captures by value (not assigned after capture), or avoid building the closure on the hot path",
	},
	Closure: {
		"the func literal outlives the call (stored, returned or passed to code that keeps it), so its closure object is heap-allocated",
		"define the function once outside the hot path (a top-level func or a method) and pass the data as arguments",
	},
	InterfaceBoxing: {
		"a non-pointer value is converted to an interface: the interface holds a pointer to a heap copy of the value",
		"keep the concrete type (a concrete or generic parameter instead of any/interface), or convert a pointer that already exists; constants, zero values and single-byte values are not boxed",
	},
	FmtArgs: {
		"the arguments of a fmt call are converted to interfaces (any) and fmt keeps them, so each non-constant argument is boxed on the heap",
		"format with strconv.AppendInt/AppendQuote/AppendFloat into a reused []byte, or a strings.Builder; keep fmt off hot paths",
	},
	NonConstantMake: {
		"make with a size known only at run time: the compiler cannot reserve it on the stack, so beyond a small fixed buffer (32 bytes) it goes to the heap",
		"use a constant size (var buf [N]T; s := buf[:n] when n <= N), or reuse a buffer across calls (a field, a sync.Pool)",
	},
	AppendGrowth: {
		"append outgrew the slice's capacity: the runtime (growslice) copies it into a new, larger array on the heap",
		"preallocate the capacity (make([]T, 0, n) when n is known), or reuse one slice across calls with s = s[:0]",
	},
	MapGrowth: {
		"the map grew as it was filled: the runtime allocates new groups and tables when it passes its capacity",
		"size the map when it is made (make(map[K]V, n)), or keep one map and clear(m) it between uses",
	},
	MapAlloc: {
		"the map is created and outlives the call (returned or stored), so it and its table are heap-allocated",
		"reuse one map (clear(m) between uses), or pass the map in from the caller",
	},
	StringConcat: {
		"string concatenation makes a new string; it is on the heap when it outlives the statement or is longer than a small stack buffer (32 bytes)",
		"build it with a strings.Builder (Grow once) or append into a reused []byte; for a two-part map key use a struct key",
	},
	Conversion: {
		"a []byte/string (or []rune) conversion copies the bytes into a new heap object",
		"keep one representation: the bytes package works on []byte and strings on string; m[string(b)] lookups, string(b) == s comparisons and for range []byte(s) do not copy; append(buf[:0], s...) reuses a buffer",
	},
	MethodValue: {
		"a method value (x.M without calling it) makes a closure that binds the receiver, and it outlives the call",
		"call the method directly, use a method expression (T.M) and pass the receiver, or make the func value once outside the hot path",
	},
	TooLarge: {
		"it is too large for the stack (variables over 128 KiB; new, &T{} and make over 64 KiB), so the compiler always puts it on the heap",
		"allocate it once and reuse it (a field of a long-lived struct, a sync.Pool), or make it smaller",
	},
	SliceLiteral: {
		"a slice literal (or the ... slice of a variadic call) outlives the call, so its backing array is on the heap",
		"use an array or a slice of a reused buffer, or a callee that does not keep the slice",
	},
	Goroutine: {
		"a go statement: the closure and its captured variables live on the heap for the new goroutine",
		"hand work to long-lived worker goroutines over a channel instead of starting one per item",
	},
	LibraryCall: {
		"the allocation happens inside a library function called on this line; the compiler's report for this line does not cover it",
		"look for a variant that appends into a caller's buffer (strconv.Append*, bytes.Buffer with Grow, AppendFormat) or avoid the call on the hot path",
	},
	CompilerUnknown: {
		"the compiler reports no heap allocation on this line: it happens inside the runtime, through reflect, or in code built without escape diagnostics",
		"read the leaf frame: the allocation is in the function it names",
	},
	NotBuilt: {
		"the line is not in the packages built with escape diagnostics (another module, or a build tag not set)",
		"run why in the module that holds the line, with its build tags",
	},
	UnknownEscapeMsg: {
		"it escapes to the heap; the compiler's flow below says how",
		"follow the flow to the statement that makes it outlive the call and remove that",
	},
}

// Reason returns a kind's plain-words reason.
func (k Kind) Reason() string { return kinds[k].reason }

// Remedy returns a kind's standard remedy.
func (k Kind) Remedy() string { return kinds[k].remedy }

// Kinds lists every kind, in the order docs/why.md describes them.
func Kinds() []Kind {
	return []Kind{PointerReturned, StoredOnHeap, LeakingCall, ClosureCapture, Closure, InterfaceBoxing,
		FmtArgs, NonConstantMake, AppendGrowth, MapGrowth, MapAlloc, StringConcat, Conversion, MethodValue,
		TooLarge, SliceLiteral, Goroutine, LibraryCall, CompilerUnknown, NotBuilt, UnknownEscapeMsg}
}
