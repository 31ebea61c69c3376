package escape

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlusOperands: a sum that escapes is a concatenation only when its operands are strings; a
// sum of numbers that escapes was boxed into an interface, which the compiler prints the same way.
func TestPlusOperands(t *testing.T) {
	src := `package p

func boxed(n int) any { return n + 1000 }
func boxed2(a, b int64) any { return a + b }
func cat(a, b string) string { return a + b }
func catLit(a string) string { return a + "!" }
func local() any { x := 3; return x + 4 }
func localStr() string { var s string = f(); return s + s }
func unknown(a, b T) any { return a + b }
func f() string { return "" }
`
	file := filepath.Join(t.TempDir(), "p.go")
	if err := os.WriteFile(file, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(src, "\n")
	ix := NewIndex(nil, []string{file})
	for _, c := range []struct {
		fn, want string
	}{
		{"boxed(", "number"}, {"boxed2(", "number"}, {"cat(", "string"}, {"catLit(", "string"},
		{"local(", "number"}, {"localStr(", "string"}, {"unknown(", ""},
	} {
		for i, l := range lines {
			if !strings.HasPrefix(l, "func "+c.fn) {
				continue
			}
			col := strings.Index(l, " + ") + 2 // the compiler reports a sum at its operator
			if got := ix.plusOperands(file, i+1, col); got != c.want {
				t.Errorf("%s: plusOperands = %q, want %q", strings.TrimSpace(l), got, c.want)
			}
		}
	}
}
