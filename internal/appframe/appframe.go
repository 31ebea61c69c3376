// Package appframe picks, in a sampled stack, the first frame of the program's own code: a
// sample whose leaf is strings.genSplit or runtime.growslice is charged to the caller's
// strings.Split or append line, the line a reader can change. It is the one place the
// allocation-profile readers (runtimediag, the gate, bench/escape) agree on what "own code" is.
//
// Two readers, two questions. A test binary's profile (the gate, bench/escape) asks which frames
// are the module under test's: [Matcher]. A running service's own reading (runtimediag: its
// allocation sites, heap by site and goroutine groups) asks which frames are the service's and not
// memdiag's, whose callbacks into the service sit below the service's frames: [InService].
package appframe

import "strings"

// Package returns the import path of a function symbol as profiles name it:
// "github.com/a/b.(*T).M" → "github.com/a/b", "strings.genSplit" → "strings",
// "example.com/x.F[...].func1" → "example.com/x".
func Package(fn string) string {
	slash := strings.LastIndex(fn, "/")
	if slash < 0 {
		slash = 0
	}
	if dot := strings.IndexByte(fn[slash:], '.'); dot >= 0 {
		return fn[:slash+dot]
	}
	return fn
}

// Module is memdiag's module path.
const Module = "github.com/memdiag/memdiag"

// Memdiag reports whether fn (defined in file) is memdiag's own code. Its examples and its tests
// count as an application's: they are what a service would be.
func Memdiag(fn, file string) bool {
	return strings.HasPrefix(fn, Module+"/") && !strings.HasPrefix(fn, Module+"/examples/") &&
		!strings.HasSuffix(file, "_test.go")
}

// InService reports whether fn (defined in file) is a running service's own code: outside the
// standard library, its package main included (a test binary's generated main is not), and not
// [Memdiag]. Third-party modules count as the service's, as [Matcher] with no Modules counts them.
func InService(fn, file string) bool {
	if Package(fn) == "main" {
		return !strings.HasSuffix(file, "_testmain.go")
	}
	return !Memdiag(fn, file) && (Matcher{}).Own(fn)
}

// Std reports whether an import path is the standard library's (or the runtime's): its
// first element has no dot. The test binary's generated "main" is not counted as std, nor as
// the program's own code (see [Matcher]).
func Std(pkg string) bool {
	first, _, _ := strings.Cut(pkg, "/")
	return !strings.Contains(first, ".") && pkg != "main" && pkg != "command-line-arguments"
}

// Matcher says whether a function belongs to the program's own code.
type Matcher struct {
	// Modules are the module paths of the code under test (go list -m). Empty means every
	// package outside the standard library counts, third-party modules included.
	Modules []string
}

// Own reports whether fn is in one of m.Modules, or outside the standard library when
// m.Modules is empty. The generated test main is never own code.
func (m Matcher) Own(fn string) bool {
	pkg := Package(fn)
	if pkg == "" || pkg == "main" || strings.HasPrefix(fn, "_testmain") {
		return false
	}
	if len(m.Modules) == 0 {
		return !Std(pkg) && pkg != "command-line-arguments"
	}
	for _, mod := range m.Modules {
		if pkg == mod || strings.HasPrefix(pkg, mod+"/") {
			return true
		}
	}
	return false
}

// Pick returns the index of the first own frame in frames (innermost first), or -1.
func (m Matcher) Pick(n int, function func(i int) string) int {
	for i := range n {
		if m.Own(function(i)) {
			return i
		}
	}
	return -1
}

// Frame is one function at one line of a sampled stack.
type Frame struct {
	Function string `json:"function"`
	File     string `json:"file"`
	Line     int    `json:"line"`
}

// Stack is a sampled stack reduced to what a reader needs: the frame that allocated, the
// program's own frame it is charged to, and the frames that one was inlined into.
type Stack struct {
	// Leaf is the innermost frame outside the allocator's own (runtime.mallocgc and below):
	// strings.genSplit, runtime.growslice, or the program's own line.
	Leaf Frame
	// App is the first own frame from the leaf outwards; the leaf when there is none.
	App Frame
	// InlinedInto are the frames App was inlined into, innermost first: the compiler reports an
	// inlined body's escapes at the call site.
	InlinedInto []Frame
}

// Allocator reports whether fn is the runtime's allocator itself rather than the operation
// that called it: a reader learns nothing from runtime.mallocgc, but runtime.growslice or
// runtime.concatstrings says what allocated.
func Allocator(fn string) bool {
	for _, p := range []string{"runtime.mallocgc", "runtime.profilealloc", "runtime.mProf_", "runtime.(*mcache)",
		"runtime.(*mheap)", "runtime.(*mcentral)", "runtime.largeAlloc", "runtime.nextSample"} {
		if strings.HasPrefix(fn, p) {
			return true
		}
	}
	return false
}

// Located is one frame of a sampled stack and the index of the location (the program counter)
// it was read from: frames of one location were inlined into each other.
type Located struct {
	Frame
	Loc int
}

// PickFrames reduces a sampled stack's frames (innermost first) to a [Stack]. ok is false for a
// stack without a named function. It knows nothing of how the stack was read: the pprof reader
// is [github.com/memdiag/memdiag/internal/appframe/pprofstack], and a reader of
// runtime.MemProfile records gives the frames of runtime.CallersFrames.
func (m Matcher) PickFrames(frames []Located) (s Stack, ok bool) {
	if len(frames) == 0 {
		return s, false
	}
	leaf := 0
	for leaf < len(frames)-1 && Allocator(frames[leaf].Function) {
		leaf++
	}
	app := leaf
	if i := m.Pick(len(frames)-leaf, func(i int) string { return frames[leaf+i].Function }); i >= 0 {
		app = leaf + i
	} else {
		// No own frame: the first frame outside the runtime, as before there was a module.
		for app < len(frames)-1 && Package(frames[app].Function) == "runtime" {
			app++
		}
	}
	s = Stack{Leaf: frames[leaf].Frame, App: frames[app].Frame}
	for i := app + 1; i < len(frames) && frames[i].Loc == frames[app].Loc; i++ {
		s.InlinedInto = append(s.InlinedInto, frames[i].Frame)
	}
	return s, true
}
