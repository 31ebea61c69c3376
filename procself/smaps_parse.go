package procself

// This file parses /proc/<pid>/smaps and /proc/<pid>/maps: parseMappingsInto, its fixed-width
// fast path for the key lines, and what sizes and fills its result. Lines the fast path does not
// take go to smaps_lines.go.
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
	"math/bits"
)

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
