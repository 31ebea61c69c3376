package procself

// This file reads /proc/<pid>/smaps (every mapping with its page-level sizes) and /proc/<pid>/maps
// (the same header lines without sizes: the cheap fallback when smaps is denied or too slow).
//
// Why maps is parsed here rather than with procfs's ProcMaps, against the "procfs where it has the
// file" rule: smaps needs a header-line parser anyway (procfs's ProcSMaps gives only sums), and
// procfs's parser loses information we need. It rebuilds the pathname with
// strings.Join(strings.Fields(line)[5:], " "), so a path with two consecutive spaces or a trailing
// space comes back altered (a renamed-but-mapped file, memfd names and [anon:...] names are
// user-chosen and may contain either); its errors carry no line number; it allocates three times per
// line (the line string, *ProcMap, *ProcMapPermissions) plus the Fields slice; its file does not build
// for windows. Our header parser keeps the pathname byte-exact (including " (deleted)"), keeps the
// device as major:minor, and is one parser for both files.
//
// Format (fs/proc/task_mmu.c, show_vma_header_prefix and show_map_vma): a header line
//
//	start-end perms offset major:minor inode [padding] [pathname]
//
// where addresses, offset and device numbers are lowercase hex and inode is decimal; anonymous
// mappings without a name end with "inode " (a trailing space). In smaps each header is followed by
// "Key:   value kB" lines, then "THPeligible:", optionally "ProtectionKey:", and "VmFlags:" last.
// Keys start with an uppercase letter, headers with a lowercase hex digit: one byte tells them apart.

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"time"
)

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

// VmFlags is the set of the kernel's per-mapping flags printed on smaps' VmFlags line. A bit set rather
// than []string: it costs no allocation per mapping (the parser's budget is one, the Path), compares
// with ==, and tests a flag with one AND. The bit positions are this package's own, not the kernel's
// VM_* bits, which differ between kernel versions and architectures. Codes this package does not
// know are counted in [Mapping.UnknownKeys].
type VmFlags uint64

// The kernel's two-letter VmFlags codes (Documentation/filesystems/proc.rst), in the kernel's order.
const (
	VmRead         VmFlags = 1 << iota // rd: readable
	VmWrite                            // wr: writable
	VmExec                             // ex: executable
	VmShared                           // sh: shared
	VmMayRead                          // mr: may be made readable with mprotect
	VmMayWrite                         // mw: may be made writable
	VmMayExec                          // me: may be made executable
	VmMayShare                         // ms: may share
	VmGrowsDown                        // gd: stack segment that grows down
	VmPFNMap                           // pf: pure PFN range (no struct page behind it)
	VmDenyWrite                        // dw: writes to the mapped file are denied (pre-5.x kernels)
	VmLocked                           // lo: pages are locked in memory
	VmIO                               // io: memory-mapped I/O area
	VmSeqRead                          // sr: sequential read advice given (MADV_SEQUENTIAL)
	VmRandRead                         // rr: random read advice given (MADV_RANDOM)
	VmDontCopy                         // dc: not copied on fork (MADV_DONTFORK)
	VmDontExpand                       // de: cannot be expanded by mremap
	VmAccount                          // ac: accounted against the overcommit limit
	VmNoReserve                        // nr: swap space is not reserved (MAP_NORESERVE)
	VmHugeTLB                          // ht: hugetlbfs pages
	VmSync                             // sf: synchronous page faults (MAP_SYNC, DAX)
	VmNonLinear                        // nl: non-linear mapping (removed in 4.0)
	VmArch1                            // ar: architecture-specific flag
	VmWipeOnFork                       // wf: zeroed in the child on fork (MADV_WIPEONFORK)
	VmDontDump                         // dd: not included in core dumps (MADV_DONTDUMP)
	VmSoftDirty                        // sd: soft-dirty bit set
	VmMixedMap                         // mm: mixed map (struct page and pure PFN pages)
	VmHugePage                         // hg: MADV_HUGEPAGE advice given
	VmNoHugePage                       // nh: MADV_NOHUGEPAGE advice given
	VmMergeable                        // mg: KSM may merge it (MADV_MERGEABLE)
	VmBTI                              // bt: arm64 branch target identification guarded
	VmMTE                              // mt: arm64 memory tagging enabled
	VmUffdMissing                      // um: userfaultfd missing-page tracking
	VmUffdWP                           // uw: userfaultfd write-protect tracking
	VmUffdMinor                        // ui: userfaultfd minor-fault tracking
	VmShadowStack                      // ss: shadow stack (x86 CET) or guarded control stack
	VmSealed                           // sl: sealed with mseal
	VmLockOnFault                      // lf: pages locked as they fault in (MLOCK_ONFAULT)
	VmDroppable                        // dp: always lazily freeable (MAP_DROPPABLE)
	VmGuardRegions                     // gu: may contain guard regions (MADV_GUARD_INSTALL)
	vmFlagsEnd
)

