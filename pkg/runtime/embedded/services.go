package embedded

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfp-dev/sfp/pkg/client"
	"github.com/sfp-dev/sfp/pkg/jwtkeys"
	"github.com/sfp-dev/sfp/pkg/server/authserver"
	"github.com/sfp-dev/sfp/pkg/server/realtimeserver"
	"github.com/sfp-dev/sfp/pkg/server/rest"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// Upstream hosts as kong.yml names them (the official compose's service
// names); the embedded gateway maps them to the in-process servers.
const (
	hostAuth     = "auth"
	hostREST     = "rest"
	hostRealtime = "realtime-dev.supabase-realtime"
)

// services are the in-process servers behind the gateway.
type services struct {
	inst    *Instance
	handler http.Handler
	stopped chan struct{}
	pools   []*pgxpool.Pool
	auth    *authserver.Server
	rest    *rest.Server
	// realtime and the pools by name, for the tenant's metrics.
	realtime    *realtimeserver.Server
	poolsByName map[string]*pgxpool.Pool
	// ring is the key Set auth, REST and realtime share; keys the gateway
	// and token that go with it (keys.go). Both are replaced together when
	// the tenant's keys change.
	ring      *jwtkeys.Ring
	keys      atomic.Pointer[keyState]
	upstreams map[string]http.Handler
	closers   []func(context.Context) error
	closeErr  error
	// mu guards pools and poolsByName while the servers start together.
	mu sync.Mutex
}

// startServices starts auth, REST, realtime and the gateway over the running
// cluster. Each server connects as its own role: auth as supabase_auth_admin,
// REST and realtime as authenticator (switching to each request's role),
// realtime's change stream as supabase_replication_admin.
//
// The three servers start at the same time: each spends its start waiting
// for PostgreSQL (new connections, REST's schema cache, realtime's slot),
// and one after the other they were the largest part of a warm start.
func startServices(ctx context.Context, inst *Instance, tr *startTrace) (_ *services, err error) {
	t := inst.T
	s := &services{inst: inst, stopped: make(chan struct{})}
	defer func() {
		if err != nil {
			s.close(context.WithoutCancel(ctx))
		}
	}()
	set, err := keySet(t)
	if err != nil {
		return s, err
	}
	s.ring = jwtkeys.NewRing(set)

	starts := []struct {
		phase string
		start func(context.Context) (func(context.Context) error, error)
	}{
		{"auth server", s.startAuth},
		{"REST server", s.startREST},
		{"realtime server", s.startRealtime},
	}
	closers := make([]func(context.Context) error, len(starts))
	errs := make([]error, len(starts))
	var wg sync.WaitGroup
	for i, st := range starts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			done := tr.phase(st.phase)
			closers[i], errs[i] = st.start(ctx)
			done()
		}()
	}
	wg.Wait()
	// Closed in reverse order of this list, whichever started.
	for _, c := range closers {
		if c != nil {
			s.closers = append(s.closers, c)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return s, err
	}
	s.upstreams = map[string]http.Handler{hostAuth: s.auth, hostREST: s.rest}
	if s.realtime != nil {
		s.upstreams[hostRealtime] = s.realtime
	}
	if err := s.applyKeys(t); err != nil {
		return s, err
	}
	s.handler = s
	s.startHousekeeping(context.WithoutCancel(ctx))
	return s, nil
}

// startAuth starts the auth server and returns its closer.
func (s *services) startAuth(ctx context.Context) (func(context.Context) error, error) {
	t, c := s.inst.T, s.inst.Cluster
	authPool, err := s.pool(ctx, "auth", c.ConnString("supabase_auth_admin", t.Secrets.AuthAdminPassword, "postgres"), 8)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	external, err := authExternal(t)
	if err != nil {
		return nil, fmt.Errorf("start auth: %w", err)
	}
	samlCfg, err := samlConfig(t)
	if err != nil {
		return nil, err
	}
	s.auth, err = authserver.New(ctx, authserver.Config{
		External:  external,
		Pool:      authPool,
		Keys:      s.ring,
		JWTExpiry: time.Duration(t.Config.Auth.JWTExpiry) * time.Second,
		// As the Supabase CLI and hosted projects set it.
		Issuer:            t.URL() + "/auth/v1",
		SiteURL:           t.Config.Auth.SiteURL,
		MailerAutoconfirm: t.Config.Auth.Autoconfirm,
		DisableSignup:     t.Config.Auth.DisableSignup,
		MinPasswordLength: t.Config.Auth.MinPasswordLength,
		PasswordHashCost:  s.inst.opts.PasswordHashCost,
		MFA: authserver.MFAConfig{
			TOTPEnrollDisabled: !t.Config.Auth.MFA.TOTPEnroll(),
			TOTPVerifyDisabled: !t.Config.Auth.MFA.TOTPVerify(),
			MaxEnrolledFactors: t.Config.Auth.MFA.MaxFactors(),
		},
		SAML:    samlCfg,
		Logger:  s.inst.log, // authserver.New adds component=auth
		OnEvent: s.inst.obs.metrics.AuthEvent,
	})
	if err != nil {
		return nil, fmt.Errorf("start auth: %w", err)
	}
	return func(context.Context) error { return s.auth.Close() }, nil
}

