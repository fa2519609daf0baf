package cmdutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/sfp-dev/sfp/pkg/client"
)

// Config is what `sfp login` and `sfp account use` remember between runs,
// in <config dir>/config.json (0600). The session's tokens live next to it
// in session.json (0600).
type Config struct {
	// Server is the tenant URL the session belongs to.
	Server string `json:"server,omitempty"`
	// APIKey is the tenant's anon key (public, but kept private anyway).
	APIKey string `json:"api_key,omitempty"`
	// Email the user logged in with.
	Email string `json:"email,omitempty"`
	// Account is the slug chosen with `sfp account use`.
	Account string `json:"account,omitempty"`

	// dir is where the configuration was read from and is saved to; ""
	// for a worker's empty configuration, which is never saved.
	dir string
}

// ConfigFunc returns the configuration; commands hold one and call it
// lazily, so that `--help` and flag errors touch no disk.
type ConfigFunc func() (*Config, error)

const (
	configFile  = "config.json"
	sessionFile = "session.json"
)

// DefaultConfigDir is SFP_CONFIG_DIR, else <user config dir>/sfp
// (~/.config/sfp on Linux).
func DefaultConfigDir(getenv func(string) string) (string, error) {
	if d := getenv("SFP_CONFIG_DIR"); d != "" {
		return filepath.Abs(d)
	}
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the configuration directory (set SFP_CONFIG_DIR): %w", err)
	}
	return filepath.Join(d, "sfp"), nil
}

// ReadConfig reads the configuration kept in dir; a missing file is an
// empty Config that Save writes there.
func ReadConfig(dir string) (*Config, error) {
	raw, err := os.ReadFile(filepath.Join(dir, configFile))
	if errors.Is(err, fs.ErrNotExist) {
		return &Config{dir: dir}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	c := Config{dir: dir}
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, fmt.Errorf("read configuration %s: %w", filepath.Join(dir, configFile), err)
	}
	return &c, nil
}

// Save writes the configuration back where it was read (0600, directory
// 0700).
func (c *Config) Save() error {
	if c.dir == "" {
		return errors.New("save configuration: it was not read from a directory")
	}
	raw, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	if err := client.WriteFileAtomic(filepath.Join(c.dir, configFile), append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("save configuration: %w", err)
	}
	return nil
}

// SessionStore is the file store of the session kept next to the
// configuration.
func (c *Config) SessionStore() *client.FileStore {
	return client.NewFileStore(filepath.Join(c.dir, sessionFile))
}