// vmFlagCodes is indexed by bit number.
const vmFlagCodes = "rdwrexshmrmwmemsgdpfdwloiosrrrdcdeacnrhtsfnlarwfddsdmmhgnhmgbtmtumuwuisssllfdpgu"

// String formats the flags as the kernel does, e.g. "rd wr mr mw me ac".
func (f VmFlags) String() string {
	var sb strings.Builder
	for i := 0; i < len(vmFlagCodes)/2; i++ {
		if f&(1<<i) != 0 {
			if sb.Len() > 0 {
				sb.WriteByte(' ')
			}
			sb.WriteString(vmFlagCodes[2*i : 2*i+2])
		}
	}
	return sb.String()
}

// vmFlag returns the flag of a two-letter code, or 0 for a code this package does not know.
func vmFlag(code []byte) VmFlags {
	if len(code) != 2 {
		return 0
	}
	return vmFlag2(code[0], code[1])
}

// vmFlag2 is vmFlag of the code c0 c1: a table lookup on the letters' low five bits, confirmed
// against vmFlagCodes since other bytes share those bits. A mapping has a dozen codes, so a
// linear scan of the 40 was a tenth of the parse.
func vmFlag2(c0, c1 byte) VmFlags {
	i := int(vmFlagIndex[int(c0&31)<<5|int(c1&31)]) - 1
	if i < 0 || vmFlagCodes[2*i] != c0 || vmFlagCodes[2*i+1] != c1 {
		return 0
	}
	return 1 << i
}

// vmFlagIndex maps a code's letters, five bits each, to its bit number plus one (0: no code).
// Read-only.
var vmFlagIndex = func() (t [32 * 32]uint8) {
	for i := 0; i < len(vmFlagCodes)/2; i++ {
		t[int(vmFlagCodes[2*i]&31)<<5|int(vmFlagCodes[2*i+1]&31)] = uint8(i + 1)
	}
	return t
}()

// Smaps reads /proc/<pid>/smaps: every mapping with its sizes. Reading it makes the kernel walk the
// page tables of the whole address space with the mmap lock held, so it costs milliseconds per
// hundred MiB resident (see the package's Overhead notes); read it on demand, not on every tick.
// A kernel thread has an empty smaps: no mappings, no error. To read it repeatedly without
// allocating a new buffer each time, use [FS.NewSmapsReader].
func (fs FS) Smaps() ([]Mapping, error) { return fs.NewSmapsReader().Read(nil) }

// Maps reads /proc/<pid>/maps: every mapping without sizes. It does not walk page tables, so it is
// much cheaper than [FS.Smaps] and is the fallback when smaps is denied.
func (fs FS) Maps() ([]Mapping, error) {
	path := fs.ProcPath("maps")
	b, err := fs.readFile(path)
	if err != nil {
		return nil, err
	}
	ms, err := parseMaps(b)
	return ms, withFile(err, path)
}

// MappingsReader reads /proc/<pid>/smaps or /proc/<pid>/maps again and again, keeping the buffer
// it reads the file into, so that a periodic full snapshot does not turn megabytes of file into
// garbage each time (smaps of 10,000 mappings is about 7 MB). It holds no open file: each Read opens,
// reads and closes the file, so nothing needs closing. A MappingsReader is not safe for concurrent
// use; give each goroutine its own, or guard it.
type MappingsReader struct {
	path      string
	withSizes bool
	buf       []byte // the last file read; kept for the next Read unless larger than maxRetainedBytes
	stats     MappingsReadStats
}

