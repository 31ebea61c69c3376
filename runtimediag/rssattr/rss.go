package rssattr

import (
	"errors"
	"time"
)

// The RSS categories. Every resident byte of the process is in exactly one of them or in the
// unexplained remainder. The names are the report's JSON contract (docs/rss-categories.md says
// what each one is, how it is measured and what to do about it).
const (
	CategoryGoHeapObjects   = "go_heap_objects"
	CategoryGoHeapUnused    = "go_heap_unused"
	CategoryGoHeapFree      = "go_heap_free"
	CategoryGoStacks        = "go_stacks"
	CategoryGoRuntime       = "go_runtime"
	CategoryThreadStacks    = "thread_stacks"
	CategoryCHeap           = "c_heap"
	CategoryBinary          = "binary"
	CategorySharedLibraries = "shared_libraries"
	CategoryFileMappings    = "file_mappings"
	CategorySharedMemory    = "shared_memory"
	CategoryOtherAnonymous  = "other_anonymous"
	CategoryKernel          = "kernel"
)

// categoryNames is the order categories appear in a report: Go-managed first.
var categoryNames = [NumCategories]string{
	CategoryGoHeapObjects, CategoryGoHeapUnused, CategoryGoHeapFree, CategoryGoStacks, CategoryGoRuntime,
	CategoryThreadStacks, CategoryCHeap, CategoryBinary, CategorySharedLibraries, CategoryFileMappings,
	CategorySharedMemory, CategoryOtherAnonymous, CategoryKernel,
}

// NumCategories is how many categories there are.
const NumCategories = 13

// CategoryNames lists every category name in report order.
func CategoryNames() []string { return append([]string(nil), categoryNames[:]...) }

// How a category's bytes were measured.
const (
	// MethodSmaps: the sum of the resident sizes smaps gives for the mappings of that class.
	MethodSmaps = "smaps"
	// MethodRuntimeShare: resident bytes measured with smaps for a group of mappings (the Go heap
	// arenas, or the anonymous mappings Go's runtime shares with other code) and divided among
	// categories in the proportions runtime/metrics gives.
	MethodRuntimeShare = "runtime/metrics share"
	// MethodEstimate: the cheap tier's figure from statm and runtime/metrics plus the last full
	// classification, whose age the report gives.
	MethodEstimate = "estimate"
	// MethodNotMeasured: nothing measured this category (no full classification yet, say); its
	// bytes are 0 in Go and null in JSON, and whatever it holds is in the unexplained remainder.
	MethodNotMeasured = "not measured"
)

// Tiers of an RSS attribution.
const (
	TierFull  = "full"
	TierCheap = "cheap"
)

// ErrNoMappingSizes is returned by [Attributor.Measure] when the reading has no per-mapping sizes:
// smaps was not asked for or could not be read (off Linux it wraps [errors.ErrUnsupported]).
var ErrNoMappingSizes = errors.New("runtimediag: snapshot has no per-mapping smaps sizes")

// RSS is where the process's resident memory is: categories that, with UnexplainedBytes, sum
// exactly to ResidentBytes. It is the report's "rss" value.
type RSS struct {
	// Tier is "full" (measured from per-mapping smaps) or "cheap" (estimated from statm and
	// runtime/metrics plus the last full classification).
	Tier string `json:"tier"`
	// Time is when the snapshot the attribution was computed from was read.
	Time time.Time `json:"time"`
	// ResidentBytes is the process's resident set as statm gives it (what the OOM killer and
	// dashboards call RSS); the sum of smaps' Rss when statm was not read; 0 when neither was
	// read (JSON null; see ResidentKnown).
	ResidentBytes uint64 `json:"resident_bytes"`
	// UnexplainedBytes is ResidentBytes minus the sum of the categories. In the full tier it is what
	// statm counts and no mapping of smaps holds (the two are read moments apart, and since Linux
	// 6.2 statm's counters are per-CPU approximations); in the cheap tier it also holds whatever
	// changed outside the Go heap since the last full classification. Negative when the categories
	// measured more than statm. 0 (JSON null) when ResidentBytes is unknown.
	UnexplainedBytes int64 `json:"unexplained_bytes"`
	// Categories are every category in report order, zero ones included.
	Categories []RSSCategory `json:"categories"`

	// GoManagedBytes is the part the Go runtime manages: the go_* categories.
	GoManagedBytes uint64 `json:"go_managed_bytes"`
	// NonGoBytes is the sum of the other categories (unexplained excluded).
	NonGoBytes uint64 `json:"non_go_bytes"`
	// LargestCategory names the category holding the most bytes.
	LargestCategory string `json:"largest_category"`
	// LazyFreeBytes is memory released with MADV_FREE that the kernel has not reclaimed yet: it is
	// counted in ResidentBytes but is not live data and goes away under memory pressure. The part
	// in the Go heap arenas is in go_heap_free.
	LazyFreeBytes uint64 `json:"lazy_free_bytes"`
	// SwapBytes is anonymous memory swapped out (not resident, not in any category).
	SwapBytes uint64 `json:"swap_bytes"`
	// AnonHugePagesBytes is resident anonymous memory backed by transparent huge pages.
	AnonHugePagesBytes uint64 `json:"anon_huge_pages_bytes"`
	// ScavengedWhileReadBytes is how much the heap's released bytes grew while smaps was read (the
	// scavenger returned free pages as the report read them; negative when the heap took released
	// pages back); absent when they did not change or were not read again. The Go categories then
	// take the arenas' shortfall from go_heap_free, and a note says so.
	ScavengedWhileReadBytes int64 `json:"scavenged_while_read_bytes,omitempty"`

	// Arenas are the Go heap's address ranges found (full tier).
	Arenas []AddressRange `json:"arenas,omitempty"`
	// ArenaCheck is the self-check of the arenas found against runtime/metrics (full tier).
	ArenaCheck *ArenaCheck `json:"arena_check,omitempty"`
	// ClassifiedAt is the time of the full classification the cheap tier builds on; zero when there
	// has been none.
	ClassifiedAt time.Time `json:"classified_at,omitzero"`
	// ClassificationAgeSeconds is how old that classification was when this estimate was made.
	ClassificationAgeSeconds float64 `json:"classification_age_seconds,omitempty"`
	// Mappings is the per-mapping table of the full tier, in address order.
	Mappings []ClassifiedMapping `json:"mappings,omitempty"`
	// Notes say in plain words what limits this attribution (a reconciliation, a failed check).
	Notes []string `json:"notes,omitempty"`
}

