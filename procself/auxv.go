package procself

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"strconv"
)

// Auxv is the ELF auxiliary vector the kernel handed the process at exec time (/proc/<pid>/auxv): the
// page size, clock tick rate, CPU capabilities and where the loader put things. Fields are zero when
// the kernel did not supply the entry; Entries holds every pair as read, including types not decoded
// here.
//
// The vector is native-endian pairs of machine words (type, value). On linux/amd64 and linux/arm64
// both are little-endian 8-byte words; 32-bit platforms use 4-byte words. A 64-bit reader decodes a
// 32-bit process's auxv (via [ForPID]) wrongly: the kernel stores it in the target's word size.
type Auxv struct {
	WordSizeBytes int // machine word size the vector was decoded with: 8 on 64-bit platforms, 4 on 32-bit

	PageSizeBytes       uint64 // AT_PAGESZ: the base page size the kernel maps with
	ClockTicksPerSecond uint64 // AT_CLKTCK: USER_HZ, the unit of utime/stime/starttime in stat files
	HWCap               uint64 // AT_HWCAP: architecture-specific CPU capability bits, raw
	HWCap2              uint64 // AT_HWCAP2: more capability bits, raw (0 when absent)

	PlatformAddr     uint64 // AT_PLATFORM: address of the platform string in the process's memory
	Platform         string // the string at PlatformAddr (e.g. "x86_64", "aarch64"), if it could be read
	BasePlatformAddr uint64 // AT_BASE_PLATFORM: address of the base platform string (0: none; powerpc mostly)
	BasePlatform     string // the string at BasePlatformAddr, if it could be read
	ExecFnAddr       uint64 // AT_EXECFN: address of the pathname given to execve
	ExecFn           string // the string at ExecFnAddr, if it could be read
	// StringsErr says why Platform, BasePlatform or ExecFn are empty although their address is set:
	// the strings live in the process's memory and are read through /proc/<pid>/mem, which needs
	// ptrace-level access and which a fixture root does not have. Nil when they were read.
	StringsErr error

	// RandomAddr is AT_RANDOM, the address of 16 random bytes the C library seeds stack canaries and
	// pointer guards from. The bytes themselves are deliberately never read: exposing them would
	// defeat those protections.
	RandomAddr uint64

	Entry            uint64 // AT_ENTRY: the program's entry point address
	Base             uint64 // AT_BASE: load address of the program interpreter (ld.so); 0 for static binaries
	Phdr             uint64 // AT_PHDR: address of the program headers in memory
	PhentBytes       uint64 // AT_PHENT: size of one program header
	Phnum            uint64 // AT_PHNUM: number of program headers
	SysinfoEhdr      uint64 // AT_SYSINFO_EHDR: address of the vDSO's ELF header
	MinSigStkSzBytes uint64 // AT_MINSIGSTKSZ: minimum signal stack size the kernel needs (0 when absent)
	Secure           bool   // AT_SECURE: the program runs setuid/setgid or with capabilities (secure mode)
	UID              uint64 // AT_UID: real user ID at exec
	EUID             uint64 // AT_EUID: effective user ID at exec
	GID              uint64 // AT_GID: real group ID at exec
	EGID             uint64 // AT_EGID: effective group ID at exec

	Entries []AuxvEntry // every pair in file order, the AT_NULL terminator excluded
}

// AuxvEntry is one raw (type, value) pair of the auxiliary vector.
type AuxvEntry struct {
	Type  uint64 // the AT_* constant
	Name  string // "AT_PAGESZ" etc. for types known here, "" otherwise
	Value uint64 // the value as a machine word; an address for pointer types
}