// MappingsReadStats splits the cost of the last [MappingsReader.Read] between the kernel and this
// package, measured with two clock reads per Read.
type MappingsReadStats struct {
	// Bytes is the size of the file read.
	Bytes int
	// Syscalls is the number of read calls it took; see smapsReadChunk for their size.
	Syscalls int
	// ReadTime is the time to open, read and close the file: for smaps, the kernel's page-table
	// walk and formatting, which grow with resident memory and the number of mappings.
	ReadTime time.Duration
	// ParseTime is the time this package spent parsing the bytes into mappings.
	ParseTime time.Duration
}

// smapsReaderInitialBytes fits smaps of ~90 mappings, a small Go program's, in one buffer.
const smapsReaderInitialBytes = 64 << 10

// smapsReadChunk caps each read call. The kernel's seq_file (seq_read_iter) fills a page-sized
// buffer with records while the caller asks for more than it holds; a record that does not fit is
// printed, thrown away and printed again by the next call. For smaps, printing a record is the
// walk of that mapping's page tables, so reads of a page or more walk one mapping twice per call:
// a 1 GiB resident mapping took 8 ms to read instead of 4 (measured, Linux 6.18). Asking for at
// most 2 KiB leaves room in the page for any record up to 2 KiB (a typical one is 700 bytes), so
// none is thrown away; the extra read calls cost less than the walks they save (10,000 mappings:
// 3,500 calls instead of 2,000, no slower).
const smapsReadChunk = 2 << 10

// maxRetainedBytes bounds the buffer a MappingsReader keeps between reads (smaps of ~90,000
// mappings); a larger file is read into a buffer that is dropped afterwards, so that one
// pathological moment does not pin its size for the life of the reader.
const maxRetainedBytes = 64 << 20

// NewSmapsReader returns a reader of /proc/<pid>/smaps that reuses its buffer between reads.
func (fs FS) NewSmapsReader() *MappingsReader {
	return &MappingsReader{path: fs.ProcPath("smaps"), withSizes: true}
}

// NewMapsReader returns a reader of /proc/<pid>/maps that reuses its buffer between reads.
func (fs FS) NewMapsReader() *MappingsReader {
	return &MappingsReader{path: fs.ProcPath("maps")}
}

// Read reads the file again and parses it into dst[:0], reusing dst's capacity when it is enough
// (as [runtime/metrics.Read] fills the caller's slice), and returns the mappings. The result
// aliases dst: mappings a caller kept from an earlier Read with the same dst are overwritten, so
// pass nil to get a slice of one's own. Pathnames are new strings, never views of the reader's
// buffer. A value that cannot be parsed is that field's error: the mappings come back with it
// zero, and the error is a *FieldErrors naming the key, its line and the mapping. On any other
// error it returns nil and the error, and dst's contents are undefined.
func (r *MappingsReader) Read(dst []Mapping) ([]Mapping, error) {
	if r.buf == nil {
		r.buf = make([]byte, 0, smapsReaderInitialBytes)
	}
	t0 := time.Now()
	b, reads, err := readFileInto(r.path, r.buf, smapsReadChunk)
	t1 := time.Now()
	r.stats = MappingsReadStats{Bytes: len(b), Syscalls: reads, ReadTime: t1.Sub(t0)}
	if err != nil {
		return nil, err
	}
	if cap(b) <= maxRetainedBytes {
		r.buf = b[:0]
	} else {
		r.buf = nil
	}
	ms, err := parseMappingsInto(dst, b, r.withSizes, true)
	r.stats.ParseTime = time.Since(t1)
	return ms, withFile(err, r.path)
}

// Stats is what the last Read cost; zero before the first.
func (r *MappingsReader) Stats() MappingsReadStats { return r.stats }

// parseSmaps parses the contents of an smaps file.
func parseSmaps(b []byte) ([]Mapping, error) { return parseMappingsInto(nil, b, true, true) }

// parseMaps parses the contents of a maps file.
func parseMaps(b []byte) ([]Mapping, error) { return parseMappingsInto(nil, b, false, true) }

