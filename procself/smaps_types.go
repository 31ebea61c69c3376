package procself

// Mapping, the value smaps and maps are read into, and its parts (Perms, Dev). VmFlags is in
// vmflags.go.

import "fmt"

// Mapping is one virtual memory area of a process: one header line of /proc/<pid>/maps, plus, when
// read from smaps, the sizes the kernel measured by walking its page tables. Sizes are bytes. The
// kernel computes every size from whole pages and prints kB, so each ...Bytes is a multiple of 1024.
type Mapping struct {
	// Start is the first address of the mapping.
	Start uintptr
	// End is one past the last address; End > Start always (the kernel never shows empty areas).
	End uintptr
	// Perms are the protection bits and whether the mapping is shared (MAP_SHARED) or private
	// (copy on write).
	Perms Perms
	// Offset is the byte offset into the mapped file (or, for anonymous mappings, the page offset the
	// kernel tracks for merging, usually 0 or start/page size).
	Offset uint64
	// Dev is the device of the mapped file; 00:00 for anonymous memory.
	Dev Dev
	// Inode is the mapped file's inode on Dev; 0 for anonymous memory.
	Inode uint64
	// Path is the pathname as the kernel prints it, byte for byte: a file path (with " (deleted)"
	// appended if the file was unlinked, and a newline in the name printed as \012), a pseudo path
	// such as [heap], [stack], [vdso], [vvar], [vsyscall], the name set with
	// prctl(PR_SET_VMA_ANON_NAME) as "[anon:name]" (Go 1.25+ names its mappings "[anon: Go: heap]"
	// and so on when the kernel has CONFIG_ANON_VMA_NAME), "/memfd:name (deleted)", or
	// "/SYSV<key> (deleted)" for System V shared memory. Empty for an unnamed anonymous mapping.
	Path string

	// SizeBytes is the size of the mapping, End-Start.
	SizeBytes uint64
	// KernelPageSizeBytes is the page size the kernel uses to back the mapping (larger than 4 KiB
	// for hugetlbfs mappings).
	KernelPageSizeBytes uint64
	// MMUPageSizeBytes is the page size the MMU uses; it differs from KernelPageSizeBytes only on a
	// few architectures (ppc64 with 64 KiB kernel pages on 4 KiB hardware pages).
	MMUPageSizeBytes uint64
	// RssBytes is the part of the mapping currently resident in RAM.
	RssBytes uint64
	// PssBytes is the proportional set size: each resident page divided by the number of processes
	// mapping it, summed. Summing PssBytes over all processes gives the system's real usage.
	PssBytes uint64
	// PssDirtyBytes is the part of PssBytes made of dirty pages (kernel 6.0+; 0 before).
	PssDirtyBytes uint64
	// PssAnonBytes is the part of PssBytes that is anonymous memory. The kernel prints it only in
	// smaps_rollup, so it is 0 for per-mapping smaps unless a future kernel adds it there.
	PssAnonBytes uint64
	// PssFileBytes is the part of PssBytes that is file-backed page cache (smaps_rollup only, as
	// PssAnonBytes).
	PssFileBytes uint64
	// PssShmemBytes is the part of PssBytes that is shmem/tmpfs (smaps_rollup only, as
	// PssAnonBytes).
	PssShmemBytes uint64
	// SharedCleanBytes is resident memory mapped by other processes too, unmodified since read.
	// "Shared" means the page is mapped more than once, not that the mapping is MAP_SHARED.
	SharedCleanBytes uint64
	// SharedDirtyBytes is resident memory mapped by other processes too and modified.
	SharedDirtyBytes uint64
	// PrivateCleanBytes is resident memory mapped only by this process, unmodified since read.
	PrivateCleanBytes uint64
	// PrivateDirtyBytes is resident memory mapped only by this process and modified; for anonymous
	// memory this is what the process costs the machine.
	PrivateDirtyBytes uint64
	// ReferencedBytes is the memory currently marked referenced or accessed (the accessed bit,
	// reset by writing to /proc/<pid>/clear_refs).
	ReferencedBytes uint64
	// AnonymousBytes is memory that belongs to no file, including private copy-on-write copies of
	// file pages.
	AnonymousBytes uint64
	// KSMBytes is memory deduplicated by kernel samepage merging (kernel 6.6+; excludes the zero
	// page).
	KSMBytes uint64
	// LazyFreeBytes is memory the process released with madvise(MADV_FREE) that the kernel has not
	// reclaimed yet: counted in RssBytes but freed without writeback under memory pressure.
	LazyFreeBytes uint64
	// AnonHugePagesBytes is anonymous memory backed by transparent huge pages.
	AnonHugePagesBytes uint64
	// ShmemPmdMappedBytes is shared memory (shmem/tmpfs) mapped with huge pages.
	ShmemPmdMappedBytes uint64
	// FilePmdMappedBytes is file page cache mapped with huge pages.
	FilePmdMappedBytes uint64
	// SharedHugetlbBytes is hugetlbfs memory mapped by more than one process. hugetlb pages are not
	// counted in RssBytes or PssBytes.
	SharedHugetlbBytes uint64
	// PrivateHugetlbBytes is hugetlbfs memory mapped only by this process.
	PrivateHugetlbBytes uint64
	// SwapBytes is anonymous memory of this mapping that is swapped out (for shmem mappings, also
	// shmem pages swapped out while not mapped).
	SwapBytes uint64
	// SwapPssBytes is the proportional share of SwapBytes, as PssBytes is of RssBytes.
	SwapPssBytes uint64
	// LockedBytes is the part of the mapping locked in RAM (mlock); the kernel reports it as the
	// proportional size of the locked pages.
	LockedBytes uint64
	// THPEligible reports whether the mapping may be backed by transparent huge pages.
	THPEligible bool
	// ProtectionKey is the memory protection key (x86 pkeys, arm64 POE) of the mapping; 0, the
	// default key, when the kernel or CPU does not support keys and prints no ProtectionKey line.
	ProtectionKey int
	// VmFlags are the kernel's flags for the mapping, from the two-letter codes of the VmFlags line.
	VmFlags VmFlags

	// UnknownKeys counts smaps lines with a key this package does not know and VmFlags codes it does
	// not know: a newer kernel's fields. They are skipped, not errors; a non-zero count tells a
	// caller (and our tests) that the kernel prints something this struct does not carry yet.
	UnknownKeys int
}