// RSSCategory is one category's resident bytes and how they were measured.
type RSSCategory struct {
	Name   string `json:"name"`
	Bytes  uint64 `json:"bytes"`
	Method string `json:"method"`
}

// Category returns the bytes of the named category (0 for an unknown name).
func (r *RSS) Category(name string) uint64 {
	for _, c := range r.Categories {
		if c.Name == name {
			return c.Bytes
		}
	}
	return 0
}

// AddressRange is a half-open range of addresses.
type AddressRange struct {
	Start uintptr `json:"start"`
	End   uintptr `json:"end"`
}

// ArenaCheck compares the committed size of the Go heap arenas found with what runtime/metrics
// says the heap has mapped: objects + unused + free + stacks + released, plus GC work buffers
// (32 KiB spans carved from the heap but counted by runtime/metrics as metadata). A shortfall means
// an arena was missed.
type ArenaCheck struct {
	OK bool `json:"ok"`
	// CommittedBytes is the size of the read-write mappings of the arenas found.
	CommittedBytes uint64 `json:"committed_bytes"`
	// ExpectedBytes is objects + unused + free + stacks + released from runtime/metrics.
	ExpectedBytes uint64 `json:"expected_bytes"`
	// DifferenceBytes is CommittedBytes - ExpectedBytes.
	DifferenceBytes int64 `json:"difference_bytes"`
	// WorkBufBytes is the difference explained as GC work buffers (a whole number of 32 KiB spans,
	// no more than runtime/metrics' other metadata); 0 when the check failed.
	WorkBufBytes uint64 `json:"work_buf_bytes"`
	// Probes is how many probe objects were located; Attempts how many times the arenas were
	// looked for (a failed check probes again with fresh objects).
	Probes   int `json:"probes"`
	Attempts int `json:"attempts"`
	// NamedByKernel reports that the kernel shows Go's mapping names ([anon: Go: heap]), and
	// ProbesAgree that every probe lies in a mapping so named.
	NamedByKernel bool `json:"named_by_kernel"`
	ProbesAgree   bool `json:"probes_agree"`
	// Message says why the check failed, in plain words.
	Message string `json:"message,omitempty"`
}

// ClassifiedMapping is one row of the per-mapping table, like the JVM's System.map: where a
// mapping is, how big, how much of it is resident, and whose it is.
type ClassifiedMapping struct {
	Start         uintptr `json:"start"`
	End           uintptr `json:"end"`
	Perms         string  `json:"perms"`
	SizeBytes     uint64  `json:"size_bytes"`
	RssBytes      uint64  `json:"rss_bytes"`
	LazyFreeBytes uint64  `json:"lazy_free_bytes,omitempty"`
	SwapBytes     uint64  `json:"swap_bytes,omitempty"`
	// Class is the mapping's class (see [MappingClass]).
	Class MappingClass `json:"class"`
	// Name is the mapping's path, or for an anonymous mapping what the classifier recognised it
	// as, in parentheses: "(go arena)", "(pthread stack)", "(glibc arena)", "(malloc mmap)".
	Name string `json:"name"`
}

// MappingClass is what a mapping holds. Most classes are one category; go_heap mappings are
// divided among the go_heap_* and go_stacks categories by runtime/metrics, and anonymous ones
// between go_runtime and other_anonymous.
type MappingClass string

const (
	ClassGoHeap         MappingClass = "go_heap"
	ClassGoRuntime      MappingClass = "go_runtime"
	ClassThreadStack    MappingClass = "thread_stack"
	ClassCHeap          MappingClass = "c_heap"
	ClassBinary         MappingClass = "binary"
	ClassSharedLibrary  MappingClass = "shared_library"
	ClassFileMapping    MappingClass = "file_mapping"
	ClassSharedMemory   MappingClass = "shared_memory"
	ClassKernel         MappingClass = "kernel"
	ClassAnonymous      MappingClass = "anonymous"
	ClassOtherAnonymous MappingClass = "other_anonymous"
)

// Category is the RSS category a class of mapping counts in; unnamed anonymous mappings
// are shared between go_runtime and other_anonymous, and are tracked as other_anonymous, the part
// that is not Go's. "" for go_heap, which the go_heap_* categories share.
func (c MappingClass) Category() string {
	switch c {
	case ClassGoRuntime:
		return CategoryGoRuntime
	case ClassThreadStack:
		return CategoryThreadStacks
	case ClassCHeap:
		return CategoryCHeap
	case ClassBinary:
		return CategoryBinary
	case ClassSharedLibrary:
		return CategorySharedLibraries
	case ClassFileMapping:
		return CategoryFileMappings
	case ClassSharedMemory:
		return CategorySharedMemory
	case ClassAnonymous, ClassOtherAnonymous:
		return CategoryOtherAnonymous
	case ClassKernel:
		return CategoryKernel
	}
	return ""
}
