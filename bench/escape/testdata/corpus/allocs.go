//go:build !fixed

package corpus

import (
	"fmt"
	"strings"
)

//go:noinline
func newPoint(x int) *Point {
	p := Point{X: x, Y: 1}
	return &p
}

// Returned returns through a pointer.
func Returned(x int) int { return newPoint(x).X }

// Capture stores a closure that captures a variable by reference.
func Capture(n int) int {
	x := n
	sinkFunc = func() { x++ }
	return x
}

// Box converts an int to an interface.
func Box(n int) {
	sinkAny = n
}

// Format formats with fmt.
func Format(dst []byte, n int) []byte {
	return append(dst, fmt.Sprintf("id=%d", n)...)
}

// Sum makes a slice of a size known only at run time.
func Sum(n int) int {
	b := make([]int, n)
	s := 0
	for i := range b {
		b[i] = i
		s += b[i]
	}
	return s
}

// Squares appends without preallocating.
func Squares(n int) int {
	var s []int
	for i := 0; i < n; i++ {
		s = append(s, i*i)
	}
	return len(s) + s[n-1]
}

// Count fills a map made without a size.
func Count(words []string) int {
	m := map[string]int{}
	for _, w := range words {
		m[w]++
	}
	return len(m)
}

// Join concatenates strings.
func Join(dst []byte, a, b string) []byte {
	s := a + "/" + b
	return append(dst, s...)
}

// Dashes converts a []byte to a string to count with the strings package.
func Dashes(b []byte) int {
	return strings.Count(string(b), "-")
}

// Apply passes a method value to a function that keeps it.
func Apply(c *Counter, times int) {
	f := c.Inc
	callN(f, times)
}

//go:noinline
func callN(f func(), n int) {
	sinkFunc = f
	for range n {
		f()
	}
}

// Large uses a local array too large for the stack.
func Large(i int) int {
	var buf [256 << 10]byte
	buf[i%len(buf)] = 1
	return int(buf[i%len(buf)]) + len(buf)
}

// Fields splits a string with the standard library.
func Fields(s string) int {
	return len(strings.Split(s, ","))
}
