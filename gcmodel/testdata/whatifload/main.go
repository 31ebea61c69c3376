// Command whatifload runs one deterministic allocation workload at a paced rate and prints, as
// JSON, the gcmodel.Window measured over whole GC cycles and what the GC actually did: cycles per
// second, GC CPU share and the peak heap. The GOGC and GOMEMLIMIT under test come from the
// environment. gcmodel's validation test builds and runs it.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"github.com/memdiag/memdiag/gcmodel"
)

// workload is one shape of program: a live heap of some size and pointer density, garbage made at
// a fixed rate by some goroutines, and goroutines parked with stacks to scan.
type workload struct {
	liveBytes     int     // kept live for the whole run
	livePointers  bool    // live heap as linked nodes (scanned) or byte slices (not scanned)
	rateBytes     float64 // garbage per second, paced
	objectBytes   int     // size of one garbage object
	garbagePtrs   bool    // garbage objects hold pointers
	allocators    int     // goroutines allocating
	parked        int     // goroutines parked with a deep stack
	parkedFrameKB int     // stack each parked goroutine holds
}

var workloads = map[string]workload{
	"small-dense":     {liveBytes: 24 << 20, livePointers: true, rateBytes: 120 << 20, objectBytes: 64, garbagePtrs: true, allocators: 1},
	"large-flat":      {liveBytes: 64 << 20, rateBytes: 256 << 20, objectBytes: 4096, allocators: 2},
	"many-goroutines": {liveBytes: 32 << 20, livePointers: true, rateBytes: 80 << 20, objectBytes: 256, garbagePtrs: true, allocators: 4, parked: 1000, parkedFrameKB: 8},
	"mixed":           {liveBytes: 64 << 20, livePointers: true, rateBytes: 160 << 20, objectBytes: 1024, allocators: 3, parked: 200, parkedFrameKB: 4},
}

type node struct {
	next  *node
	other *node
	pad   [6]uint64
}

type ptrGarbage struct {
	a, b *ptrGarbage
}

var (
	liveNodes []*node
	liveBytes [][]byte
	sinkMu    sync.Mutex
	sink      [256]any
)

// Result is the child's output.
type Result struct {
	Window          gcmodel.Window `json:"window"`
	CyclesPerSecond float64        `json:"cycles_per_second"`
	GCCPUShare      float64        `json:"gc_cpu_share"`
	PeakHeapBytes   uint64         `json:"peak_heap_bytes"`
	PeakGoalBytes   uint64         `json:"peak_goal_bytes"`
	GOGC            int64          `json:"gogc"`
	// MeanCyclePeakBytes is the mean over the window's cycles of the heap when each cycle's
	// marking ended: the larger of the two samples either side of the cycle count's step (0.5 ms
	// apart at most, so within a few hundred KiB of allocation of the moment itself).
	// CyclePeaks is how many cycles it averages.
	MeanCyclePeakBytes uint64 `json:"mean_cycle_peak_bytes"`
	CyclePeaks         int    `json:"cycle_peaks"`
	// NominalBytesPerSecond is the garbage rate the workload paces itself to; a run that
	// allocated well below it was starved of CPU by the machine.
	NominalBytesPerSecond float64 `json:"nominal_bytes_per_second"`
}

var names = []string{
	"/gc/heap/live:bytes", "/gc/scan/stack:bytes", "/gc/scan/globals:bytes", "/gc/heap/allocs:bytes",
	"/gc/cycles/total:gc-cycles", "/gc/cycles/forced:gc-cycles",
	"/cpu/classes/gc/mark/dedicated:cpu-seconds", "/cpu/classes/gc/mark/idle:cpu-seconds",
	"/cpu/classes/gc/mark/assist:cpu-seconds", "/cpu/classes/gc/pause:cpu-seconds",
	"/cpu/classes/user:cpu-seconds", "/cpu/classes/idle:cpu-seconds", "/cpu/classes/total:cpu-seconds",
	"/memory/classes/heap/objects:bytes", "/memory/classes/heap/unused:bytes", "/memory/classes/heap/free:bytes",
	"/memory/classes/heap/released:bytes", "/memory/classes/total:bytes",
	"/gc/gogc:percent", "/gc/gomemlimit:bytes", "/gc/limiter/last-enabled:gc-cycle", "/gc/heap/goal:bytes",
	"/memory/classes/metadata/mspan/inuse:bytes",
}