// The kernel prints every smaps size line as SEQ_PUT_DEC does (fs/proc/task_mmu.c): the key and
// its colon padded with spaces to a 16-byte column, the value in kB right-aligned in 8 columns
// (seq_put_decimal_ull_width), then " kB\n"; THPeligible and ProtectionKey are "%8u\n" after the
// same column. So while values stay below 10^8 kB (95 GiB) a line of the expected key is a known
// 28 (or 25) bytes, checked with three word compares and read without looking for ':' or '\n'.
const (
	keyColumnLen  = 16
	sizeLineLen   = keyColumnLen + 8 + len(" kB\n")
	numberLineLen = keyColumnLen + 8 + len("\n")
	kBNewline     = uint32(' ') | uint32('k')<<8 | uint32('B')<<16 | uint32('\n')<<24
	paddedZero    = 0x3020202020202020 // "       0" loaded little-endian
	vmFlagsKey    = uint64('V') | uint64('m')<<8 | uint64('F')<<16 | uint64('l')<<24 |
		uint64('a')<<32 | uint64('g')<<40 | uint64('s')<<48 | uint64(':')<<56
	fLastFixedLine = int(fProtectionKey) // kinds up to here can take the fixed-width path
)

// keyColumns holds, for each key up to fLastFixedLine, its 16-byte column as two little-endian
// words. Computed once from smapsKeys so the two cannot drift; read-only.
var keyColumns = func() (cols [fLastFixedLine + 1][2]uint64) {
	for i := range cols {
		col := []byte(smapsKeys[i].name + ":                ")[:keyColumnLen]
		cols[i] = [2]uint64{binary.LittleEndian.Uint64(col), binary.LittleEndian.Uint64(col[8:])}
	}
	return cols
}()

