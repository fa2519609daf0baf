package embedded

import (
	"context"

	"github.com/sfp-dev/sfp/pkg/backup"
)

// startBackups runs the backups backup.schedule asks for in this process
// until Shutdown, which stops (and cleans up) one in progress before it
// stops PostgreSQL.
func (i *Instance) startBackups(ctx context.Context) {
	if i.T.Config.Backup.Schedule <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		(&backup.Scheduler{T: i.T, Logger: i.log}).Run(ctx)
	}()
	i.stopBackups = func() { cancel(); <-done }
}