const (
	iLive = iota
	iStack
	iGlobals
	iAllocs
	iCycles
	iForced
	iDed
	iIdleMark
	iAssist
	iPause
	iUser
	iIdle
	iTotalCPU
	iObjects
	iUnused
	iFree
	iReleased
	iTotalMem
	iGOGC
	iLimit
	iLimiter
	iGoal
	iSpanMeta
)

type reading struct {
	t time.Time
	s []metrics.Sample
}

func read() reading {
	s := make([]metrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	metrics.Read(s)
	return reading{t: time.Now(), s: s}
}

func (r reading) u(i int) uint64 {
	if r.s[i].Value.Kind() == metrics.KindUint64 {
		return r.s[i].Value.Uint64()
	}
	return 0
}

func (r reading) f(i int) float64 {
	if r.s[i].Value.Kind() == metrics.KindFloat64 {
		return r.s[i].Value.Float64()
	}
	return 0
}

func main() {
	name := flag.String("workload", "small-dense", "workload")
	warm := flag.Duration("warm", time.Second, "warm-up before the window")
	dur := flag.Duration("window", 2*time.Second, "minimum window; it ends at the first cycle after")
	minCycles := flag.Uint64("min-cycles", 5, "minimum GC cycles in the window")
	flag.Parse()
	w, ok := workloads[*name]
	if !ok {
		fmt.Fprintln(os.Stderr, "unknown workload", *name)
		os.Exit(2)
	}
	build(w)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range w.parked {
		wg.Add(1)
		go park(w.parkedFrameKB, stop, &wg, i)
	}
	for i := range w.allocators {
		wg.Add(1)
		go allocate(w, i, stop, &wg)
	}
	time.Sleep(*warm)

	// The window runs from one cycle's end to another's, so the CPU classes (accounted at mark
	// termination) and the cycle count cover the same cycles.
	var peakHeap, peakGoal atomic.Uint64
	var sampling atomic.Bool
	var peakMu sync.Mutex
	var peakSum float64
	var peakN int
	cycle := func() uint64 { r := read(); return r.u(iCycles) }
	waitCycle := func(after uint64) reading {
		for {
			r := read()
			if r.u(iCycles) > after {
				return r
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/goal:bytes"}, {Name: "/gc/cycles/total:gc-cycles"}}
		var lastHeap, lastCycle uint64
		have := false
		for {
			select {
			case <-stop:
				return
			default:
			}
			if sampling.Load() {
				metrics.Read(s)
				heap, cyc := s[0].Value.Uint64(), s[2].Value.Uint64()
				if heap > peakHeap.Load() {
					peakHeap.Store(heap)
				}
				if v := s[1].Value.Uint64(); v > peakGoal.Load() {
					peakGoal.Store(v)
				}
				if have && cyc == lastCycle+1 {
					// One cycle ended between the two samples: its peak is the larger of them.
					peakMu.Lock()
					peakSum += float64(max(heap, lastHeap))
					peakN++
					peakMu.Unlock()
				}
				lastHeap, lastCycle, have = heap, cyc, true
			} else {
				have = false
			}
			time.Sleep(500 * time.Microsecond)
		}
	}()
	start := waitCycle(cycle())
	sampling.Store(true)
	time.Sleep(*dur / 2)
	mid := read()
	time.Sleep(*dur / 2)
	end := waitCycle(cycle())
	for end.u(iCycles)-start.u(iCycles) < *minCycles && end.t.Sub(start.t) < 20**dur {
		end = waitCycle(end.u(iCycles))
	}
	sampling.Store(false)
	close(stop)
	wg.Wait()

	secs := end.t.Sub(start.t).Seconds()
	midSecs := mid.t.Sub(start.t).Seconds()
	win := gcmodel.Window{
		Seconds:          secs,
		GOMAXPROCS:       runtime.GOMAXPROCS(0),
		GOGC:             int(int64(end.u(iGOGC))),
		MemoryLimitBytes: int64(end.u(iLimit)),
		MarkedStartBytes: start.u(iLive),
		MarkedBytes:      end.u(iLive),
		StackScanBytes:   end.u(iStack),
		GlobalsScanBytes: end.u(iGlobals),
		AllocBytes:       end.u(iAllocs) - start.u(iAllocs),
		Cycles:           end.u(iCycles) - start.u(iCycles),
		ForcedCycles:     end.u(iForced) - start.u(iForced),
		CPU: gcmodel.CPU{
			MarkDedicated: end.f(iDed) - start.f(iDed),
			MarkIdle:      end.f(iIdleMark) - start.f(iIdleMark),
			MarkAssist:    end.f(iAssist) - start.f(iAssist),
			Pause:         end.f(iPause) - start.f(iPause),
			User:          end.f(iUser) - start.f(iUser),
			Idle:          end.f(iIdle) - start.f(iIdle),
		},
		SettingChanged:    start.u(iGOGC) != end.u(iGOGC) || start.u(iLimit) != end.u(iLimit),
		LimiterEngaged:    end.u(iLimiter) > start.u(iLimiter),
		HeapObjectsBytes:  end.u(iObjects),
		HeapUnusedBytes:   end.u(iUnused),
		GoOtherBytes:      end.u(iTotalMem) - end.u(iReleased) - end.u(iObjects) - end.u(iUnused) - end.u(iFree),
		SpanMetadataBytes: end.u(iSpanMeta),
	}
	if midSecs > 0 && secs > midSecs {
		win.AllocRateFirstHalf = float64(mid.u(iAllocs)-start.u(iAllocs)) / midSecs
		win.AllocRateSecondHalf = float64(end.u(iAllocs)-mid.u(iAllocs)) / (secs - midSecs)
	}
	if int64(end.u(iGOGC)) < 0 {
		win.GOGC = gcmodel.Off
	}
	totalCPU := end.f(iTotalCPU) - start.f(iTotalCPU)
	res := Result{
		Window:          win,
		CyclesPerSecond: float64(win.Cycles) / secs,
		GCCPUShare:      win.CPU.GC() / totalCPU,
		PeakHeapBytes:   peakHeap.Load(),
		PeakGoalBytes:   peakGoal.Load(),
		GOGC:            int64(end.u(iGOGC)),

		NominalBytesPerSecond: w.rateBytes,
	}
	peakMu.Lock()
	if peakN > 0 {
		res.MeanCyclePeakBytes, res.CyclePeaks = uint64(peakSum/float64(peakN)), peakN
	}
	peakMu.Unlock()
	if err := json.NewEncoder(os.Stdout).Encode(res); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	runtime.KeepAlive(liveNodes)
	runtime.KeepAlive(liveBytes)
}

// build makes the live heap.
func build(w workload) {
	if w.livePointers {
		n := w.liveBytes / 64
		liveNodes = make([]*node, n)
		for i := range liveNodes {
			liveNodes[i] = &node{}
			if i > 0 {
				liveNodes[i].next = liveNodes[i-1]
				liveNodes[i].other = liveNodes[(i*7919)%i]
			}
		}
		return
	}
	const chunk = 64 << 10
	liveBytes = make([][]byte, w.liveBytes/chunk)
	for i := range liveBytes {
		liveBytes[i] = make([]byte, chunk)
		liveBytes[i][0] = byte(i)
	}
}

// allocate makes garbage at its share of the rate: each 500 µs it catches up with the bytes it is
// due, so the rate is set by the clock and not by how fast this machine runs.
func allocate(w workload, id int, stop <-chan struct{}, wg *sync.WaitGroup) {
	defer wg.Done()
	rate := w.rateBytes / float64(w.allocators)
	start := time.Now()
	var done float64
	var local [64]any
	k := 0
	for {
		select {
		case <-stop:
			return
		default:
		}
		due := rate * time.Since(start).Seconds()
		// A starved allocator forgets debt older than 20 ms instead of paying it in a burst.
		done = max(done, due-rate*0.02)
		for done < due {
			var o any
			if w.garbagePtrs {
				n := max(w.objectBytes/16, 1)
				s := make([]ptrGarbage, n)
				s[0].a = &s[n-1]
				o = s
			} else {
				o = make([]byte, w.objectBytes)
			}
			local[k%len(local)] = o
			k++
			done += float64(w.objectBytes)
		}
		sinkMu.Lock()
		sink[id%len(sink)] = local[0]
		sinkMu.Unlock()
		time.Sleep(500 * time.Microsecond)
	}
}

// park holds a stack of about kb KiB until stop.
func park(kb int, stop <-chan struct{}, wg *sync.WaitGroup, id int) {
	defer wg.Done()
	var frame func(depth int) int
	frame = func(depth int) int {
		var buf [1024]byte
		buf[id%1024] = byte(depth)
		if depth == 0 {
			<-stop
			return int(buf[0])
		}
		return frame(depth-1) + int(buf[depth%1024])
	}
	frame(kb)
}
