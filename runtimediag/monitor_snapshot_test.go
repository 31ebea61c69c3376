package runtimediag

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

func TestMonitorReadSnapshotUsesMonitorOptions(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self")
	}
	t.Setenv("MEMDIAG_TEST_IGNORED", "x") // os.Setenv does not reach /proc/self/environ; only the key set matters
	m, err := NewMonitor(WithEnvAllowlist("PATH"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.ReadSnapshot(context.Background(), Set(SourceEnviron, SourceStatus))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Err(SourceEnviron); err != nil {
		t.Fatalf("environ: %v", err)
	}
	for k := range s.Environ.Values {
		if k != "PATH" {
			t.Errorf("value of %s kept; only PATH is allowlisted", k)
		}
	}
	if s.Status.TGID == 0 {
		t.Errorf("status not read: %+v", s.Status)
	}
	if s.Requested.Has(SourceSmaps) {
		t.Errorf("read smaps, which was not asked for")
	}
}

func TestMonitorReadSnapshotCancelledAndClosed(t *testing.T) {
	m, err := NewMonitor()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := m.ReadSnapshot(ctx, Set(SourceStatus))
	if err != nil {
		t.Fatal(err)
	}
	if !errors.Is(s.Err(SourceStatus), context.Canceled) {
		t.Errorf("status after cancel: %v, want context.Canceled", s.Err(SourceStatus))
	}
	m.Close()
	if _, err := m.ReadSnapshot(context.Background(), Set(SourceStatus)); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
}
