package embedded

import "time"

// SetRestartBackoff sets the supervisor's first restart delay for a test
// and returns the function that restores it.
func SetRestartBackoff(d time.Duration) (restore func()) {
	old := restartBackoff
	restartBackoff = d
	return func() { restartBackoff = old }
}
