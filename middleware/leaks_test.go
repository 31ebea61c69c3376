package middleware

import (
	"net/http"
	"strings"
	"testing"

	"github.com/memdiag/memdiag/runtimediag"
)

// TestLeaksOff: with leak tracking off the endpoint says so with a 404 that names the option,
// rather than an empty list that reads like "nothing grows".
func TestLeaksOff(t *testing.T) {
	h := newTestTree(t, newTestMonitor(t, runtimediag.WithLeakTracking(false)))
	for _, target := range []string{"leaks", "leaks.txt", "leaks.json?"} {
		w := serve(h, "GET", testPrefix+target, "")
		checkHygiene(t, w)
		if b := body(t, w); w.Code != http.StatusNotFound || !strings.Contains(b, "WithLeakTracking") {
			t.Errorf("%s: %d %s", target, w.Code, b)
		}
	}
}
