package backup

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/sfp-dev/sfp/pkg/tenant"
)

// ComposeRestore is what restoring a docker tenant needs of the docker
// runtime (pkg/runtime/docker): writing the tenant's compose project,
// loading a cluster into its db volume, the PostgreSQL major version of
// its db image, and removing the project's containers and volumes.
type ComposeRestore interface {
	Init(ctx context.Context, t *tenant.Tenant) error
	LoadDB(ctx context.Context, t *tenant.Tenant, base io.Reader) error
	DBMajor(t *tenant.Tenant) (major int, known bool, err error)
	Remove(ctx context.Context, t *tenant.Tenant) error
}

// restoreDocker restores a docker tenant's physical backup: the tenant
// directory from the backup's configuration and secrets (new name, free
// ports), its compose project, and the cluster loaded into the db volume,
// which the next `sfp server start` recovers as after a crash.
//
// The cluster is first read whole into the tenant directory, so a
// truncated or tampered backup fails before any volume is touched. A tenant
// of the same name (--force) is replaced: its compose project's volumes
// are removed before the new cluster is loaded, so, unlike an embedded
// tenant, it cannot be put back if loading then fails.
func restoreDocker(ctx context.Context, tr *tar.Reader, h *head, opts RestoreOptions) (res *RestoreResult, err error) {
	if opts.Docker == nil {
		return nil, fmt.Errorf("restore: %s is a backup of docker tenant %q, and the docker runtime is not available here", opts.From, h.manifest.Tenant)
	}
	parent := filepath.Dir(tenant.Dir(opts.Base, opts.Name))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, fmt.Errorf("restore tenant %q: %w", opts.Name, err)
	}
	base := filepath.Join(parent, fmt.Sprintf(".%s.restore-%d.tar", opts.Name, os.Getpid()))
	final, err := extractDockerBase(tr, base)
	defer os.Remove(base)
	if err != nil {
		return nil, err
	}
	var old *tenant.Tenant
	if o, lerr := tenant.Load(opts.Base, opts.Name); lerr == nil && o.Config.Runtime == tenant.RuntimeDocker {
		old = o
	}
	t, err := tenant.Place(opts.Base, tenant.PlaceOptions{Name: opts.Name, Config: h.config, Secrets: h.secrets, Force: opts.Force})
	if err != nil {
		return nil, err
	}
	loaded := false
	defer func() {
		if err == nil {
			return
		}
		if loaded || old != nil {
			_ = opts.Docker.Remove(context.WithoutCancel(ctx), t)
		}
		os.RemoveAll(t.Dir)
	}()
	if err := opts.Docker.Init(ctx, t); err != nil {
		return nil, fmt.Errorf("restore tenant %q: %w", opts.Name, err)
	}
	if major, known, err := opts.Docker.DBMajor(t); err != nil {
		return nil, fmt.Errorf("restore tenant %q: %w", opts.Name, err)
	} else if known && final.PostgresMajor != 0 && major != final.PostgresMajor {
		return nil, fmt.Errorf("restore tenant %q: the backup holds a PostgreSQL %d cluster, but the tenant's db image is PostgreSQL %d; pin a PostgreSQL %d image in %s first (docs/postgres-upgrade.md)",
			opts.Name, final.PostgresMajor, major, final.PostgresMajor, filepath.Join(t.Dir, "docker-compose.override.yml"))
	}
	if old != nil {
		// The same compose project: its volumes hold the replaced tenant.
		if err := opts.Docker.Remove(ctx, t); err != nil {
			return nil, fmt.Errorf("restore tenant %q: remove the replaced tenant's volumes: %w", opts.Name, err)
		}
	}
	f, err := os.Open(base)
	if err != nil {
		return nil, fmt.Errorf("restore tenant %q: %w", opts.Name, err)
	}
	defer f.Close()
	loaded = true
	if err := opts.Docker.LoadDB(ctx, t, f); err != nil {
		return nil, fmt.Errorf("restore tenant %q: %w", opts.Name, err)
	}
	if err := t.FinishRestore(); err != nil {
		return nil, err
	}
	return restoreResult(t, &opts, final), nil
}

// extractDockerBase writes the backup's docker/base.tar to path (0600) and
// reads the archive to its end, returning the final manifest.
func extractDockerBase(tr *tar.Reader, path string) (*Manifest, error) {
	found := false
	final, err := readToEnd(tr, func(hdr *tar.Header) (bool, error) {
		if hdr.Name != entryDockerBase {
			return false, nil
		}
		found = true
		return true, copyEntry(tr, path)
	})
	if err != nil {
		return nil, err
	}
	if !found || final == nil {
		return nil, fmt.Errorf("read backup: the cluster or the final manifest is missing: %w", ErrTruncated)
	}
	return final, nil
}

func copyEntry(r io.Reader, path string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if _, err := io.Copy(f, r); err != nil {
		f.Close()
		return fmt.Errorf("read backup: %w", truncated(err))
	}
	return f.Close()
}
