//go:build unix

package realtime

import "syscall"

// processCPUNanos is the user and system CPU time of this process, which
// counts the dispatcher goroutine's work wherever it ran.
func processCPUNanos() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