// parseMappingsInto parses maps (withSizes false: header lines only) or smaps (header lines each
// followed by at least one key line) into dst[:0] and returns it. It scans the bytes in place; the
// only allocations are the result slice (when dst is too small) and one string per distinct
// pathname. With fast set, key lines the kernel printed at their fixed width are read by position
// (see keyColumns); every other line takes the general path, which alone decides what is an error.
// The result does not depend on fast, which exists so that tests can compare the two paths.
func parseMappingsInto(dst []Mapping, b []byte, withSizes, fast bool) ([]Mapping, error) {
	if len(b) == 0 {
		return dst[:0], nil
	}
	ms := dst[:0]
	if n := estimateMappings(b, withSizes); cap(ms) < n {
		ms = make([]Mapping, 0, n)
	}
	fast = fast && withSizes
	var (
		paths      pathCache
		cur        *Mapping // the mapping key lines apply to
		curLine    int      // its header's line number
		curHasKeys bool
		sizes      [fLastKB + 1]uint64 // cur's "kB" fields, stored into it when it is complete
		prev       = -1                // smapsKeys index of cur's last known key line; -1 after the header
		// follow[prev+1] is the key expected after prev: the one that followed it last time. Every
		// entry of one kernel prints the same keys in the same order, so after the first entry the
		// guess is always right, whichever keys this kernel skips or adds.
		follow [len(smapsKeys) + 1]int8
		bad    fieldErrs
		// vmFlagsLast is set once a mapping ended with VmFlags, which every kernel since 3.8 prints
		// last: then a last mapping without it was cut short, and its missing fields would read
		// as zeros.
		vmFlagsLast bool
	)
	for i := range follow {
		follow[i] = int8(i)
	}
	lineNo := 0
	for len(b) > 0 {
		if fast && cur != nil {
			// The lines of the keys expected next, at the kernel's fixed width.
			for len(b) >= sizeLineLen {
				k := int(follow[prev+1])
				if k > fLastFixedLine {
					break
				}
				col := &keyColumns[k]
				if binary.LittleEndian.Uint64(b) != col[0] || binary.LittleEndian.Uint64(b[8:]) != col[1] {
					break
				}
				var v uint64 // most sizes of most mappings are 0
				if x := binary.LittleEndian.Uint64(b[keyColumnLen:]); x != paddedZero {
					var ok bool
					if v, ok = rightAligned8(x); !ok {
						break
					}
				}
				if k <= int(fLastKB) {
					if binary.LittleEndian.Uint32(b[keyColumnLen+8:]) != kBNewline {
						break
					}
					sizes[k] = v << 10
					b = b[sizeLineLen:]
				} else {
					if b[numberLineLen-1] != '\n' {
						break
					}
					if k == int(fTHPEligible) {
						cur.THPEligible = v != 0
					} else {
						cur.ProtectionKey = int(v) // < 10^8: in range
					}
					b = b[numberLineLen:]
				}
				lineNo++
				prev, curHasKeys = k, true
			}
			// "VmFlags:", then " xx" per flag, a space and a newline. Only known codes are taken
			// here, so that an unknown one is counted by the general path alone.
			if int(follow[prev+1]) == int(fVmFlags) && len(b) > 9 &&
				binary.LittleEndian.Uint64(b) == vmFlagsKey && b[8] == ' ' {
				var flags VmFlags
				p := 9
				for p+2 < len(b) && b[p] != '\n' && b[p+2] == ' ' {
					f := vmFlag2(b[p], b[p+1])
					if f == 0 {
						break
					}
					flags |= f
					p += 3
				}
				if p < len(b) && b[p] == '\n' {
					cur.VmFlags |= flags
					b = b[p+1:]
					lineNo++
					prev, curHasKeys = int(fVmFlags), true
					continue
				}
			}
			if len(b) == 0 {
				break
			}
		}
		lineNo++
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil // a last line without a newline is accepted if it parses
		}
		if len(line) > 0 && isHeaderStart(line[0]) {
			if cur != nil && prev == int(fVmFlags) {
				vmFlagsLast = true
			}
			if withSizes && cur != nil && !curHasKeys {
				return nil, &ParseError{Line: curLine, Msg: "mapping has no smaps fields (a maps file, or truncated)"}
			}
			if cur != nil {
				cur.setSizes(&sizes)
				sizes = [fLastKB + 1]uint64{}
			}
			ms = append(ms, Mapping{})
			cur, curLine, curHasKeys, prev = &ms[len(ms)-1], lineNo, false, -1
			path, msg := parseHeader(line, cur)
			if msg != "" {
				return nil, &ParseError{Line: lineNo, Msg: fmt.Sprintf("%s: %q", msg, errorText(line))}
			}
			cur.Path = paths.intern(path)
			continue
		}
		if !withSizes {
			return nil, &ParseError{Line: lineNo, Msg: fmt.Sprintf("not a mapping line: %q", errorText(line))}
		}
		if cur == nil {
			return nil, &ParseError{Line: lineNo, Msg: fmt.Sprintf("field before any mapping header: %q", errorText(line))}
		}
		k, msg := parseField(line, cur, &sizes, int(follow[prev+1]))
		if msg != "" && k < 0 {
			return nil, &ParseError{Line: lineNo, Msg: fmt.Sprintf("%s: %q", msg, errorText(line))}
		}
		if msg != "" {
			// A value that cannot be read is that field's error for this mapping (left zero);
			// the mapping and the rest of the file are kept.
			bad.add(lineNo, smapsKeys[k].name, fmt.Sprintf("mapping %x-%x: %s: %q", cur.Start, cur.End, msg, errorText(line)))
		}
		if k >= 0 {
			follow[prev+1], prev = int8(k), k
		}
		curHasKeys = true
	}
	if withSizes && cur != nil && !curHasKeys {
		return nil, &ParseError{Line: curLine, Msg: "mapping has no smaps fields (a maps file, or truncated)"}
	}
	if withSizes && vmFlagsLast && prev != int(fVmFlags) {
		return nil, &ParseError{Line: lineNo, Msg: "truncated: the last mapping has no VmFlags line"}
	}
	if cur != nil {
		cur.setSizes(&sizes)
	}
	return ms, bad.err()
}

// rightAligned8 reads eight bytes, loaded little-endian (first byte lowest), as the kernel's
// "%8u": spaces, then at least one decimal digit up to the last byte. It checks and converts all
// eight bytes at once, without a branch per byte.
func rightAligned8(x uint64) (uint64, bool) {
	const ones = 0x0101010101010101
	// Bits taken by leading spaces; the top bit set caps it at 56, so eight spaces leave the last
	// one a space, which the digit check rejects.
	pad := bits.TrailingZeros64(x^0x20*ones|1<<63) &^ 7
	y := x | 0x10*ones&(1<<pad-1) // the spaces become '0'
	// Every byte a digit (simdjson's is_made_of_eight_digits_fast): high nibble 3, and no carry out
	// of the low nibble when 6 is added.
	if y&(0xf0*ones)|(y+0x06*ones)&(0xf0*ones)>>4 != 0x33*ones {
		return 0, false
	}
	// Combine neighbouring digits into two-digit, then eight-digit numbers (first byte most
	// significant).
	d := y - 0x30*ones
	d = d*10 + d>>8
	d = ((d&0x000000ff000000ff)*(100+1000000<<32) + (d>>16&0x000000ff000000ff)*(1+10000<<32)) >> 32
	return d, true
}

