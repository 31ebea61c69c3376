package runtimediag

import (
	"bytes"
	"fmt"
	"runtime/pprof"
	"testing"
	"time"
)

// TestStackGrouperMatchesProfile: grouping runtime.GoroutineProfile's records directly gives the
// planted groups the pprof goroutine profile gives — same wait, blocking frame, creator and count.
func TestStackGrouperMatchesProfile(t *testing.T) {
	release := parkN(400) // four stacks of 100
	defer release()
	time.Sleep(50 * time.Millisecond)
	var sg stackGrouper
	fast, err := sg.read()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&buf, 0); err != nil {
		t.Fatal(err)
	}
	slow, err := parseGoroutineProfile(&buf)
	if err != nil {
		t.Fatal(err)
	}
	planted := func(gs []goroutineGroup) map[string]int {
		m := map[string]int{}
		for _, g := range gs {
			if g.count >= 100 {
				m[g.key()] = g.count
			}
		}
		return m
	}
	f, s := planted(fast), planted(slow)
	if len(s) < 3 {
		t.Fatalf("the profile shows %d planted groups, want at least 3: %v", len(s), s)
	}
	if fmt.Sprint(f) != fmt.Sprint(s) {
		t.Errorf("groups from the records:\n%v\nfrom the profile:\n%v", f, s)
	}
	for _, g := range fast {
		if g.count >= 100 && (g.wait == "running" || g.file == "" || g.line == 0) {
			t.Errorf("planted group not classified: %+v", g)
		}
	}
	// The second reading reuses what the first learned: no stack is symbolized again.
	known := len(sg.known)
	if _, err := sg.read(); err != nil {
		t.Fatal(err)
	}
	if len(sg.known) > known+2 {
		t.Errorf("second reading learned %d new stacks, want ~0", len(sg.known)-known)
	}
}

// BenchmarkStackGrouper is one window reading of the goroutine source's grouping at 1k, 10k and
// 100k parked goroutines (compare BenchmarkGoroutineProfile, the profile path it replaced).
//
//	go test ./runtimediag -run '^$' -bench BenchmarkStackGrouper -benchtime=10x
func BenchmarkStackGrouper(b *testing.B) {
	for _, n := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("goroutines=%d", n), func(b *testing.B) {
			release := parkN(n)
			defer release()
			time.Sleep(100 * time.Millisecond)
			var sg stackGrouper
			b.ReportAllocs()
			for b.Loop() {
				if _, err := sg.read(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
