//go:build fixed

package corpus

import (
	"bytes"
	"strconv"
)

// newPoint returns a value: the caller's copy stays on its stack.
//
//go:noinline
func newPoint(x int) Point {
	return Point{X: x, Y: 1}
}

// Returned returns through a value.
func Returned(x int) int { return newPoint(x).X }

// Capture passes the value as an argument to a closure that does not outlive the call.
func Capture(n int) int {
	inc := func(x int) int { return x + 1 }
	return inc(n) - 1
}

// Box keeps the concrete type.
func Box(n int) {
	sinkInt = n
}

// Format appends with strconv.
func Format(dst []byte, n int) []byte {
	dst = append(dst, "id="...)
	return strconv.AppendInt(dst, int64(n), 10)
}

// Sum uses a constant-size array on the stack.
func Sum(n int) int {
	var buf [128]int
	b := buf[:n]
	s := 0
	for i := range b {
		b[i] = i
		s += b[i]
	}
	return s
}

// Squares preallocates a constant capacity.
func Squares(n int) int {
	s := make([]int, 0, 128)
	for i := 0; i < n; i++ {
		s = append(s, i*i)
	}
	return len(s) + s[n-1]
}

var counts = make(map[string]int, 64)

// Count reuses one map, sized once.
func Count(words []string) int {
	clear(counts)
	for _, w := range words {
		counts[w]++
	}
	return len(counts)
}

// Join appends the parts.
func Join(dst []byte, a, b string) []byte {
	dst = append(dst, a...)
	dst = append(dst, '/')
	return append(dst, b...)
}

// Dashes counts with the bytes package, on the []byte itself.
func Dashes(b []byte) int {
	return bytes.Count(b, dash)
}

var dash = []byte("-")

// Apply passes a method expression and the receiver.
func Apply(c *Counter, times int) {
	callMethod((*Counter).Inc, c, times)
}

//go:noinline
func callMethod(f func(*Counter), c *Counter, n int) {
	for range n {
		f(c)
	}
}

var largeBuf [256 << 10]byte

// Large reuses one package-level buffer.
func Large(i int) int {
	largeBuf[i%len(largeBuf)] = 1
	return int(largeBuf[i%len(largeBuf)]) + len(largeBuf)
}

// Fields counts the separators instead of building the parts.
func Fields(s string) int {
	n := 1
	for {
		_, rest, ok := cut(s)
		if !ok {
			return n
		}
		n++
		s = rest
	}
}

func cut(s string) (before, after string, found bool) {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return s[:i], s[i+1:], true
		}
	}
	return s, "", false
}