// Auxiliary vector types from include/uapi/linux/auxvec.h and the arch headers.
const (
	atNull          = 0
	atPhdr          = 3
	atPhent         = 4
	atPhnum         = 5
	atPagesz        = 6
	atBase          = 7
	atEntry         = 9
	atUID           = 11
	atEUID          = 12
	atGID           = 13
	atEGID          = 14
	atPlatform      = 15
	atHWCap         = 16
	atClkTck        = 17
	atSecure        = 23
	atBasePlatform  = 24
	atRandom        = 25
	atHWCap2        = 26
	atExecFn        = 31
	atSysinfoEhdr   = 33
	atMinSigStkSz   = 51
	maxAuxvStrBytes = 4096 // PATH_MAX: AT_EXECFN is the longest string the vector points at
)

var auxvNames = map[uint64]string{
	0: "AT_NULL", 1: "AT_IGNORE", 2: "AT_EXECFD", 3: "AT_PHDR", 4: "AT_PHENT", 5: "AT_PHNUM",
	6: "AT_PAGESZ", 7: "AT_BASE", 8: "AT_FLAGS", 9: "AT_ENTRY", 10: "AT_NOTELF", 11: "AT_UID",
	12: "AT_EUID", 13: "AT_GID", 14: "AT_EGID", 15: "AT_PLATFORM", 16: "AT_HWCAP", 17: "AT_CLKTCK",
	18: "AT_FPUCW", 19: "AT_DCACHEBSIZE", 20: "AT_ICACHEBSIZE", 21: "AT_UCACHEBSIZE",
	22: "AT_IGNOREPPC", 23: "AT_SECURE", 24: "AT_BASE_PLATFORM", 25: "AT_RANDOM", 26: "AT_HWCAP2",
	27: "AT_RSEQ_FEATURE_SIZE", 28: "AT_RSEQ_ALIGN", 29: "AT_HWCAP3", 30: "AT_HWCAP4",
	31: "AT_EXECFN", 32: "AT_SYSINFO", 33: "AT_SYSINFO_EHDR", 34: "AT_L1I_CACHESHAPE",
	35: "AT_L1D_CACHESHAPE", 36: "AT_L2_CACHESHAPE", 37: "AT_L3_CACHESHAPE", 40: "AT_L1I_CACHESIZE",
	41: "AT_L1I_CACHEGEOMETRY", 42: "AT_L1D_CACHESIZE", 43: "AT_L1D_CACHEGEOMETRY",
	44: "AT_L2_CACHESIZE", 45: "AT_L2_CACHEGEOMETRY", 46: "AT_L3_CACHESIZE", 47: "AT_L3_CACHEGEOMETRY",
	51: "AT_MINSIGSTKSZ",
}

// Auxv reads /proc/<pid>/auxv, decoding it with this platform's byte order and word size, and reads
// the platform and execfn strings through /proc/<pid>/mem (see [Auxv.StringsErr]).
func (fs FS) Auxv() (Auxv, error) {
	path := fs.ProcPath("auxv")
	b, err := fs.readFile(path)
	if err != nil {
		return Auxv{}, err
	}
	a, err := parseAuxv(b, binary.NativeEndian, strconv.IntSize/8)
	if err != nil {
		return Auxv{}, withFile(err, path)
	}
	a.StringsErr = fs.readAuxvStrings(&a)
	return a, nil
}

// readAuxvStrings fills the string fields by reading the process's memory through /proc/<pid>/mem
// rather than dereferencing the addresses: that works for any pid, cannot fault, and for this process
// reads exactly what the kernel wrote at exec.
func (fs FS) readAuxvStrings(a *Auxv) error {
	if a.PlatformAddr == 0 && a.BasePlatformAddr == 0 && a.ExecFnAddr == 0 {
		return nil
	}
	path := fs.ProcPath("mem")
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("platform and execfn strings not read: %w", err)
	}
	defer f.Close()
	for _, s := range []struct {
		addr uint64
		dst  *string
	}{
		{a.PlatformAddr, &a.Platform},
		{a.BasePlatformAddr, &a.BasePlatform},
		{a.ExecFnAddr, &a.ExecFn},
	} {
		if s.addr == 0 {
			continue
		}
		v, err := readCString(f, s.addr, a.PageSizeBytes)
		if err != nil {
			return fmt.Errorf("%s at %#x: %w", path, s.addr, err)
		}
		*s.dst = v
	}
	return nil
}

