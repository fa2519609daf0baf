package embedded

import (
	"context"
	"net/http"
	"strings"
	"time"
)

// DefaultExpiryInterval is how often the runtime applies lease expiry to every
// environment. The lease RPCs apply it lazily to the environment they touch;
// this makes an expired lease end (and the next ticket get promoted, which
// Realtime watchers see) within this interval even when nobody calls them.
const DefaultExpiryInterval = 15 * time.Second

// startHousekeeping runs the periodic jobs of a tenant until ctx ends, as
// service_role.
func (s *services) startHousekeeping(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		every := s.inst.opts.ExpiryInterval
		if every <= 0 {
			every = DefaultExpiryInterval
		}
		tick := time.NewTicker(every)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				s.rpc(ctx, "expire_environment_allocations")
			}
		}
	}()
	s.closers = append(s.closers, func(context.Context) error { cancel(); <-done; return nil })
}

// rpc calls a function through the REST server directly (not the gateway,
// whose access log would record every tick), with the runtime's service
// token (an ES256 service_role JWT: valid whether or not legacy keys are).
func (s *services) rpc(ctx context.Context, fn string) {
	status, b, err := callInProcess(ctx, s.rest, http.MethodPost, "/rpc/"+fn,
		http.Header{"Authorization": {"Bearer " + s.keys.Load().serviceToken}, "Content-Type": {"application/json"}}, []byte("{}"))
	if (err != nil || status >= 300) && ctx.Err() == nil {
		s.inst.log.Warn("housekeeping call failed", "function", fn, "status", status, "body", strings.TrimSpace(string(b)), "err", err)
	}
}
