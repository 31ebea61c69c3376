package runtimediag

import (
	"flag"
	"os"
	"strconv"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package if a test leaves a goroutine running: nothing in runtimediag may start
// one behind its caller's back.
//
// Unless -test.parallel is given, it lets the tests that run alone in child processes (runAlone)
// all be under way at once: their parent only waits, and aloneSlots bounds the children.
func TestMain(m *testing.M) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set && os.Getenv(aloneEnv) == "" {
		flag.Set("test.parallel", strconv.Itoa(cap(aloneSlots)+2))
	}
	goleak.VerifyTestMain(m)
}