// readCString reads a NUL-terminated string at addr from a /proc/<pid>/mem file. It reads page by
// page because a read that crosses into an unmapped page fails as a whole with EIO, and the execfn
// string sits just below the top of the stack mapping.
func readCString(f *os.File, addr, pageSize uint64) (string, error) {
	if pageSize == 0 || pageSize&(pageSize-1) != 0 {
		pageSize = 4096
	}
	var out []byte
	for len(out) < maxAuxvStrBytes {
		if addr > math.MaxInt64 {
			return "", fmt.Errorf("address %#x beyond the file offset range", addr)
		}
		n := min(pageSize-addr%pageSize, uint64(maxAuxvStrBytes-len(out)))
		buf := make([]byte, n)
		got, err := f.ReadAt(buf, int64(addr))
		for i := range got {
			if buf[i] == 0 {
				return string(append(out, buf[:i]...)), nil
			}
		}
		if err != nil {
			return "", err
		}
		out = append(out, buf...)
		addr += n
	}
	return "", fmt.Errorf("no NUL terminator within %d bytes", maxAuxvStrBytes)
}

// parseAuxv decodes an auxiliary vector of (type, value) word pairs in the given byte order and word
// size (4 or 8), up to the AT_NULL pair, which the kernel always writes.
func parseAuxv(b []byte, order binary.ByteOrder, wordSize int) (Auxv, error) {
	if wordSize != 4 && wordSize != 8 {
		return Auxv{}, &ParseError{Msg: fmt.Sprintf("word size %d: want 4 or 8", wordSize)}
	}
	pair := 2 * wordSize
	if len(b) == 0 {
		return Auxv{}, &ParseError{Msg: "empty auxiliary vector (a kernel thread has none)"}
	}
	if len(b)%pair != 0 {
		return Auxv{}, &ParseError{Msg: fmt.Sprintf("%d bytes is not a whole number of %d-byte (type, value) pairs: truncated", len(b), pair)}
	}
	word := func(off int) uint64 {
		if wordSize == 4 {
			return uint64(order.Uint32(b[off:]))
		}
		return order.Uint64(b[off:])
	}
	a := Auxv{WordSizeBytes: wordSize}
	for off := 0; off < len(b); off += pair {
		typ, val := word(off), word(off+wordSize)
		if typ == atNull {
			if rest := len(b) - off - pair; rest != 0 {
				return Auxv{}, &ParseError{Msg: fmt.Sprintf("%d bytes after the AT_NULL terminator at byte offset %d", rest, off)}
			}
			return a, nil
		}
		a.Entries = append(a.Entries, AuxvEntry{Type: typ, Name: auxvNames[typ], Value: val})
		switch typ {
		case atPhdr:
			a.Phdr = val
		case atPhent:
			a.PhentBytes = val
		case atPhnum:
			a.Phnum = val
		case atPagesz:
			a.PageSizeBytes = val
		case atBase:
			a.Base = val
		case atEntry:
			a.Entry = val
		case atUID:
			a.UID = val
		case atEUID:
			a.EUID = val
		case atGID:
			a.GID = val
		case atEGID:
			a.EGID = val
		case atPlatform:
			a.PlatformAddr = val
		case atHWCap:
			a.HWCap = val
		case atClkTck:
			a.ClockTicksPerSecond = val
		case atSecure:
			a.Secure = val != 0
		case atBasePlatform:
			a.BasePlatformAddr = val
		case atRandom:
			a.RandomAddr = val
		case atHWCap2:
			a.HWCap2 = val
		case atExecFn:
			a.ExecFnAddr = val
		case atSysinfoEhdr:
			a.SysinfoEhdr = val
		case atMinSigStkSz:
			a.MinSigStkSzBytes = val
		}
	}
	return Auxv{}, &ParseError{Msg: fmt.Sprintf("no AT_NULL terminator in %d pairs: truncated", len(b)/pair)}
}
