package embedded

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"syscall"
	"time"

	sfp "github.com/sfp-dev/sfp"
	"github.com/sfp-dev/sfp/pkg/jwtkeys"
	"github.com/sfp-dev/sfp/pkg/runtime"
	"github.com/sfp-dev/sfp/pkg/server/gateway"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// ReloadSignal asks a running tenant process to take the keys its .env and
// tenant.yaml now hold (`sfp server keys rotate|revoke|rotate-signing`
// send it). Not SIGHUP: a tenant run in the foreground of a terminal must
// still stop when the terminal goes away.
const ReloadSignal = syscall.SIGUSR1

// keyState is what the services run with for the tenant's keys, replaced
// as a whole when they change: the gateway built from kong.yml with the
// tenant's credentials, the token the runtime's own calls carry, and the
// version (tenant.KeysVersion) they came from. The servers share the key
// Set through services.ring.
type keyState struct {
	version      string
	gateway      http.Handler
	serviceToken string
}

// ensureKeys gives a tenant made before the current key model its
// publishable and secret keys and its signing key, saved to .env.
func ensureKeys(t *tenant.Tenant, progress func(string)) error {
	return t.UpdateSecrets(func(s *tenant.Secrets) (bool, error) {
		changed, err := s.EnsureKeys(time.Now())
		if changed && err == nil {
			progress("Added the new API keys and signing key to " + t.EnvFile())
		}
		if err != nil || !t.Config.Auth.SAML.Enabled {
			return changed, err
		}
		made, err := s.EnsureSAMLKey()
		if made && err == nil {
			progress("Added the SAML signing key (SAML_PRIVATE_KEY) to " + t.EnvFile())
		}
		return changed || made, err
	})
}

// keySet is the key Set the servers sign and verify with for t.
func keySet(t *tenant.Tenant) (*jwtkeys.Set, error) {
	set, err := t.Secrets.KeySet(t.Config.Auth.LegacyKeysEnabled())
	if err != nil {
		return nil, fmt.Errorf("load signing keys: %w", err)
	}
	if !set.CanSign() {
		return nil, fmt.Errorf("load signing keys: %s has no current signing key", t.EnvFile())
	}
	return set, nil
}

// buildKeys makes the gateway and the key Set for t's keys. Nothing is
// changed: applyKeys installs them.
func (s *services) buildKeys(t *tenant.Tenant) (*jwtkeys.Set, *keyState, error) {
	set, err := keySet(t)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := gateway.Parse(sfp.KongConfig(), "kong.yml", t.KongEnv())
	if err != nil {
		return nil, nil, fmt.Errorf("load gateway configuration: %w", err)
	}
	gw, err := gateway.New(cfg, gateway.Options{
		Upstreams:    s.upstreams,
		MaxBodyBytes: t.Config.API.MaxBodyBytes,
		BodyTimeout:  time.Duration(t.Config.API.ReadBodyTimeout),
		Logger:       s.inst.log.With("component", "gateway"),
		Observer:     s.inst.obs.metrics,
	})
	if err != nil {
		return nil, nil, fmt.Errorf("start gateway: %w", err)
	}
	return set, &keyState{version: t.KeysVersion(), gateway: gw, serviceToken: t.Secrets.ServiceRoleKeyAsymmetric}, nil
}

// applyKeys installs t's keys: the servers' Set first, then the gateway,
// so no request passes a new credential to a server without its key.
func (s *services) applyKeys(t *tenant.Tenant) error {
	set, ks, err := s.buildKeys(t)
	if err != nil {
		return err
	}
	s.ring.Store(set)
	s.keys.Store(ks)
	return nil
}

// ServeHTTP hands a request to the current gateway. Requests in flight
// finish with the gateway they started with.
func (s *services) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.keys.Load().gateway.ServeHTTP(w, r)
}

// ReloadKeys makes the running tenant take the keys its .env and
// tenant.yaml hold now — a new or revoked secret key, a signing key added,
// promoted or retired, legacy keys switched on or off — without a
// restart: tokens are verified with the new Set from the next request on,
// and the gateway accepts the new credentials. Settings other than the
// keys wait for a restart. It returns the keys version now in use.
func (i *Instance) ReloadKeys(ctx context.Context) (string, error) {
	if i.services == nil {
		return "", fmt.Errorf("reload keys of tenant %q: its services are not running", i.T.Name())
	}
	i.reloadMu.Lock()
	defer i.reloadMu.Unlock()
	t, err := i.T.Reload()
	if err != nil {
		return "", fmt.Errorf("reload keys: %w", err)
	}
	if err := i.services.applyKeys(t); err != nil {
		return "", fmt.Errorf("reload keys: %w", err)
	}
	if err := i.services.applyExternal(t); err != nil {
		return "", fmt.Errorf("reload auth providers: %w", err)
	}
	v := i.services.keys.Load().version
	i.log.Info("keys reloaded", "keys_version", v)
	return v, nil
}

// KeysVersion is the version of the keys the running services use.
func (i *Instance) KeysVersion() string {
	if i.services == nil {
		return ""
	}
	return i.services.keys.Load().version
}

var _ runtime.KeyApplier = (*Runtime)(nil)

// ApplyKeys makes a running tenant take the keys its .env holds now: it
// signals the tenant's process (ReloadSignal) and waits until the process
// reports the tenant's current keys version in its state file. A stopped
// tenant takes them at its next start (applied false, no error).
func (r *Runtime) ApplyKeys(ctx context.Context, t *tenant.Tenant) (bool, error) {
	running, pid := t.Running()
	if !running || pid <= 0 {
		return false, nil
	}
	want := t.KeysVersion()
	s, ok := readState(t)
	if !ok || !s.Ready || s.PID != pid || s.KeysVersion == "" {
		// Not ready yet (or an sfp too old to reload): it reads .env as
		// it starts, or must be restarted.
		return false, fmt.Errorf("apply keys: tenant %q (pid %d) is not ready to reload its keys; restart it with `sfp server stop -t %s` and `sfp server start -t %s`",
			t.Name(), pid, t.Name(), t.Name())
	}
	if s.KeysVersion == want {
		return true, nil
	}
	proc, err := os.FindProcess(pid)
	if err == nil {
		err = proc.Signal(ReloadSignal)
	}
	if err != nil {
		return false, fmt.Errorf("apply keys: signal tenant %q (pid %d): %w", t.Name(), pid, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if s, ok := readState(t); ok && s.PID == pid && s.KeysVersion == want {
			return true, nil
		}
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return false, fmt.Errorf("apply keys: tenant %q (pid %d) did not report the new keys within 30 s; see %s, or restart it", t.Name(), pid, t.SfpLog())
}
