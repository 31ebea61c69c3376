package runtimediag

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: nothing in runtimediag may start
// one behind its caller's back.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
