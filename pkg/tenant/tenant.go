// Package tenant manages tenant directories: each tenant's configuration,
// generated secrets and keys, and where its runtime keeps data, logs and
// its pid file.
//
//	<base>/tenants/<name>/
//	  tenant.yaml   configuration (no secrets)
//	  .env          secrets and keys (0600), in the variable names of the
//	                official self-hosted Supabase .env, so docker compose
//	                reads it as is
//	  pgdata/       the PostgreSQL cluster (embedded runtime)
//	  logs/         sfp.log, postgres.log
//	  run/          sfp.pid, lock, state.json while running
//
// Two tenants share nothing: separate directories, secrets, keys and ports.
package tenant

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DefaultBaseDir is where tenants live unless --base-dir or SFP_BASE_DIR say
// otherwise (relative to the working directory).
const DefaultBaseDir = "sfp-server"

// Runtime is how a tenant runs.
type Runtime string

// The two runtimes.
const (
	RuntimeEmbedded Runtime = "embedded" // one sfp process and a PostgreSQL cluster it supervises
	RuntimeDocker   Runtime = "docker"   // docker compose with the official images
)

// ErrNotFound is returned by Load for a tenant that does not exist.
var ErrNotFound = errors.New("tenant not found")

// ErrExists is returned by Create for an existing tenant without Force.
var ErrExists = errors.New("tenant already exists")

var nameRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$`)

// ValidateName checks a tenant name: lowercase letters, digits and hyphens,
// starting and ending with a letter or digit, at most 40 characters (it
// becomes part of directory, compose project and database names).
func ValidateName(name string) error {
	if name == "" {
		return errors.New("a tenant name is required (-t NAME)")
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("invalid tenant name %q: use lowercase letters, digits and hyphens (at most 40, not starting or ending with a hyphen)", name)
	}
	return nil
}

// ResolveBaseDir returns the absolute base directory: flag, else
// SFP_BASE_DIR, else ./sfp-server.
func ResolveBaseDir(flag string, getenv func(string) string) (string, error) {
	dir := flag
	if dir == "" && getenv != nil {
		dir = getenv("SFP_BASE_DIR")
	}
	if dir == "" {
		dir = DefaultBaseDir
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("resolve base directory: %w", err)
	}
	return abs, nil
}

// Config is tenant.yaml. Everything in it may be edited by hand; secrets
// live in .env instead.
type Config struct {
	Name      string    `yaml:"name"`
	Runtime   Runtime   `yaml:"runtime"`
	CreatedAt time.Time `yaml:"created_at"`

	API      APIConfig      `yaml:"api"`
	Postgres PostgresConfig `yaml:"postgres"`
	Auth     AuthConfig     `yaml:"auth"`
	REST     RESTConfig     `yaml:"rest"`
	Realtime RealtimeConfig `yaml:"realtime"`
	Admin    AdminConfig    `yaml:"admin,omitempty"`
	Backup   BackupConfig   `yaml:"backup,omitempty"`
	// Monitoring is the admin listener (/live, /ready, /metrics).
	Monitoring MonitoringConfig `yaml:"monitoring,omitempty"`
}

// APIConfig is the gateway: the one address clients use.
type APIConfig struct {
	Port int `yaml:"port"` // on 127.0.0.1 (embedded) or published by compose (docker)
	// Host to listen on (embedded); default 127.0.0.1.
	Host string `yaml:"host,omitempty"`
	// ExternalURL is the URL clients use, when it differs from
	// http://<host>:<port> (behind a proxy).
	ExternalURL string `yaml:"external_url,omitempty"`
	// MaxBodyBytes limits request bodies at the gateway.
	MaxBodyBytes int64 `yaml:"max_body_bytes,omitempty"`
	// Deadlines and the connection cap (limits.go).
	APILimits `yaml:",inline"`
}

// PostgresConfig is the tenant's database.
type PostgresConfig struct {
	Port int `yaml:"port"` // on 127.0.0.1
	// Restart is how the embedded runtime treats a crash of PostgreSQL.
	Restart RestartConfig `yaml:"restart,omitempty"`
}

// RestartConfig bounds the embedded runtime's restarts of a crashed
// PostgreSQL: a crash is restarted (crash recovery) with backoff, but the
// MaxCrashes-th crash within Window stops the tenant with an error, since a
// server that keeps crashing needs an operator rather than more restarts.
type RestartConfig struct {
	// MaxCrashes is how many crashes within Window stop the tenant;
	// default 5. 1 means never restart.
	MaxCrashes int `yaml:"max_crashes,omitempty"`
	// Window is the period crashes are counted over, e.g. "10m"; default
	// 10 minutes.
	Window time.Duration `yaml:"window,omitempty"`
}

// Defaults of RestartConfig.
const (
	DefaultMaxCrashes    = 5
	DefaultRestartWindow = 10 * time.Minute
)

// AuthConfig are the GoTrue settings the embedded auth server honours (and
// the docker runtime passes to GoTrue).
type AuthConfig struct {
	SiteURL           string `yaml:"site_url"`
	JWTExpiry         int    `yaml:"jwt_expiry"` // seconds
	Autoconfirm       bool   `yaml:"autoconfirm"`
	DisableSignup     bool   `yaml:"disable_signup"`
	MinPasswordLength int    `yaml:"min_password_length"`
	// LegacyKeys keeps the legacy key model working beside the new one:
	// the anon and service_role JWT keys as apikey, and HS256 tokens
	// signed with JWT_SECRET. Off, the gateway refuses those keys and the
	// servers refuse HS256 tokens: only publishable and secret keys and
	// ES256 tokens work. Default true (existing clients keep working).
	LegacyKeys *bool `yaml:"legacy_keys,omitempty"`
	// SMTP is where GoTrue sends its mail (docker runtime; the embedded
	// auth server sends none). The password is SMTP_PASS in .env.
	SMTP SMTPConfig `yaml:"smtp,omitempty"`
	// External are the OAuth providers by GoTrue name (external.go).
	External map[string]ExternalProvider `yaml:"external,omitempty"`
	// AdditionalRedirectURLs are the redirect_to patterns allowed besides
	// site_url (GOTRUE_URI_ALLOW_LIST; the compose file's
	// ADDITIONAL_REDIRECT_URLS, which they replace when set).
	AdditionalRedirectURLs []string `yaml:"additional_redirect_urls,omitempty"`
	// ManualLinking opens /user/identities (linking and unlinking
	// identities by the signed-in user), as
	// GOTRUE_SECURITY_MANUAL_LINKING_ENABLED.
	ManualLinking bool `yaml:"manual_linking,omitempty"`
	// MFA is TOTP multi-factor authentication (mfa.go).
	MFA MFAConfig `yaml:"mfa,omitempty"`
	// SAML is SAML 2.0 single sign-on (saml.go).
	SAML SAMLConfig `yaml:"saml,omitempty"`
}

// LegacyKeysEnabled tells whether the legacy anon/service_role keys and
// HS256 tokens are accepted (auth.legacy_keys, default true).
func (c AuthConfig) LegacyKeysEnabled() bool { return c.LegacyKeys == nil || *c.LegacyKeys }

// SMTPConfig is GoTrue's mail server (GOTRUE_SMTP_*): unset, no mail is
// sent and sign-ups are confirmed automatically (MailEnabled).
type SMTPConfig struct {
	Host string `yaml:"host,omitempty"`
	// Port defaults to 587 (submission with STARTTLS).
	Port int    `yaml:"port,omitempty"`
	User string `yaml:"user,omitempty"`
	// AdminEmail is the sender address of every mail; required with Host.
	AdminEmail string `yaml:"admin_email,omitempty"`
	// SenderName is the display name beside it.
	SenderName string `yaml:"sender_name,omitempty"`
}

// DefaultSMTPPort is the SMTP port when auth.smtp.port is not set.
const DefaultSMTPPort = 587

// MailEnabled reports whether GoTrue can send mail: an SMTP host is set.
func (a AuthConfig) MailEnabled() bool { return a.SMTP.Host != "" }

// EffectiveAutoconfirm is whether sign-ups are confirmed at once: as
// auth.autoconfirm says when mail can be sent, always when it cannot (a
// confirmation mail that is never sent would lock the user out for good).
func (a AuthConfig) EffectiveAutoconfirm() bool { return a.Autoconfirm || !a.MailEnabled() }

// RESTConfig are the PostgREST settings.
type RESTConfig struct {
	Schemas []string `yaml:"schemas"`
	MaxRows int      `yaml:"max_rows"`
}

// AdminConfig asks the first start to create an admin user and, if
// Account is set, an account owned by it.
type AdminConfig struct {
	Email   string `yaml:"email,omitempty"`
	Account string `yaml:"account,omitempty"`
}

// Defaults fills unset settings.
func (c *Config) Defaults() {
	if c.Runtime == "" {
		c.Runtime = RuntimeEmbedded
	}
	if c.API.Host == "" {
		c.API.Host = "127.0.0.1"
	}
	if c.API.MaxBodyBytes == 0 {
		c.API.MaxBodyBytes = 10 << 20
	}
	if c.Auth.JWTExpiry == 0 {
		c.Auth.JWTExpiry = 3600
	}
	if c.Auth.MinPasswordLength == 0 {
		c.Auth.MinPasswordLength = 6
	}
	if c.Auth.SiteURL == "" {
		c.Auth.SiteURL = "http://localhost:3000"
	}
	if c.Auth.LegacyKeys == nil {
		legacy := true
		c.Auth.LegacyKeys = &legacy
	}
	if c.Auth.SMTP.Host != "" && c.Auth.SMTP.Port == 0 {
		c.Auth.SMTP.Port = DefaultSMTPPort
	}
	if len(c.REST.Schemas) == 0 {
		c.REST.Schemas = []string{"public"}
	}
	if c.REST.MaxRows == 0 {
		c.REST.MaxRows = 1000
	}
	if c.Postgres.Restart.MaxCrashes == 0 {
		c.Postgres.Restart.MaxCrashes = DefaultMaxCrashes
	}
	if c.Postgres.Restart.Window == 0 {
		c.Postgres.Restart.Window = DefaultRestartWindow
	}
	c.limitDefaults()
	c.Backup.defaults()
	c.monitoringDefaults()
}

// Validate checks the configuration; errors name the setting.
func (c *Config) Validate() error {
	if err := ValidateName(c.Name); err != nil {
		return fmt.Errorf("name: %w", err)
	}
	if c.Runtime != RuntimeEmbedded && c.Runtime != RuntimeDocker {
		return fmt.Errorf("runtime: %q is not embedded or docker", c.Runtime)
	}
	if c.API.Port < 1 || c.API.Port > 65535 {
		return fmt.Errorf("api.port: %d is not a TCP port", c.API.Port)
	}
	if c.Postgres.Port < 1 || c.Postgres.Port > 65535 {
		return fmt.Errorf("postgres.port: %d is not a TCP port", c.Postgres.Port)
	}
	if c.API.Port == c.Postgres.Port {
		return fmt.Errorf("api.port and postgres.port are both %d", c.API.Port)
	}
	if net.ParseIP(c.API.Host) == nil {
		return fmt.Errorf("api.host: %q is not an IP address", c.API.Host)
	}
	if c.Auth.JWTExpiry < 30 || c.Auth.JWTExpiry > 7*24*3600 {
		return fmt.Errorf("auth.jwt_expiry: %d seconds is outside 30..604800", c.Auth.JWTExpiry)
	}
	if c.Auth.MinPasswordLength < 6 {
		return fmt.Errorf("auth.min_password_length: %d is below 6", c.Auth.MinPasswordLength)
	}
	if err := c.Auth.SMTP.validate(); err != nil {
		return err
	}
	if err := c.Auth.validateExternal(); err != nil {
		return err
	}
	if err := c.Auth.MFA.Validate(); err != nil {
		return err
	}
	if c.REST.MaxRows < 1 {
		return fmt.Errorf("rest.max_rows: %d must be positive", c.REST.MaxRows)
	}
	if c.Postgres.Restart.MaxCrashes < 1 {
		return fmt.Errorf("postgres.restart.max_crashes: %d must be at least 1 (1 stops the tenant at the first crash)", c.Postgres.Restart.MaxCrashes)
	}
	if c.Postgres.Restart.Window < time.Second {
		return fmt.Errorf("postgres.restart.window: %s must be at least 1s (a duration such as \"10m\")", c.Postgres.Restart.Window)
	}
	if err := c.Backup.validate(); err != nil {
		return err
	}
	if err := c.validateMonitoring(); err != nil {
		return err
	}
	return c.validateLimits()
}

func (s SMTPConfig) validate() error {
	if s.Host == "" {
		if s != (SMTPConfig{}) {
			return errors.New("auth.smtp: set host too (the other settings need a mail server)")
		}
		return nil
	}
	if strings.ContainsAny(s.Host, " /:@") {
		return fmt.Errorf("auth.smtp.host: %q is not a host name or address (no scheme, port or user; the port is auth.smtp.port)", s.Host)
	}
	if s.Port < 1 || s.Port > 65535 {
		return fmt.Errorf("auth.smtp.port: %d is not a TCP port", s.Port)
	}
	if s.AdminEmail == "" {
		return errors.New("auth.smtp.admin_email: required with auth.smtp.host (the sender address of GoTrue's mail)")
	}
	if at := strings.IndexByte(s.AdminEmail, '@'); at < 1 || at == len(s.AdminEmail)-1 || strings.ContainsAny(s.AdminEmail, " \t<>") {
		return fmt.Errorf("auth.smtp.admin_email: %q is not an email address", s.AdminEmail)
	}
	if strings.ContainsAny(s.User+s.SenderName, "\r\n") {
		return errors.New("auth.smtp: user and sender_name must be one line")
	}
	return nil
}

// Tenant is a loaded tenant directory.
type Tenant struct {
	Dir     string
	Config  Config
	Secrets *Secrets
}

// Name is the tenant's name.
func (t *Tenant) Name() string { return t.Config.Name }

// Paths inside the tenant directory.
func (t *Tenant) ConfigFile() string { return filepath.Join(t.Dir, "tenant.yaml") }
func (t *Tenant) EnvFile() string    { return filepath.Join(t.Dir, ".env") }
func (t *Tenant) DataDir() string    { return filepath.Join(t.Dir, "pgdata") }
func (t *Tenant) LogDir() string     { return filepath.Join(t.Dir, "logs") }
func (t *Tenant) RunDir() string     { return filepath.Join(t.Dir, "run") }
func (t *Tenant) PidFile() string    { return filepath.Join(t.RunDir(), "sfp.pid") }
func (t *Tenant) LockFile() string   { return filepath.Join(t.RunDir(), "lock") }
func (t *Tenant) StateFile() string  { return filepath.Join(t.RunDir(), "state.json") }
func (t *Tenant) SfpLog() string     { return filepath.Join(t.LogDir(), "sfp.log") }
func (t *Tenant) PostgresLog() string {
	return filepath.Join(t.LogDir(), "postgres.log")
}

// URL is the address clients use: the external URL, else the gateway's.
func (t *Tenant) URL() string {
	if t.Config.API.ExternalURL != "" {
		return t.Config.API.ExternalURL
	}
	host := t.Config.API.Host
	if host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(t.Config.API.Port))
}

// Dir returns the directory of tenant name under base.
func Dir(base, name string) string { return filepath.Join(base, "tenants", name) }

// CreateOptions are the inputs of Create.
type CreateOptions struct {
	Name    string
	Runtime Runtime
	// APIPort, PostgresPort and MonitoringPort; 0 picks free ports.
	APIPort, PostgresPort int
	MonitoringPort        int
	Admin                 AdminConfig
	// AdminPassword is hashed (bcrypt) into .env for the first start.
	AdminPassword string
	// Force replaces an existing tenant (its data included).
	Force bool
	Now   time.Time
}

// allocatePorts gives c the ports asked for (0: a free one), none used
// by another tenant in base: the API's, then PostgreSQL's next to it
// unless already set (docker), then the admin listener's. action
// ("create", "restore") begins the errors.
func (c *Config) allocatePorts(base, action string, api, postgres, monitoring int) error {
	taken, err := usedPorts(base)
	if err != nil {
		return err
	}
	first, err := firstPort()
	if err != nil {
		return fmt.Errorf("%s tenant: %w", action, err)
	}
	if c.API.Port, err = pickPort(api, first, taken); err != nil {
		return fmt.Errorf("%s tenant: api port: %w", action, err)
	}
	taken[c.API.Port] = true
	if c.Postgres.Port == 0 {
		if c.Postgres.Port, err = pickPort(postgres, c.API.Port+1, taken); err != nil {
			return fmt.Errorf("%s tenant: postgres port: %w", action, err)
		}
	}
	if err := c.allocateMonitoringPort(monitoring, taken); err != nil {
		return fmt.Errorf("%s tenant: %w", action, err)
	}
	return nil
}

// replaceExisting makes way for a new tenant directory: a tenant already
// in dir is removed with force and refused without; a running one is
// refused either way. action ("create", "restore") names what is refused.
func replaceExisting(dir, name, action string, force bool) error {
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	if !force {
		return fmt.Errorf("%s tenant %q in %s: %w (use --force to replace it and its data)", action, name, dir, ErrExists)
	}
	if running, pid := isRunning(dir); running {
		return fmt.Errorf("%s tenant %q: it is running (pid %d); stop it first", action, name, pid)
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove existing tenant %q: %w", name, err)
	}
	return nil
}

// Create writes a new tenant directory with generated secrets and keys.
func Create(base string, opts CreateOptions) (*Tenant, error) {
	if err := ValidateName(opts.Name); err != nil {
		return nil, err
	}
	if (opts.Admin.Email == "") != (opts.AdminPassword == "") {
		return nil, errors.New("create tenant: an admin needs both an email and a password")
	}
	dir := Dir(base, opts.Name)
	if err := replaceExisting(dir, opts.Name, "create", opts.Force); err != nil {
		return nil, err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now().UTC()
	}
	cfg := Config{Name: opts.Name, Runtime: opts.Runtime, CreatedAt: now.Truncate(time.Second), Admin: opts.Admin}
	cfg.Defaults()
	// A new tenant sends no mail (the embedded runtime never does; a docker
	// tenant until auth.smtp is set), so a sign-up not confirmed at once could
	// never be confirmed by its user: new tenants confirm sign-ups
	// automatically (as the Supabase CLI's local stack does). A signed-up
	// user sees nothing until an owner adds them to an account. A docker
	// tenant with SMTP may set auth.autoconfirm: false.
	cfg.Auth.Autoconfirm = true
	if cfg.Runtime == RuntimeDocker {
		// The docker db service listens inside the compose network only.
		cfg.Postgres.Port = 5432
	}
	if err := cfg.allocatePorts(base, "create", opts.APIPort, opts.PostgresPort, opts.MonitoringPort); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("create tenant: %w", err)
	}
	secrets, err := GenerateSecrets(now)
	if err != nil {
		return nil, err
	}
	if opts.AdminPassword != "" {
		if err := secrets.SetAdminPassword(opts.AdminPassword); err != nil {
			return nil, err
		}
	}
	t := &Tenant{Dir: dir, Config: cfg, Secrets: secrets}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create tenant directory: %w", err)
	}
	if err := t.writeNew(); err != nil {
		return nil, err
	}
	return t, nil
}

// writeNew fills a new tenant directory: its log and run directories,
// tenant.yaml and .env.
func (t *Tenant) writeNew() error {
	for _, d := range []string{t.LogDir(), t.RunDir()} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create tenant directory: %w", err)
		}
	}
	if err := t.SaveConfig(); err != nil {
		return err
	}
	return t.SaveSecrets()
}

// SaveConfig writes tenant.yaml atomically.
func (t *Tenant) SaveConfig() error {
	var b bytes.Buffer
	b.WriteString("# sfp tenant configuration. Secrets and keys are in .env next to this file.\n")
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(t.Config); err != nil {
		return fmt.Errorf("encode tenant.yaml: %w", err)
	}
	return writeFileAtomic(t.ConfigFile(), b.Bytes(), 0o644)
}

// SaveSecrets writes .env atomically with mode 0600, unless it already
// holds exactly that.
func (t *Tenant) SaveSecrets() error {
	data, err := t.Secrets.encode(t.Config.Name, t.Config.Auth.LegacyKeysEnabled())
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(t.EnvFile()); err == nil && bytes.Equal(old, data) {
		return nil
	}
	return writeFileAtomic(t.EnvFile(), data, 0o600)
}

// Load reads tenant name under base.
func Load(base, name string) (*Tenant, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	dir := Dir(base, name)
	raw, err := os.ReadFile(filepath.Join(dir, "tenant.yaml"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("tenant %q in %s: %w (create it with `sfp server init -t %s`)", name, base, ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("load tenant %q: %w", name, err)
	}
	if err := checkComplete(dir, name); err != nil {
		return nil, err
	}
	t := &Tenant{Dir: dir}
	if err := decodeConfig(raw, filepath.Join(dir, "tenant.yaml"), &t.Config); err != nil {
		return nil, err
	}
	if t.Config.Name != name {
		return nil, fmt.Errorf("load tenant %q: %s names it %q", name, t.ConfigFile(), t.Config.Name)
	}
	if t.Secrets, err = loadSecrets(t.EnvFile()); err != nil {
		return nil, err
	}
	return t, nil
}

func decodeConfig(raw []byte, filename string, cfg *Config) error {
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil {
		return fmt.Errorf("read %s: %w", filename, err)
	}
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return fmt.Errorf("read %s: %w", filename, err)
	}
	return nil
}

// List returns every tenant under base, by name. A tenant directory that
// fails to load is returned as an error entry rather than hiding the others.
func List(base string) ([]*Tenant, []error) {
	entries, err := os.ReadDir(filepath.Join(base, "tenants"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []error{fmt.Errorf("list tenants: %w", err)}
	}
	var out []*Tenant
	var errs []error
	for _, e := range entries {
		if !e.IsDir() || ValidateName(e.Name()) != nil {
			continue
		}
		t, err := Load(base, e.Name())
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Config.Name < out[j].Config.Name })
	return out, errs
}

// usedPorts returns the ports configured by the tenants under base, so new
// tenants do not collide with stopped ones.
func usedPorts(base string) (map[int]bool, error) {
	taken := map[int]bool{}
	ts, _ := List(base)
	for _, t := range ts {
		taken[t.Config.API.Port] = true
		taken[t.Config.Postgres.Port] = true
		taken[t.Config.Monitoring.Port] = true
	}
	return taken, nil
}

// DefaultFirstPort is where a new tenant starts looking for free ports
// (the Supabase CLI's API port, so a tenant answers where Supabase's
// examples expect it); SFP_PORT_START moves it.
const DefaultFirstPort = 54321

// firstPort is DefaultFirstPort or SFP_PORT_START.
func firstPort() (int, error) {
	v := os.Getenv("SFP_PORT_START")
	if v == "" {
		return DefaultFirstPort, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1024 || n > 63000 {
		return 0, fmt.Errorf("SFP_PORT_START=%q: want a port number from 1024 to 63000", v)
	}
	return n, nil
}

// pickPort returns want if set (and free), else the first free port from
// start that no other tenant uses.
func pickPort(want, start int, taken map[int]bool) (int, error) {
	if want != 0 {
		if want < 1 || want > 65535 {
			return 0, fmt.Errorf("%d is not a TCP port", want)
		}
		if taken[want] {
			return 0, fmt.Errorf("port %d is already used by another tenant", want)
		}
		if !portFree(want) {
			return 0, fmt.Errorf("port %d on 127.0.0.1 is in use by another process", want)
		}
		return want, nil
	}
	for p := start; p < start+2000 && p <= 65535; p++ {
		if !taken[p] && portFree(p) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("no free port in %d..%d", start, start+2000)
}

func portFree(port int) bool {
	l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

// writeFileAtomic writes through a temporary file and a rename, so a crash
// never leaves a half-written configuration or secrets file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
