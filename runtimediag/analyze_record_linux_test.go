package runtimediag

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/memdiag/memdiag/procself"
	"github.com/memdiag/memdiag/runtimediag/internal/workload"
	"github.com/memdiag/memdiag/runtimediag/rssattr"
)

var recordFixtures = flag.Bool("record", false, "record testdata/analyze fixtures from real workloads (each in a child process)")

// recordScenario is one workload recorded into testdata/analyze/<name>.json, in a child process of
// its own so that threads, goroutines and heap left by one scenario never reach another.
type recordScenario struct {
	name, description string
	env               []string // added to the child's environment (GODEBUG, GOGC, GOMEMLIMIT)
	cgroupRoot        string   // read the cgroup from this fixture root instead of the real one
	run               func(r *recorder) error
}

type node struct {
	next *node
	a, b *int
	v    int64
}

var recordScenarios = []recordScenario{
	{name: "healthy", description: "an idle-ish process allocating a little for 500 ms", run: func(r *recorder) error {
		r.start()
		for range 50 {
			sink = make([]byte, 1024)
			time.Sleep(10 * time.Millisecond)
		}
		return nil
	}},
	{name: "small_object_churn", description: "GOMAXPROCS goroutines allocating 48-byte pointer-bearing nodes into a 16 MiB rotating live set for 1 s", run: func(r *recorder) error {
		r.start()
		churn(time.Second, 16<<20)
		return nil
	}},
	{name: "mark_assist", description: "a 256 MiB live pointer graph while GOMAXPROCS goroutines allocate nodes as fast as they can for 1 s", run: func(r *recorder) error {
		r.keep = append(r.keep, pointerGraph(256<<20))
		r.start()
		churn(time.Second, 1<<20)
		return nil
	}},
	{name: "fragmentation", description: "256 MiB of 512-byte objects of which every 32nd survives a GC", run: func(r *recorder) error {
		r.start()
		all := make([]*[512]byte, 256<<20/512)
		for i := range all {
			all[i] = new([512]byte)
		}
		keep := make([]*[512]byte, 0, len(all)/32)
		for i := 0; i < len(all); i += 32 {
			keep = append(keep, all[i])
		}
		all = nil
		runtime.GC()
		runtime.GC()
		r.keep = append(r.keep, keep)
		return nil
	}},
	{name: "heap_free", description: "512 MiB of 1 MiB buffers allocated, dropped and collected just before the snapshot", run: func(r *recorder) error {
		r.start()
		bufs := make([][]byte, 512)
		for i := range bufs {
			bufs[i] = make([]byte, 1<<20)
			for j := 0; j < len(bufs[i]); j += 4096 {
				bufs[i][j] = 1
			}
		}
		bufs = nil
		runtime.GC()
		return nil
	}},
	{name: "cgo_heap", description: "128 MiB of C malloc through cgo (runtimediag/internal/workload)", run: func(r *recorder) error {
		r.start()
		h, err := workload.Malloc(128, 1<<20)
		if err != nil {
			return err
		}
		r.cleanup = append(r.cleanup, h.Free)
		return nil
	}},
	{name: "threads_locked", description: "200 goroutines that call runtime.LockOSThread and block", run: func(r *recorder) error {
		r.start()
		release := make(chan struct{})
		var started sync.WaitGroup
		for range 200 {
			started.Add(1)
			go func() {
				runtime.LockOSThread()
				started.Done()
				<-release
				runtime.UnlockOSThread()
			}()
		}
		started.Wait()
		time.Sleep(50 * time.Millisecond)
		return nil
	}},
	{name: "goroutine_leak", description: "200 goroutines blocked forever every 50 ms, 10 steps, a history point each step", run: func(r *recorder) error {
		r.start()
		block := make(chan struct{})
		for range 10 {
			for range 200 {
				go func() { <-block }()
			}
			time.Sleep(50 * time.Millisecond)
			r.tick()
		}
		return nil
	}},
	{name: "c_heap_leak", description: "8 MiB of C malloc every 50 ms, 10 steps, a history point each step; the Go heap stays flat", run: func(r *recorder) error {
		r.start()
		for range 10 {
			h, err := workload.Malloc(8, 1<<20)
			if err != nil {
				return err
			}
			r.cleanup = append(r.cleanup, h.Free)
			time.Sleep(50 * time.Millisecond)
			r.tick()
		}
		return nil
	}},
	{name: "large_allocations", description: "256 KiB buffers allocated and dropped in a loop for 1 s", run: func(r *recorder) error {
		r.start()
		for end := time.Now().Add(time.Second); time.Now().Before(end); {
			b := make([]byte, 256<<10)
			b[0] = 1
			sink = b
		}
		return nil
	}},
	{name: "gc_limiter", description: "GOMEMLIMIT 96 MiB with about 80 MiB kept live and nodes allocated as fast as possible for 5 s (the limiter's bucket holds one CPU-second per P)", env: []string{"GOMEMLIMIT=96MiB"}, run: func(r *recorder) error {
		r.keep = append(r.keep, pointerGraph(68<<20))
		r.start()
		churn(5*time.Second, 1<<20)
		return nil
	}},
	{name: "stw_stopping", description: "GODEBUG=asyncpreemptoff=1: two goroutines spin in call-free loops of about 35 ms while the GC is forced 5 times", env: []string{"GODEBUG=asyncpreemptoff=1"}, run: func(r *recorder) error {
		r.start()
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					sink = spin(100_000_000)
				}
			}()
		}
		for range 5 {
			time.Sleep(20 * time.Millisecond)
			runtime.GC()
		}
		close(stop)
		wg.Wait()
		return nil
	}},
	{name: "fds_near_limit", description: "RLIMIT_NOFILE soft limit lowered to 256 and 240 descriptors opened", run: func(r *recorder) error {
		var lim syscall.Rlimit
		if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return err
		}
		lim.Cur = 256
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			return err
		}
		r.start()
		for range 240 {
			f, err := os.Open(os.DevNull)
			if err != nil {
				return err
			}
			r.cleanup = append(r.cleanup, func() { f.Close() })
		}
		return nil
	}},
	{name: "finalizer_backlog", description: "one finalizer blocks the finalizer goroutine, then 5000 more objects with finalizers are collected", run: func(r *recorder) error {
		r.start()
		block := make(chan struct{})
		first := new(node)
		runtime.SetFinalizer(first, func(*node) { <-block })
		first = nil
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
		for range 5000 {
			n := new(node)
			runtime.SetFinalizer(n, func(*node) {})
		}
		runtime.GC()
		runtime.GC()
		time.Sleep(50 * time.Millisecond)
		return nil
	}},
	{name: "lazy_free", description: "GODEBUG=madvdontneed=0: 256 MiB written, dropped and released with debug.FreeOSMemory (MADV_FREE)", env: []string{"GODEBUG=madvdontneed=0"}, run: func(r *recorder) error {
		r.start()
		bufs := make([][]byte, 256)
		for i := range bufs {
			bufs[i] = make([]byte, 1<<20)
			for j := 0; j < len(bufs[i]); j += 4096 {
				bufs[i][j] = 1
			}
		}
		bufs = nil
		debug.FreeOSMemory()
		return nil
	}},
	{name: "page_cache", description: "a 384 MiB file written and read back, so its pages are charged to the cgroup", run: func(r *recorder) error {
		r.start()
		dir, err := os.MkdirTemp("", "memdiag-pagecache")
		if err != nil {
			return err
		}
		r.cleanup = append(r.cleanup, func() { os.RemoveAll(dir) })
		p := filepath.Join(dir, "data")
		buf := make([]byte, 1<<20)
		f, err := os.Create(p)
		if err != nil {
			return err
		}
		for range 384 {
			if _, err := f.Write(buf); err != nil {
				return err
			}
		}
		f.Sync()
		f.Close()
		f, err = os.Open(p)
		if err != nil {
			return err
		}
		for {
			if _, err := f.Read(buf); err != nil {
				break
			}
		}
		f.Close()
		return nil
	}},
	{name: "scan_heap", description: "a 128 MiB live graph of pointer-only nodes", run: func(r *recorder) error {
		r.start()
		r.keep = append(r.keep, pointerGraph(128<<20))
		runtime.GC()
		return nil
	}},
	{name: "container_gomemlimit_unset", description: "this process with GOMEMLIMIT unset, its cgroup read from the recorded-format fixture root procself/testdata/cgroup-v2-nested (256 MiB effective limit)", cgroupRoot: "../procself/testdata/cgroup-v2-nested", run: func(r *recorder) error {
		r.start()
		time.Sleep(100 * time.Millisecond)
		return nil
	}},
	{name: "container_gomemlimit_set", description: "GOMEMLIMIT=200MiB, cgroup from procself/testdata/cgroup-v2-nested (256 MiB effective limit)", env: []string{"GOMEMLIMIT=200MiB"}, cgroupRoot: "../procself/testdata/cgroup-v2-nested", run: func(r *recorder) error {
		r.start()
		time.Sleep(100 * time.Millisecond)
		return nil
	}},
	{name: "container_gomemlimit_above", description: "GOMEMLIMIT=1GiB, cgroup from procself/testdata/cgroup-v2-nested (256 MiB effective limit)", env: []string{"GOMEMLIMIT=1GiB"}, cgroupRoot: "../procself/testdata/cgroup-v2-nested", run: func(r *recorder) error {
		r.start()
		time.Sleep(100 * time.Millisecond)
		return nil
	}},
	{name: "gc_off", description: "GOGC=off without GOMEMLIMIT, 64 MiB allocated", env: []string{"GOGC=off"}, run: func(r *recorder) error {
		r.start()
		for range 64 {
			sink = make([]byte, 1<<20)
		}
		return nil
	}},
	{name: "gc_off_with_limit", description: "GOGC=off with GOMEMLIMIT=512MiB, 64 MiB allocated", env: []string{"GOGC=off", "GOMEMLIMIT=512MiB"}, run: func(r *recorder) error {
		r.start()
		for range 64 {
			sink = make([]byte, 1<<20)
		}
		return nil
	}},
	{name: "forced_gc", description: "runtime.GC called 10 times over 500 ms", run: func(r *recorder) error {
		r.start()
		for range 10 {
			runtime.GC()
			time.Sleep(50 * time.Millisecond)
		}
		return nil
	}},
	{name: "heap_near_gomemlimit", description: "64 MiB kept live, then the memory limit set 2 MiB above what it governs", run: func(r *recorder) error {
		r.keep = append(r.keep, pointerGraph(64<<20))
		runtime.GC()
		r.start()
		time.Sleep(50 * time.Millisecond)
		s := r.c.Cheap()
		debug.SetMemoryLimit(int64(governedBytes(&s.Runtime)) + 2<<20)
		return nil
	}},
}

