package runtimediag

import (
	"testing"

	"go.uber.org/goleak"

	"github.com/memdiag/memdiag/internal/alonetest"
)

// TestMain fails the package if a test leaves a goroutine running: nothing in runtimediag may start
// one behind its caller's back. The tests that run alone in child processes are let run at once.
func TestMain(m *testing.M) {
	alonetest.RaiseParallel()
	goleak.VerifyTestMain(m)
}
