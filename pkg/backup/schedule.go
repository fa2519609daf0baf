package backup

import (
	"context"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/sfp-dev/sfp/pkg/tenant"
)

// Scheduler takes the backups backup.schedule asks for, in the running
// tenant's process, into backup.directory, and keeps the newest
// backup.keep of them. A failure is logged and recorded in the catalog
// (status and `backup list` show it), never dropped silently.
type Scheduler struct {
	T      *tenant.Tenant
	Logger *slog.Logger
	Now    func() time.Time
}

// Run takes a backup whenever the last scheduled one is older than the
// interval (at once if there is none), until ctx ends.
func (s *Scheduler) Run(ctx context.Context) {
	every := time.Duration(s.T.Config.Backup.Schedule)
	if every <= 0 {
		return
	}
	for {
		wait := s.untilNext(every)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		s.RunOnce(ctx)
	}
}

func (s *Scheduler) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// untilNext is how long until the next scheduled backup is due; after a
// failure the next attempt comes after a tenth of the interval (at least
// a minute), not a whole interval later.
func (s *Scheduler) untilNext(every time.Duration) time.Duration {
	c, err := readCatalog(s.T)
	if err != nil {
		return every
	}
	last := time.Time{}
	for _, b := range c.Backups {
		if b.Scheduled && b.FinishedAt.After(last) {
			last = b.FinishedAt
		}
	}
	if c.LastError != nil && c.LastError.At.After(last) {
		return max(every/10, time.Minute)
	}
	if last.IsZero() {
		return 0
	}
	return max(last.Add(every).Sub(s.now()), 0)
}

// RunOnce takes one scheduled backup and removes the oldest scheduled
// backups beyond backup.keep.
func (s *Scheduler) RunOnce(ctx context.Context) (*Result, error) {
	log := s.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg := s.T.Config.Backup
	log.Info("taking scheduled backup", "tenant", s.T.Name(), "directory", s.T.BackupDir())
	res, err := Backup(ctx, s.T, Options{Encryption: Encryption{PassphraseFile: s.T.BackupPassphraseFile(), Recipient: cfg.Recipient},
		Now: s.Now, scheduled: true})
	if err != nil {
		if ctx.Err() != nil {
			return nil, err
		}
		log.Error("scheduled backup failed", "tenant", s.T.Name(), "err", err)
		if rerr := updateCatalog(s.T, func(c *Catalog) { c.LastError = &Failure{At: s.now().UTC(), Error: err.Error()} }); rerr != nil {
			log.Error("could not record the failed backup", "err", rerr)
		}
		return nil, err
	}
	log.Info("scheduled backup written", "file", res.File, "size", res.Size, "end_lsn", res.EndLSN)
	if err := s.prune(cfg.Keep); err != nil {
		log.Error("could not remove old backups", "err", err)
	}
	return res, nil
}

// prune removes the scheduled backups beyond the newest keep.
func (s *Scheduler) prune(keep int) error {
	return updateCatalog(s.T, func(c *Catalog) {
		c.LastError = nil
		var sched, other []Result
		for _, b := range c.Backups {
			if b.Scheduled {
				sched = append(sched, b)
			} else {
				other = append(other, b)
			}
		}
		sort.Slice(sched, func(i, j int) bool { return sched[i].FinishedAt.After(sched[j].FinishedAt) })
		for len(sched) > keep {
			old := sched[len(sched)-1]
			if err := os.Remove(old.File); err != nil && !os.IsNotExist(err) {
				if s.Logger != nil {
					s.Logger.Error("could not remove an old backup", "file", old.File, "err", err)
				}
				break
			}
			sched = sched[:len(sched)-1]
		}
		c.Backups = append(other, sched...)
	})
}