// spin runs a loop with no calls, so the goroutine running it has no cooperative preemption point.
func spin(n int) int {
	x := 0
	for i := range n {
		x += i * i
	}
	return x
}

// churn makes GOMAXPROCS goroutines allocate nodes for d, each keeping a ring of live nodes so the
// live heap stays about live bytes.
func churn(d time.Duration, live int) {
	var wg sync.WaitGroup
	procs := runtime.GOMAXPROCS(0)
	end := time.Now().Add(d)
	for range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ring := make([]*node, max(live/procs/48, 1))
			var prev *node
			for i := 0; ; i++ {
				if i%1024 == 0 && time.Now().After(end) {
					return
				}
				n := &node{next: prev, v: int64(i)}
				prev = n
				if i%8 == 0 {
					prev = nil
				}
				ring[i%len(ring)] = n
			}
		}()
	}
	wg.Wait()
}

// pointerGraph is about size bytes of nodes linked by pointers.
func pointerGraph(size int) []*node {
	ns := make([]*node, size/48)
	for i := range ns {
		ns[i] = &node{}
		if i > 0 {
			ns[i].next = ns[i-1]
		}
	}
	return ns
}

// recorder takes the snapshots of one scenario.
type recorder struct {
	c       *Collector
	a       *rssattr.Attributor
	prev    *Snapshot
	ap      *AllocProfile
	history []Point
	cleanup []func()
	keep    []any // what the workload keeps live until the newer snapshot is read
}