// setSizes stores the "kB" fields of one entry, indexed by fieldKind.
func (m *Mapping) setSizes(s *[fLastKB + 1]uint64) {
	m.SizeBytes = s[fSize]
	m.KernelPageSizeBytes = s[fKernelPageSize]
	m.MMUPageSizeBytes = s[fMMUPageSize]
	m.RssBytes = s[fRss]
	m.PssBytes = s[fPss]
	m.PssDirtyBytes = s[fPssDirty]
	m.PssAnonBytes = s[fPssAnon]
	m.PssFileBytes = s[fPssFile]
	m.PssShmemBytes = s[fPssShmem]
	m.SharedCleanBytes = s[fSharedClean]
	m.SharedDirtyBytes = s[fSharedDirty]
	m.PrivateCleanBytes = s[fPrivateClean]
	m.PrivateDirtyBytes = s[fPrivateDirty]
	m.ReferencedBytes = s[fReferenced]
	m.AnonymousBytes = s[fAnonymous]
	m.KSMBytes = s[fKSM]
	m.LazyFreeBytes = s[fLazyFree]
	m.AnonHugePagesBytes = s[fAnonHugePages]
	m.ShmemPmdMappedBytes = s[fShmemPmdMapped]
	m.FilePmdMappedBytes = s[fFilePmdMapped]
	m.SharedHugetlbBytes = s[fSharedHugetlb]
	m.PrivateHugetlbBytes = s[fPrivateHugetlb]
	m.SwapBytes = s[fSwap]
	m.SwapPssBytes = s[fSwapPss]
	m.LockedBytes = s[fLocked]
}

