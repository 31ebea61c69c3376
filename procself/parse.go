package procself

// The number and error-text helpers every parser of this package shares: one decimal parser, one
// kB parser, one way to quote bad input. They work on bytes so that a parse that succeeds
// allocates nothing (strconv would need a string).

import (
	"encoding/binary"
	"math"
	"math/bits"
)

// parseDecimal parses an unsigned decimal without a sign, spaces or a base prefix, as the kernel
// prints them; false on anything else, on an empty b or on overflow.
func parseDecimal(b []byte) (uint64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		hi, lo := bits.Mul64(v, 10)
		lo, carry := bits.Add64(lo, uint64(c-'0'), 0)
		if hi != 0 || carry != 0 {
			return 0, false
		}
		v = lo
	}
	return v, true
}

// parseKB parses a size the kernel prints in kB ("%8lu kB": space padding, digits, " kB") and
// returns it in bytes, with a message saying what is wrong, or "". It reads the number from the
// right end, where its position is known, and checks the padding eight bytes at a time: walking
// smaps's ~15 padding bytes one by one was a fifth of its parse.
func parseKB(val []byte) (bytes uint64, msg string) {
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
	v, ok := parseDecimal(val[j:end])
	if !ok || v > math.MaxUint64>>10 {
		return 0, "size overflows 64 bits"
	}
	return v << 10, ""
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

// maxErrorTextBytes bounds how much of a malformed input an error message quotes, so that a
// garbled multi-megabyte "line" does not become a multi-megabyte error.
const maxErrorTextBytes = 120

// errorText is b as an error message quotes it (with %q) or names it (a malformed key): at most
// maxErrorTextBytes of it, with "..." when cut.
func errorText(b []byte) string {
	if len(b) > maxErrorTextBytes {
		return string(b[:maxErrorTextBytes]) + "..."
	}
	return string(b)
}