// start reads the older snapshot. It does not force a GC: a forced cycle would show in the window
// (forced_gc_frequent) and is not what a service does; the allocation profile advances with the
// workload's own cycles.
func (r *recorder) start() {
	r.ap, _ = ReadAllocProfile()
	r.prev = r.c.Cheap()
	r.ap.Time = r.prev.Time
	r.tick()
}

func (r *recorder) tick() { r.history = append(r.history, analyzePoint(r.c.Cheap())) }

// TestRecordFixtures runs every scenario in a child process: go test -run TestRecordFixtures -record.
func TestRecordFixtures(t *testing.T) {
	if !*recordFixtures {
		t.Skip("records fixtures only with -record")
	}
	only := os.Getenv("MEMDIAG_RECORD_ONLY")
	for _, sc := range recordScenarios {
		if only != "" && only != sc.name {
			continue
		}
		t.Run(sc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestRecordChild$", "-test.v")
			cmd.Env = append(append(os.Environ(), "MEMDIAG_RECORD_CHILD="+sc.name), sc.env...)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
			t.Logf("%s", out)
		})
	}
}

// TestRecordChild is the child TestRecordFixtures starts: it runs one scenario, writes its fixture
// and exits at once, leaving the workload's goroutines and threads to die with the process.
func TestRecordChild(t *testing.T) {
	name := os.Getenv("MEMDIAG_RECORD_CHILD")
	if name == "" {
		t.Skip("run by TestRecordFixtures")
	}
	var sc *recordScenario
	for i := range recordScenarios {
		if recordScenarios[i].name == name {
			sc = &recordScenarios[i]
		}
	}
	if sc == nil {
		t.Fatalf("no scenario %q", name)
	}
	c, err := NewCollector()
	if err != nil {
		t.Fatal(err)
	}
	r := &recorder{c: c, a: rssattr.NewAttributor()}
	if err := sc.run(r); err != nil {
		fmt.Println("scenario failed:", err)
		os.Exit(1)
	}
	cur := c.Full(context.Background())
	ap, _ := ReadAllocProfile() // after the snapshot: parsing the profile allocates
	ap.Time = cur.Time
	if sc.cgroupRoot != "" {
		cur.CgroupMemory, err = procself.New(sc.cgroupRoot).CgroupMemory()
		cur.sources[SourceCgroupMemory].err = err
	}
	r.history = append(r.history, analyzePoint(cur))
	rss, err := measure(r.a, cur)
	if err != nil {
		fmt.Println("attribution:", err)
	}
	f := &analyzeFixture{Scenario: sc.name, Description: sc.description, Prev: toFixture(r.prev), Cur: toFixture(cur),
		RSS: rss, History: r.history, Sites: AllocSitesDelta(r.ap, ap, 10)}
	f.RSS.Mappings = nil // the per-mapping table is large and no rule reads it
	if err := writeAnalyzeFixture(f); err != nil {
		fmt.Println("write:", err)
		os.Exit(1)
	}
	in, _ := f.input()
	rep := Analyze(in)
	for _, fd := range rep.Findings {
		fmt.Printf("FINDING %s %s: %s\n", fd.Severity, fd.Code, fd.Headline)
	}
	e := rep.Efficiency
	fmt.Printf("EFF alloc=%.0fB/s obj=%.0f/s mean=%.0f gc/s=%.1f gcbusy=%.3f assist=%.3f busy=%.2f pause=%+v stop=%+v\n",
		e.AllocBytesPerSecond, e.AllocObjectsPerSecond, e.MeanObjectBytes, e.GCCyclesPerSecond, e.GCBusyCPUShare, e.GCAssistBusyCPUShare, e.BusyCores, e.PauseGC, e.StoppingGC)
	runtime.KeepAlive(r.keep)
	for _, fn := range r.cleanup {
		fn()
	}
	os.Exit(0)
}