// Contains reports whether addr lies in the mapping.
func (m *Mapping) Contains(addr uintptr) bool { return m.Start <= addr && addr < m.End }

// Perms are the permission column of a maps line: "rwxp" or "r--s". A small bit set rather than the
// string so that a Mapping holds no pointer besides Path.
type Perms uint8

const (
	PermRead    Perms = 1 << iota // r: readable
	PermWrite                     // w: writable
	PermExecute                   // x: executable
	PermShared                    // s: shared (VM_MAYSHARE); p (private, copy on write) when absent
)

// Readable reports the r bit.
func (p Perms) Readable() bool { return p&PermRead != 0 }

// Writable reports the w bit.
func (p Perms) Writable() bool { return p&PermWrite != 0 }

// Executable reports the x bit.
func (p Perms) Executable() bool { return p&PermExecute != 0 }

// Shared reports a MAP_SHARED mapping: writes reach the file or the other processes mapping it.
func (p Perms) Shared() bool { return p&PermShared != 0 }

// Private reports a MAP_PRIVATE (copy-on-write) mapping; the kernel prints exactly one of s and p.
func (p Perms) Private() bool { return p&PermShared == 0 }

// String formats the permissions as the kernel does, e.g. "r-xp".
func (p Perms) String() string {
	b := [4]byte{'-', '-', '-', 'p'}
	if p.Readable() {
		b[0] = 'r'
	}
	if p.Writable() {
		b[1] = 'w'
	}
	if p.Executable() {
		b[2] = 'x'
	}
	if p.Shared() {
		b[3] = 's'
	}
	return string(b[:])
}

// Dev is a device number as maps prints it, major:minor in hex.
type Dev struct {
	Major uint32
	Minor uint32
}

// String formats the device as the kernel does, e.g. "fe:01".
func (d Dev) String() string { return fmt.Sprintf("%02x:%02x", d.Major, d.Minor) }
