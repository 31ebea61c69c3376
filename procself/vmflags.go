package procself

import "strings"

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
