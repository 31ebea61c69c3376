package rssattr

import (
	"time"

	"github.com/memdiag/memdiag/procself"
)

// Reading is what the attribution reads of one moment of a process: statm, runtime/metrics and,
// for [Attributor.Measure], the mappings with their smaps sizes. The cheap tier
// ([Attributor.Estimate]) reads only Time, ResidentBytes, SharedBytes and Runtime.
type Reading struct {
	// Time is when the reading was taken; the attribution's Time.
	Time time.Time
	// StatmRead says statm was read; ResidentBytes and SharedBytes are its resident and shared
	// sizes.
	StatmRead     bool
	ResidentBytes uint64
	SharedBytes   uint64
	// Runtime is what runtime/metrics said of the Go heap and the runtime's other memory.
	Runtime Runtime

	// Exe is the executable's path ("" to take the first file mapping that is not a shared
	// library).
	Exe string
	// Mappings are the process's mappings in address order; MappingsHaveSizes says they came from
	// smaps (resident sizes known), and SmapsErr, when they did not, why smaps was not read.
	Mappings          []procself.Mapping
	MappingsHaveSizes bool
	SmapsErr          error
	// HeapAfterMappings is the heap's released bytes read again right after smaps: when they
	// differ from Runtime's, the scavenger returned free pages while the mappings were read.
	HeapAfterMappings HeapRecheck
}

// Runtime is the part of runtime/metrics the attribution divides resident memory by, in bytes.
type Runtime struct {
	// The Go heap's classes: /memory/classes/heap/{objects,unused,free,stacks,released}.
	HeapObjectsBytes  uint64
	HeapUnusedBytes   uint64
	HeapFreeBytes     uint64
	HeapStacksBytes   uint64
	HeapReleasedBytes uint64
	// GoRuntimeBytes is the runtime's off-heap memory: metadata, OS stacks, profiling buckets,
	// other.
	GoRuntimeBytes uint64
	// OSStacksBytes is /memory/classes/os-stacks; MetadataOtherBytes /memory/classes/metadata/other.
	OSStacksBytes      uint64
	MetadataOtherBytes uint64
}

// goHeapMappedBytes is the heap's committed, not released, memory: objects + unused + free + stacks.
func (r *Runtime) goHeapMappedBytes() uint64 {
	return r.HeapObjectsBytes + r.HeapUnusedBytes + r.HeapFreeBytes + r.HeapStacksBytes
}

// HeapRecheck is a second reading of the heap's free and released bytes.
type HeapRecheck struct {
	Read          bool // false when smaps or runtime/metrics was not read
	FreeBytes     uint64
	ReleasedBytes uint64
}
