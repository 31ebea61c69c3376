// Package planted is a small benchmark subject for the gate's golden tests. Built with the
// plantedalloc tag, ParseKV makes one extra 64-byte allocation per call.
package planted

import "strconv"

// ParseKV splits "key=value" without allocating.
func ParseKV(line string) (key, value string, ok bool) {
	plant(len(line))
	for i := 0; i < len(line); i++ {
		if line[i] == '=' {
			return line[:i], line[i+1:], true
		}
	}
	return "", "", false
}

// AppendFields appends the fields separated by commas; it allocates only when dst is short.
func AppendFields(dst []byte, fields []string) []byte {
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendQuote(dst, f)
	}
	return dst
}

// Index builds a map from each word to its position; it allocates the map and its buckets.
func Index(words []string) map[string]int {
	m := make(map[string]int, len(words))
	for i, w := range words {
		m[w] = i
	}
	return m
}
