package promexport

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: the Collector starts none, and
// the end-to-end test must stop its servers and Prometheus.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
