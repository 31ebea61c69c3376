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
	"strings"
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
	// Codes are short and few: a linear scan over a 80-byte constant beats a map lookup and
	// allocates nothing.
	for i := 0; i+1 < len(vmFlagCodes); i += 2 {
		if vmFlagCodes[i] == code[0] && vmFlagCodes[i+1] == code[1] {
			return 1 << (i / 2)
		}
	}
	return 0
}

// Smaps reads /proc/<pid>/smaps: every mapping with its sizes. Reading it makes the kernel walk the
// page tables of the whole address space with the mmap lock held, so it costs milliseconds per
// hundred MiB resident (see the package's Overhead notes); read it on demand, not on every tick.
// A kernel thread has an empty smaps: no mappings, no error.
func (fs FS) Smaps() ([]Mapping, error) {
	path := fs.ProcPath("smaps")
	b, err := fs.readFile(path)
	if err != nil {
		return nil, err
	}
	ms, err := parseSmaps(b)
	return ms, withFile(err, path)
}

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

// parseSmaps parses the contents of an smaps file.
func parseSmaps(b []byte) ([]Mapping, error) { return parseMappings(b, true) }

// parseMaps parses the contents of a maps file.
func parseMaps(b []byte) ([]Mapping, error) { return parseMappings(b, false) }

// parseMappings parses maps (withSizes false: header lines only) or smaps (header lines each
// followed by at least one key line). It scans the bytes in place; the only allocations are the
// result slice and one string per distinct pathname.
func parseMappings(b []byte, withSizes bool) ([]Mapping, error) {
	if len(b) == 0 {
		return nil, nil
	}
	ms := make([]Mapping, 0, estimateMappings(b, withSizes))
	var paths pathCache
	var (
		cur        *Mapping // the mapping key lines apply to
		curLine    int      // its header's line number
		curHasKeys bool
		nextKey    int // index in smapsKeys of the key expected next
	)
	lineNo := 0
	for len(b) > 0 {
		lineNo++
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil // a last line without a newline is accepted if it parses
		}
		if len(line) > 0 && isHeaderStart(line[0]) {
			if withSizes && cur != nil && !curHasKeys {
				return nil, &ParseError{Line: curLine, Msg: "mapping has no smaps fields (a maps file, or truncated)"}
			}
			ms = append(ms, Mapping{})
			cur, curLine, curHasKeys, nextKey = &ms[len(ms)-1], lineNo, false, 0
			path, msg := parseHeader(line, cur)
			if msg != "" {
				return nil, &ParseError{Line: lineNo, Msg: msg + ": " + quoteLine(line)}
			}
			cur.Path = paths.intern(path)
			continue
		}
		if !withSizes {
			return nil, &ParseError{Line: lineNo, Msg: "not a mapping line: " + quoteLine(line)}
		}
		if cur == nil {
			return nil, &ParseError{Line: lineNo, Msg: "field before any mapping header: " + quoteLine(line)}
		}
		if msg := parseField(line, cur, &nextKey); msg != "" {
			return nil, &ParseError{Line: lineNo, Msg: msg + ": " + quoteLine(line)}
		}
		curHasKeys = true
	}
	if withSizes && cur != nil && !curHasKeys {
		return nil, &ParseError{Line: curLine, Msg: "mapping has no smaps fields (a maps file, or truncated)"}
	}
	return ms, nil
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
	inode, n, ok := decimal(rest)
	if !ok {
		return nil, "bad inode"
	}
	rest = rest[n:]
	if len(rest) > 0 && rest[0] != ' ' {
		return nil, "bad inode"
	}
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
	i := 0
	for ; i < len(b) && b[i] != sep; i++ {
		if i == 16 {
			return 0, nil, false // more than 64 bits
		}
		c := b[i]
		var d byte
		switch {
		case '0' <= c && c <= '9':
			d = c - '0'
		case 'a' <= c && c <= 'f':
			d = c - 'a' + 10
		case 'A' <= c && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, nil, false
		}
		v = v<<4 | uint64(d)
	}
	if i == 0 || i == len(b) {
		return 0, nil, false
	}
	return v, b[i+1:], true
}

// decimal parses the leading decimal digits of b, returning the value and how many bytes it used.
func decimal(b []byte) (v uint64, n int, ok bool) {
	for ; n < len(b) && '0' <= b[n] && b[n] <= '9'; n++ {
		d := uint64(b[n] - '0')
		if v > (math.MaxUint64-d)/10 {
			return 0, 0, false
		}
		v = v*10 + d
	}
	return v, n, n > 0
}

// smapsKeys are the keys smaps prints, in the order Linux 6.x prints them, with the field each fills.
// The parser expects the key after the one it just matched and compares it directly (one length
// check and one memcmp), so on a real file it never searches; a key out of order or unknown falls
// back to a scan of this table. Read-only.
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

