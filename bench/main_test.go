package bench

import (
	"fmt"
	"os"
	"sync/atomic"
	"testing"
)

// freshChildEnv makes the test binary a child that calls AssertAllocs before anything else.
const freshChildEnv = "MEMDIAG_BENCH_FRESH_CHILD"

var (
	twoSink [2]*[16]byte
	bgSink  atomic.Pointer[[64]byte]
)

func TestMain(m *testing.M) {
	if os.Getenv(freshChildEnv) == "1" {
		os.Exit(freshChild())
	}
	os.Exit(m.Run())
}

// freshChild checks budgets 0 and 2 on functions that allocate exactly that, first thing in the
// process, while two goroutines allocate without pause. It returns the exit code.
func freshChild() int {
	stop := make(chan struct{})
	for range 2 {
		go func() {
			for {
				select {
				case <-stop:
					return
				default:
					bgSink.Store(new([64]byte))
				}
			}
		}()
	}
	defer close(stop)
	tb := &fakeTB{}
	AssertAllocs(tb, 0, func() {})
	AssertAllocs(tb, 2, func() {
		twoSink[0] = new([16]byte)
		twoSink[1] = new([16]byte)
	})
	if tb.errors != "" {
		fmt.Println(tb.errors)
		return 1
	}
	return 0
}