// isHeaderStart reports whether a line starting with c is a mapping header: addresses are printed in
// lowercase hex, and smaps keys start with an uppercase letter.
func isHeaderStart(c byte) bool { return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' }

// estimateMappings sizes the result slice so that appending never reallocates (a Mapping is ~300
// bytes; regrowing 10,000 of them would copy megabytes). In maps every line is a mapping. In smaps
// every entry carries the same key lines on one kernel and headers differ only by their pathname, so
// the file size divided by (first entry's key lines + shortest possible header) bounds the count from
// above, a few percent high; counting lines instead cost a tenth of the parse.
func estimateMappings(b []byte, withSizes bool) int {
	if !withSizes {
		return bytes.Count(b, []byte{'\n'}) + 1
	}
	keyBytes := 0
	if h := bytes.IndexByte(b, '\n'); h >= 0 {
		for rest := b[h+1:]; len(rest) > 0 && !isHeaderStart(rest[0]); {
			i := bytes.IndexByte(rest, '\n')
			if i < 0 {
				keyBytes += len(rest)
				break
			}
			keyBytes += i + 1
			rest = rest[i+1:]
		}
	}
	const shortestHeader = len("00000000-00000000 ---p 00000000 00:00 0\n")
	// The floor keeps a hostile file of one-byte entries from reserving several times its size.
	return len(b)/max(keyBytes+shortestHeader, 128) + 1
}

// parseHeader parses a maps header line into m and returns the pathname bytes, or a message saying
// what is wrong. It never allocates on success.
func parseHeader(line []byte, m *Mapping) (path []byte, msg string) {
	start, rest, ok := hexUntil(line, '-')
	if !ok {
		return nil, "bad start address"
	}
	end, rest, ok := hexUntil(rest, ' ')
	if !ok {
		return nil, "bad end address"
	}
	if uint64(uintptr(start)) != start || uint64(uintptr(end)) != end {
		return nil, "address does not fit a pointer"
	}
	if end <= start {
		return nil, "end address not above start address"
	}
	if len(rest) < 5 || rest[4] != ' ' {
		return nil, "bad permissions"
	}
	var p Perms
	for i, c := range rest[:4] {
		switch {
		case c == "rwxs"[i]:
			p |= 1 << i
		case c == "---p"[i]:
		default:
			return nil, "bad permissions"
		}
	}
	rest = rest[5:]
	off, rest, ok := hexUntil(rest, ' ')
	if !ok {
		return nil, "bad offset"
	}
	major, rest, ok := hexUntil(rest, ':')
	if !ok || major > math.MaxUint32 {
		return nil, "bad device"
	}
	minor, rest, ok := hexUntil(rest, ' ')
	if !ok || minor > math.MaxUint32 {
		return nil, "bad device"
	}
	n := 0
	for n < len(rest) && rest[n] != ' ' {
		n++
	}
	inode, ok := parseDecimal(rest[:n])
	if !ok {
		return nil, "bad inode"
	}
	rest = rest[n:]
	// The kernel pads to a column with spaces before the pathname; pathnames never start with a
	// space (they are absolute, or [name]), so every leading space is padding and the rest, trailing
	// spaces included, is the name.
	for len(rest) > 0 && rest[0] == ' ' {
		rest = rest[1:]
	}
	*m = Mapping{
		Start:  uintptr(start),
		End:    uintptr(end),
		Perms:  p,
		Offset: off,
		Dev:    Dev{Major: uint32(major), Minor: uint32(minor)},
		Inode:  inode,
	}
	return rest, ""
}

// hexUntil parses a non-empty lowercase-or-uppercase hex number ending at sep and returns it with the
// bytes after sep.
func hexUntil(b []byte, sep byte) (v uint64, rest []byte, ok bool) {
	for i, c := range b {
		if c == sep {
			return v, b[i+1:], i > 0
		}
		d := hexDigits[c]
		if d > 15 || i == 16 { // not hex, or more than 64 bits
			return 0, nil, false
		}
		v = v<<4 | uint64(d)
	}
	return 0, nil, false
}

// hexDigits maps a byte to its hex value, or 0xff: one load per digit instead of a switch, which
// made header parsing a tenth of the parse. Read-only.
var hexDigits = func() (t [256]uint8) {
	for c := range t {
		switch {
		case '0' <= c && c <= '9':
			t[c] = uint8(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = uint8(c - 'a' + 10)
		case 'A' <= c && c <= 'F':
			t[c] = uint8(c - 'A' + 10)
		default:
			t[c] = 0xff
		}
	}
	return t
}()

// smapsKeys are the keys smaps prints, in the order Linux 6.x prints them, with the field each fills.
// The index of a key is its fieldKind. The parser expects the key that followed the previous one in
// the last entry and compares it directly, so on a real file it never searches; a key out of order
// or unknown falls back to a scan of this table. Read-only.
var smapsKeys = [...]struct {
	name string
	kind fieldKind
}{
	{"Size", fSize}, {"KernelPageSize", fKernelPageSize}, {"MMUPageSize", fMMUPageSize},
	{"Rss", fRss}, {"Pss", fPss}, {"Pss_Dirty", fPssDirty}, {"Pss_Anon", fPssAnon},
	{"Pss_File", fPssFile}, {"Pss_Shmem", fPssShmem}, {"Shared_Clean", fSharedClean},
	{"Shared_Dirty", fSharedDirty}, {"Private_Clean", fPrivateClean},
	{"Private_Dirty", fPrivateDirty}, {"Referenced", fReferenced}, {"Anonymous", fAnonymous},
	{"KSM", fKSM}, {"LazyFree", fLazyFree}, {"AnonHugePages", fAnonHugePages},
	{"ShmemPmdMapped", fShmemPmdMapped}, {"FilePmdMapped", fFilePmdMapped},
	{"Shared_Hugetlb", fSharedHugetlb}, {"Private_Hugetlb", fPrivateHugetlb}, {"Swap", fSwap},
	{"SwapPss", fSwapPss}, {"Locked", fLocked}, {"THPeligible", fTHPEligible},
	{"ProtectionKey", fProtectionKey}, {"VmFlags", fVmFlags},
}

type fieldKind uint8

const (
	fSize fieldKind = iota
	fKernelPageSize
	fMMUPageSize
	fRss
	fPss
	fPssDirty
	fPssAnon
	fPssFile
	fPssShmem
	fSharedClean
	fSharedDirty
	fPrivateClean
	fPrivateDirty
	fReferenced
	fAnonymous
	fKSM
	fLazyFree
	fAnonHugePages
	fShmemPmdMapped
	fFilePmdMapped
	fSharedHugetlb
	fPrivateHugetlb
	fSwap
	fSwapPss
	fLocked
	fTHPEligible
	fProtectionKey
	fVmFlags

	fLastKB = fLocked // kinds up to here are "N kB" sizes
)

// parseField parses one "Key: value" line of smaps into m and sizes (cur's "kB" fields) and returns
// the index in smapsKeys of its key, or -1 for a key it does not know, and a message saying what is
// wrong, or "". next is the index of the key expected on this line, tried first. Unknown keys are
// counted, not rejected: newer kernels add keys.
func parseField(line []byte, m *Mapping, sizes *[fLastKB + 1]uint64, next int) (int, string) {
	i := next
	if i >= len(smapsKeys) || !hasKey(line, smapsKeys[i].name) {
		i = lookupKey(line, i)
		if i < 0 {
			colon := bytes.IndexByte(line, ':')
			if colon <= 0 {
				return -1, "not a mapping header or a key: value line"
			}
			m.UnknownKeys++
			return -1, ""
		}
	}
	k := smapsKeys[i]
	val := line[len(k.name)+1:]
	if k.kind <= fLastKB {
		size, msg := parseKB(val)
		if msg != "" {
			return i, msg
		}
		sizes[k.kind] = size
		return i, ""
	}
	switch k.kind {
	case fTHPEligible:
		v, msg := plainNumber(val)
		if msg != "" {
			return i, msg
		}
		m.THPEligible = v != 0
	case fProtectionKey:
		v, msg := plainNumber(val)
		if msg != "" {
			return i, msg
		}
		if v > math.MaxInt32 {
			return i, "protection key out of range"
		}
		m.ProtectionKey = int(v)
	case fVmFlags:
		for len(val) > 0 {
			for len(val) > 0 && val[0] == ' ' {
				val = val[1:]
			}
			i := bytes.IndexByte(val, ' ')
			if i < 0 {
				i = len(val)
			}
			if i > 0 {
				if f := vmFlag(val[:i]); f != 0 {
					m.VmFlags |= f
				} else {
					m.UnknownKeys++
				}
			}
			val = val[i:]
		}
	}
	return i, ""
}

// hasKey reports whether line starts with key followed by a colon.
func hasKey(line []byte, key string) bool {
	return len(line) > len(key) && line[len(key)] == ':' && string(line[:len(key)]) == key
}

// lookupKey returns the index in smapsKeys of the line's key, or -1. It searches forward from the
// expected index first: a missed guess is usually a key this kernel skips (Pss_Anon, ProtectionKey),
// so the line's key is a step or two further on.
func lookupKey(line []byte, from int) int {
	for j := range smapsKeys {
		i := (from + j) % len(smapsKeys)
		if hasKey(line, smapsKeys[i].name) {
			return i
		}
	}
	return -1
}

// plainNumber parses a unitless decimal such as THPeligible's "1".
func plainNumber(val []byte) (uint64, string) {
	val = trimSpaces(val)
	v, ok := parseDecimal(val)
	if !ok {
		return 0, "bad number"
	}
	return v, ""
}

func trimSpaces(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}

// pathCache interns pathnames: a shared library appears in 4-5 consecutive mappings (one per
// segment), and Go's named mappings recur a few entries apart, so remembering the last few strings
// makes most repeats free. Comparing string(b) with a string does not allocate.
type pathCache struct {
	recent [4]string
	next   int
}

func (c *pathCache) intern(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	for i := range c.recent {
		// Most recent first: consecutive segments of one file hit on the first compare.
		if s := c.recent[(c.next+len(c.recent)-1-i)%len(c.recent)]; s == string(b) {
			return s
		}
	}
	s := string(b)
	c.recent[c.next] = s
	c.next = (c.next + 1) % len(c.recent)
	return s
}