// parseField parses one "Key: value" line of smaps into m and returns a message saying what is
// wrong, or "". *next is the index in smapsKeys of the key expected on this line; it is advanced
// past the key found. Unknown keys are counted, not rejected: newer kernels add keys.
func parseField(line []byte, m *Mapping, next *int) string {
	i := *next
	if i >= len(smapsKeys) || !hasKey(line, smapsKeys[i].name) {
		i = lookupKey(line, i)
		if i < 0 {
			colon := bytes.IndexByte(line, ':')
			if colon <= 0 {
				return "not a mapping header or a key: value line"
			}
			m.UnknownKeys++
			return ""
		}
	}
	*next = i + 1
	k := smapsKeys[i]
	val := line[len(k.name)+1:]
	if k.kind <= fLastKB {
		kb, msg := kiloBytes(val)
		if msg != "" {
			return msg
		}
		*m.sizeField(k.kind) = kb << 10
		return ""
	}
	switch k.kind {
	case fTHPEligible:
		v, msg := plainNumber(val)
		if msg != "" {
			return msg
		}
		m.THPEligible = v != 0
	case fProtectionKey:
		v, msg := plainNumber(val)
		if msg != "" {
			return msg
		}
		if v > math.MaxInt32 {
			return "protection key out of range"
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
	return ""
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

// sizeField returns the field a "... kB" kind fills. The switch over dense constants compiles to a
// jump table.
func (m *Mapping) sizeField(k fieldKind) *uint64 {
	switch k {
	case fSize:
		return &m.SizeBytes
	case fKernelPageSize:
		return &m.KernelPageSizeBytes
	case fMMUPageSize:
		return &m.MMUPageSizeBytes
	case fRss:
		return &m.RssBytes
	case fPss:
		return &m.PssBytes
	case fPssDirty:
		return &m.PssDirtyBytes
	case fPssAnon:
		return &m.PssAnonBytes
	case fPssFile:
		return &m.PssFileBytes
	case fPssShmem:
		return &m.PssShmemBytes
	case fSharedClean:
		return &m.SharedCleanBytes
	case fSharedDirty:
		return &m.SharedDirtyBytes
	case fPrivateClean:
		return &m.PrivateCleanBytes
	case fPrivateDirty:
		return &m.PrivateDirtyBytes
	case fReferenced:
		return &m.ReferencedBytes
	case fAnonymous:
		return &m.AnonymousBytes
	case fKSM:
		return &m.KSMBytes
	case fLazyFree:
		return &m.LazyFreeBytes
	case fAnonHugePages:
		return &m.AnonHugePagesBytes
	case fShmemPmdMapped:
		return &m.ShmemPmdMappedBytes
	case fFilePmdMapped:
		return &m.FilePmdMappedBytes
	case fSharedHugetlb:
		return &m.SharedHugetlbBytes
	case fPrivateHugetlb:
		return &m.PrivateHugetlbBytes
	case fSwap:
		return &m.SwapBytes
	case fSwapPss:
		return &m.SwapPssBytes
	default: // fLocked
		return &m.LockedBytes
	}
}

// kiloBytes parses the kernel's "%8lu kB" after the colon: space padding, digits, " kB". It reads
// the number from the right end, where its position is known, and checks the padding eight bytes at
// a time: walking ~15 padding bytes one by one was a fifth of the parse.
func kiloBytes(val []byte) (uint64, string) {
	n := len(val)
	if n < 4 || string(val[n-3:]) != " kB" {
		return 0, `want a size in "kB"`
	}
	end := n - 3
	j := end
	for j > 0 && '0' <= val[j-1] && val[j-1] <= '9' {
		j--
	}
	if j == end || !allSpaces(val[:j]) {
		return 0, "bad number"
	}
	v, _, ok := decimal(val[j:end])
	if !ok || v > math.MaxUint64>>10 {
		return 0, "size overflows 64 bits"
	}
	return v, ""
}

// allSpaces reports whether b is all ' ', comparing a word at a time.
func allSpaces(b []byte) bool {
	const spaces = 0x2020202020202020
	for len(b) >= 8 {
		if binary.LittleEndian.Uint64(b) != spaces {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c != ' ' {
			return false
		}
	}
	return true
}

// plainNumber parses a unitless decimal such as THPeligible's "1".
func plainNumber(val []byte) (uint64, string) {
	val = trimSpaces(val)
	v, n, ok := decimal(val)
	if !ok || n != len(val) {
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

// quoteLine quotes a bad line for an error message, cut short so that a garbled multi-megabyte
// "line" does not become a multi-megabyte error.
func quoteLine(line []byte) string {
	const limit = 120
	if len(line) > limit {
		return fmt.Sprintf("%q...", line[:limit])
	}
	return fmt.Sprintf("%q", line)
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
