package sockettest

import (
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
)

// Memory is what the process holds: the Go heap in use, goroutine stacks,
// the resident set and the number of goroutines. A test compares it
// before and after opening sockets to find the cost of one.
type Memory struct{ Heap, Stacks, RSS, Goroutines int64 }

// MeasureMemory returns the process's Memory after a garbage collection
// that returns freed memory to the system, so that two measures compare
// live memory only.
func MeasureMemory() Memory {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return Memory{Heap: int64(ms.HeapInuse), Stacks: int64(ms.StackInuse), RSS: ResidentBytes(), Goroutines: int64(runtime.NumGoroutine())}
}

// ResidentBytes reads VmRSS from /proc/self/status (0 where there is none).
func ResidentBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