// startREST starts the REST server (its schema cache loaded) and returns
// its closer.
func (s *services) startREST(ctx context.Context) (func(context.Context) error, error) {
	t, c := s.inst.T, s.inst.Cluster
	restPool, err := s.pool(ctx, "rest", c.ConnString("authenticator", t.Secrets.AuthenticatorPassword, "postgres"), 24)
	if err != nil {
		return nil, fmt.Errorf("rest: %w", err)
	}
	s.rest, err = rest.New(ctx, rest.Config{
		Pool:    restPool,
		Keys:    s.ring,
		Schemas: t.Config.REST.Schemas,
		MaxRows: t.Config.REST.MaxRows,
		Logger:  s.inst.log.With("component", "rest"),
	})
	if err != nil {
		return nil, fmt.Errorf("start rest: %w", err)
	}
	return func(context.Context) error { return s.rest.Close() }, nil
}

func (s *services) pool(ctx context.Context, name, url string, max int32) (*pgxpool.Pool, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse connection config: %w", err)
	}
	cfg.MaxConns = max
	cfg.MaxConnIdleTime = 5 * time.Minute
	p, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect as %s: %w", cfg.ConnConfig.User, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.pools = append(s.pools, p)
	if s.poolsByName == nil {
		s.poolsByName = map[string]*pgxpool.Pool{}
	}
	s.poolsByName[name] = p
	return p, nil
}

// close stops the servers in reverse order, then closes the pools.
func (s *services) close(ctx context.Context) error {
	select {
	case <-s.stopped:
		return s.closeErr
	default:
	}
	var errs []error
	for i := len(s.closers) - 1; i >= 0; i-- {
		if err := s.closers[i](ctx); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range s.pools {
		p.Close()
	}
	s.closeErr = errors.Join(errs...)
	close(s.stopped)
	return s.closeErr
}

// bootstrapAdmin creates the admin user asked for at init (and the account
// it owns), once: afterwards the password hash is removed from .env.
func (s *services) bootstrapAdmin(ctx context.Context, progress func(string)) error {
	t := s.inst.T
	if t.Config.Admin.Email == "" || t.Secrets.AdminPasswordHash == "" {
		return nil
	}
	progress("Creating the admin user " + t.Config.Admin.Email)
	u, err := s.auth.CreateUser(ctx, authserver.UserParams{
		Email:        t.Config.Admin.Email,
		PasswordHash: t.Secrets.AdminPasswordHash,
		EmailConfirm: true,
	})
	var aerr *authserver.Error
	if errors.As(err, &aerr) && (aerr.Code == authserver.CodeEmailExists || aerr.Code == authserver.CodeUserAlreadyExists) {
		progress("The admin user already exists")
		u = nil
	} else if err != nil {
		return fmt.Errorf("create admin user: %w", err)
	}
	if u != nil && t.Config.Admin.Account != "" {
		progress("Creating the account " + t.Config.Admin.Account + " owned by the admin")
		if err := s.createAccount(ctx, t.Config.Admin.Account, u.ID); err != nil {
			return err
		}
	}
	// Under the secrets lock: a keys command may be writing .env too.
	if err := t.UpdateSecrets(func(s *tenant.Secrets) (bool, error) {
		s.AdminPasswordHash = ""
		return true, nil
	}); err != nil {
		return fmt.Errorf("forget the admin password hash: %w", err)
	}
	return nil
}

// createAccount calls create_account as service_role, with the runtime's
// own service token (the gateway would need an API key of the service_role,
// and the tenant may have none: its secret key revoked, legacy keys off).
func (s *services) createAccount(ctx context.Context, name, ownerID string) error {
	body, _ := json.Marshal(map[string]string{"name": name, "slug": client.Slugify(name), "owner_id": ownerID})
	status, b, err := callInProcess(ctx, s.rest, http.MethodPost, "/rpc/create_account",
		http.Header{"Authorization": {"Bearer " + s.keys.Load().serviceToken}, "Content-Type": {"application/json"}}, body)
	if err != nil {
		return fmt.Errorf("create account %q: %w", name, err)
	}
	if status != http.StatusOK {
		return fmt.Errorf("create account %q: HTTP %d: %s", name, status, strings.TrimSpace(string(b)))
	}
	return nil
}
