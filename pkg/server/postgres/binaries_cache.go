package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// versionCache remembers what `postgres --version` said for a binary, in a
// small JSON file, keyed by the binary's identity: its path, size, inode and
// modification and change times. Running the server binary to learn its
// version took longer than any other step of a tenant's start before the
// server itself; a replaced or upgraded binary has another identity and is
// asked again.
type versionCache struct{ path string }

func binaryIdentity(dir string) (string, error) {
	fi, err := os.Stat(filepath.Join(dir, "postgres"))
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", fmt.Errorf("stat %s: unsupported platform", dir)
	}
	return fmt.Sprintf("%s|%d|%d|%d|%d.%d|%d.%d", filepath.Join(dir, "postgres"), st.Dev, st.Ino, st.Size,
		st.Mtim.Sec, st.Mtim.Nsec, st.Ctim.Sec, st.Ctim.Nsec), nil
}

func (c versionCache) read() map[string]Binaries {
	m := map[string]Binaries{}
	if b, err := os.ReadFile(c.path); err == nil {
		_ = json.Unmarshal(b, &m) // a damaged cache is an empty one
	}
	return m
}

// inspect returns the cached answer for dir, or asks the binary and
// records its answer (best effort: a cache that cannot be written only
// costs the next start the question).
func (c versionCache) inspect(ctx context.Context, dir string) (Binaries, error) {
	if c.path == "" {
		return inspect(ctx, dir)
	}
	id, err := binaryIdentity(dir)
	if err != nil {
		return inspect(ctx, dir)
	}
	m := c.read()
	if b, ok := m[id]; ok && b.Dir == dir && b.Major > 0 {
		return b, nil
	}
	b, err := inspect(ctx, dir)
	if err != nil {
		return b, err
	}
	m[id] = b
	if raw, err := json.Marshal(m); err == nil {
		tmp := c.path + ".tmp"
		if os.WriteFile(tmp, raw, 0o600) == nil {
			_ = os.Rename(tmp, c.path)
		}
	}
	return b, nil
}
