package procself

// The general path of the smaps and maps parser (parseMappingsInto, smaps_parse.go): a header line
// or a "Key: value" line at a time, by searching rather than by position. It alone decides what is
// an error.

import (
	"bytes"
	"math"
)

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
