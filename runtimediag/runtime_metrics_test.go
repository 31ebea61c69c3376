package runtimediag

import "testing"

// TestRuntimeMetricNamesSupported: every runtime/metrics key the collector reads exists in the Go
// version the module is built with (go.mod), so that no field of RuntimeMetrics is silently zero.
func TestRuntimeMetricNamesSupported(t *testing.T) {
	if err := unsupportedRuntimeMetrics(); err != nil {
		t.Error(err)
	}
}
