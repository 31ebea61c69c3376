package runtimediag

import (
	"reflect"
	"runtime/metrics"
	"testing"
)

// TestRuntimeMetricNamesSupported: every runtime/metrics key the collector reads exists in the Go
// version the module is built with (go.mod), so that no field of RuntimeMetrics is silently zero.
func TestRuntimeMetricNamesSupported(t *testing.T) {
	if err := unsupportedRuntimeMetrics(); err != nil {
		t.Error(err)
	}
}

// TestRuntimeMetricTableDecodesEachIntoItsOwnField: every row of the table names a metric and
// decodes it into a field of RuntimeMetrics no other row writes, and a real read fills them.
func TestRuntimeMetricTableDecodesEachIntoItsOwnField(t *testing.T) {
	var m RuntimeMetrics
	owner := map[any]string{}
	for i, row := range runtimeMetricTable {
		if row.name == "" || row.decode == nil || row.field == nil {
			t.Fatalf("row %d is incomplete: %+v", i, row)
		}
		f := row.field(&m)
		if prev, ok := owner[f]; ok {
			t.Errorf("%s and %s decode into the same field", prev, row.name)
		}
		owner[f] = row.name
	}
	s := newRuntimeSamples()
	metrics.Read(s)
	decodeRuntimeMetrics(s, &m)
	for _, name := range []string{"/memory/classes/total:bytes", "/sched/goroutines:goroutines", "/sched/gomaxprocs:threads"} {
		for i, row := range runtimeMetricTable {
			if row.name != name {
				continue
			}
			if got := reflect.ValueOf(row.field(&m)).Elem().Uint(); got != s[i].Value.Uint64() || got == 0 {
				t.Errorf("%s decoded as %d, read %d", name, got, s[i].Value.Uint64())
			}
		}
	}
}
