package docker

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sfp-dev/sfp"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// RepositoryURL is the build context of the sfp image when neither the
// running binary nor a checkout can be used: docker builds from a git URL
// too (image.go).
const RepositoryURL = "https://github.com/sfp-dev/sfp.git"

// derivedEnv are the compose variables that follow tenant.yaml: they are
// rewritten on every init, start and update, so tenant.yaml stays the one
// place to change them.
func derivedEnv(t *tenant.Tenant) map[string]string {
	c := t.Config
	env := map[string]string{
		"COMPOSE_PROJECT_NAME":     ProjectName(t),
		"POSTGRES_HOST":            "db",
		"POSTGRES_DB":              "postgres",
		"POSTGRES_PORT":            strconv.Itoa(c.Postgres.Port),
		"KONG_HTTP_PORT":           strconv.Itoa(c.API.Port),
		"SFP_API_HOST":             c.API.Host,
		"API_MAX_BODY_BYTES":       strconv.FormatInt(c.API.MaxBodyBytes, 10),
		"API_EXTERNAL_URL":         t.URL(),
		"SUPABASE_PUBLIC_URL":      t.URL(),
		"SITE_URL":                 c.Auth.SiteURL,
		"JWT_EXPIRY":               strconv.Itoa(c.Auth.JWTExpiry),
		"DISABLE_SIGNUP":           strconv.FormatBool(c.Auth.DisableSignup),
		"ENABLE_EMAIL_AUTOCONFIRM": strconv.FormatBool(c.Auth.EffectiveAutoconfirm()), // see mailEnv
		"PASSWORD_MIN_LENGTH":      strconv.Itoa(c.Auth.MinPasswordLength),
		"SAML_ENABLED":             strconv.FormatBool(c.Auth.SAML.Enabled),
		"PGRST_DB_SCHEMAS":         strings.Join(c.REST.Schemas, ","),
		"PGRST_DB_MAX_ROWS":        strconv.Itoa(c.REST.MaxRows),
		// Kong's nginx applies them as client_header_timeout and
		// client_body_timeout (the latter between two reads, not to the
		// whole body); nginx takes whole milliseconds.
		"API_READ_HEADER_TIMEOUT": nginxTime(c.API.ReadHeaderTimeout),
		"API_READ_BODY_TIMEOUT":   nginxTime(c.API.ReadBodyTimeout),
		// Realtime's defaults for the tenant it seeds at every start.
		"REALTIME_MAX_CONCURRENT_USERS":    strconv.Itoa(c.Realtime.MaxConcurrentUsers),
		"REALTIME_MAX_CHANNELS_PER_CLIENT": strconv.Itoa(c.Realtime.MaxChannelsPerClient),
		"REALTIME_MAX_JOINS_PER_SECOND":    strconv.Itoa(c.Realtime.MaxJoinsPerSecond),
		"REALTIME_MAX_EVENTS_PER_SECOND":   strconv.Itoa(c.Realtime.MaxEventsPerSecond),
	}
	// The OAuth providers of auth.external under GoTrue's own names (their
	// secrets, GOTRUE_EXTERNAL_<NAME>_SECRET, are the operator's, in .env).
	for k, v := range t.ExternalEnv() {
		env[k] = v
	}
	if len(c.Auth.AdditionalRedirectURLs) > 0 {
		env["ADDITIONAL_REDIRECT_URLS"] = strings.Join(c.Auth.AdditionalRedirectURLs, ",")
	}
	return env
}

// mailEnv are GoTrue's mail settings, from tenant.yaml's auth.smtp under
// the official .env names (the password, SMTP_PASS, is the operator's, in
// .env). Without an SMTP host GoTrue can send no confirmation mail, so
// ENABLE_EMAIL_AUTOCONFIRM (derivedEnv) is true whatever auth.autoconfirm
// says.
func mailEnv(t *tenant.Tenant) map[string]string {
	a := t.Config.Auth
	env := map[string]string{
		"SMTP_HOST":        a.SMTP.Host,
		"SMTP_PORT":        strconv.Itoa(tenant.DefaultSMTPPort),
		"SMTP_USER":        a.SMTP.User,
		"SMTP_ADMIN_EMAIL": a.SMTP.AdminEmail,
		"SMTP_SENDER_NAME": a.SMTP.SenderName,
	}
	if a.SMTP.Port != 0 {
		env["SMTP_PORT"] = strconv.Itoa(a.SMTP.Port)
	}
	if !a.MailEnabled() {
		// What GoTrue is given when it sends nothing (the official .env's
		// placeholder address).
		env["SMTP_ADMIN_EMAIL"] = "admin@example.com"
	}
	return env
}

// adoptEnvSMTP moves the mail settings of a tenant from before tenant.yaml
// had auth.smtp — .env's SMTP_HOST and friends, edited by the operator —
// into tenant.yaml, once, so the update that makes them derived does not
// silently turn the tenant's mail off.
func adoptEnvSMTP(t *tenant.Tenant) (bool, error) {
	x := t.Secrets.Extra
	if t.Config.Auth.SMTP.Host != "" || x["SMTP_HOST"] == "" {
		return false, nil
	}
	smtp := tenant.SMTPConfig{Host: x["SMTP_HOST"], User: x["SMTP_USER"], AdminEmail: x["SMTP_ADMIN_EMAIL"], SenderName: x["SMTP_SENDER_NAME"]}
	if p, err := strconv.Atoi(x["SMTP_PORT"]); err == nil {
		smtp.Port = p
	}
	cfg := t.Config
	cfg.Auth.SMTP = smtp
	cfg.Defaults()
	if err := cfg.Validate(); err != nil {
		return false, fmt.Errorf("move the SMTP settings of %s into %s: %w; set auth.smtp in tenant.yaml", t.EnvFile(), t.ConfigFile(), err)
	}
	t.Config = cfg
	if err := t.SaveConfig(); err != nil {
		return false, err
	}
	return true, nil
}

// nginxTime writes a duration as nginx reads one.
func nginxTime(d tenant.Duration) string {
	return strconv.FormatInt(time.Duration(d).Milliseconds(), 10) + "ms"
}

// defaultEnv are the compose variables written once, when absent; the
// operator may change them in .env afterwards (the SMTP password —
// the other mail settings are in tenant.yaml —, redirect URLs, where the
// sfp image comes from). Generated keys are among them, so they stay
// stable across restarts.
func (r *Runtime) defaultEnv(t *tenant.Tenant) map[string]string {
	env := map[string]string{
		"ADDITIONAL_REDIRECT_URLS":    "",
		"ENABLE_EMAIL_SIGNUP":         "true",
		"ENABLE_ANONYMOUS_USERS":      "false",
		"SMTP_PASS":                   "",
		"STUDIO_DEFAULT_ORGANIZATION": t.Name(),
		"STUDIO_DEFAULT_PROJECT":      t.Name(),
		"SFP_IMAGE":                   "sfp:" + imageTag(r.opts.Version),
		// postgres-meta encrypts connection strings with it.
		"PG_META_CRYPTO_KEY": randomAlnum(32),
		// Realtime encrypts its tenants' database settings with AES-128:
		// exactly 16 bytes.
		"REALTIME_DB_ENC_KEY": randomAlnum(16),
	}
	// The OAuth providers' client secrets (`sfp server auth provider set`
	// or the operator write them).
	for _, name := range tenant.ExternalProviders {
		env[tenant.ProviderSecretVar(name)] = ""
	}
	return env
}

// keyEnv are the compose variables that carry the tenant's keys to the
// services as auth.legacy_keys wants them (JWT_KEYS and JWT_JWKS, in .env
// under upstream's names, already follow it): the legacy keys the gateway
// accepts — none while legacy keys are off — and the HS256 secret Realtime
// verifies with, which Realtime cannot be without: with legacy keys off it
// is a secret derived from JWT_SECRET that signs no token, so every HS256
// token fails its signature.
func keyEnv(t *tenant.Tenant, s *tenant.Secrets) map[string]string {
	if t.Config.Auth.LegacyKeysEnabled() {
		return map[string]string{
			"SFP_GATEWAY_ANON_KEY":    s.AnonKey,
			"SFP_GATEWAY_SERVICE_KEY": s.ServiceRoleKey,
			"SFP_REALTIME_JWT_SECRET": s.JWTSecret,
		}
	}
	mac := hmac.New(sha256.New, []byte(s.JWTSecret))
	mac.Write([]byte("sfp: the realtime secret of a tenant without legacy tokens"))
	return map[string]string{
		"SFP_GATEWAY_ANON_KEY":    "",
		"SFP_GATEWAY_SERVICE_KEY": "",
		"SFP_REALTIME_JWT_SECRET": base64.RawURLEncoding.EncodeToString(mac.Sum(nil)),
	}
}

// syncEnv adds the compose variables to the tenant's .env and saves it
// (mode 0600) when anything changed, under the tenant's secrets lock.
// Other variables are left alone. A tenant made before the current key
// model gets its publishable, secret and signing keys here.
func (r *Runtime) syncEnv(t *tenant.Tenant) error {
	adopted, err := adoptEnvSMTP(t)
	if err != nil {
		return err
	}
	if adopted {
		r.opts.Logger.Info("moved the SMTP settings from .env to tenant.yaml (auth.smtp)", "tenant", t.Name(), "host", t.Config.Auth.SMTP.Host)
	}
	if !t.Config.Auth.Autoconfirm && !t.Config.Auth.MailEnabled() {
		r.opts.Logger.Info("auth.autoconfirm is false but no auth.smtp.host is set: sign-ups are confirmed automatically, since GoTrue could send no confirmation mail",
			"tenant", t.Name())
	}
	// The sfp image is built by this sfp, of its version (image.go).
	buildContext, err := r.buildContext(t)
	if err != nil {
		return err
	}
	err = t.UpdateSecrets(func(s *tenant.Secrets) (bool, error) {
		if _, err := s.EnsureKeys(time.Now()); err != nil {
			return false, err
		}
		if t.Config.Auth.SAML.Enabled {
			if _, err := s.EnsureSAMLKey(); err != nil {
				return false, err
			}
		}
		if s.Extra == nil {
			s.Extra = map[string]string{}
		}
		for _, env := range []map[string]string{derivedEnv(t), mailEnv(t), mfaEnv(t), keyEnv(t, s),
			{"SFP_BUILD_CONTEXT": buildContext, "SFP_VERSION": r.opts.Version}} {
			for k, v := range env {
				s.Extra[k] = v
			}
		}
		defaults := r.defaultEnv(t)
		for k, v := range defaults {
			if _, ok := s.Extra[k]; !ok {
				s.Extra[k] = v
			}
		}
		// The image sfp names follows the running sfp's version, so a newer
		// binary builds (and starts) its own migrations; an image the operator
		// named is left alone.
		if cur, want := s.Extra["SFP_IMAGE"], defaults["SFP_IMAGE"]; strings.HasPrefix(cur, "sfp:") && cur != want {
			s.Extra["SFP_IMAGE"] = want
		}
		// Saving also writes JWT_KEYS and JWT_JWKS as auth.legacy_keys
		// says (it may have been edited in tenant.yaml); an .env that
		// would not change is left untouched.
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("write compose settings to %s: %w", t.EnvFile(), err)
	}
	return nil
}

// imageTag turns a version into a docker tag (letters, digits, _ . -).
func imageTag(version string) string {
	var b strings.Builder
	for _, c := range version {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-':
			b.WriteRune(c)
		default:
			b.WriteByte('-')
		}
	}
	tag := strings.TrimLeft(b.String(), ".-")
	if tag == "" {
		return "dev"
	}
	if len(tag) > 128 {
		tag = tag[:128]
	}
	return tag
}

// FindCheckout looks in dir and its parents for a checkout of this
// repository: a go.mod declaring module github.com/sfp-dev/sfp next to a
// Dockerfile.
func FindCheckout(dir string) (string, bool) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", false
	}
	for {
		if isCheckout(dir) {
			return dir, true
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", false
		}
		dir = parent
	}
}

func isCheckout(dir string) bool {
	mod, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil || !fileExists(filepath.Join(dir, "Dockerfile")) {
		return false
	}
	for _, line := range strings.Split(string(mod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" {
			return f[1] == "github.com/sfp-dev/sfp"
		}
	}
	return false
}

// assets are the project files written into the tenant directory.
func assets() map[string][]byte {
	return map[string][]byte{
		ComposeFileName: sfp.ComposeFile(),
		KongFileName:    sfp.KongConfig(),
	}
}

// writeAssets writes docker-compose.yml and kong.yml into the tenant
// directory and returns what was there before (nil for a file that did
// not exist), so an update can put it back.
func writeAssets(t *tenant.Tenant) (map[string][]byte, error) {
	previous := map[string][]byte{}
	for name, data := range assets() {
		if len(data) == 0 {
			return nil, fmt.Errorf("write %s: this sfp binary carries no %s (built without it)", filepath.Join(t.Dir, name), name)
		}
		path := filepath.Join(t.Dir, name)
		old, err := os.ReadFile(path)
		switch {
		case err == nil:
			previous[name] = old
		case errors.Is(err, fs.ErrNotExist):
			previous[name] = nil
		default:
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
		if bytes.Equal(old, data) {
			continue
		}
		if err := writeFileAtomic(path, data, 0o644); err != nil {
			return nil, err
		}
	}
	return previous, nil
}

// restoreAssets puts back what writeAssets replaced.
func restoreAssets(t *tenant.Tenant, previous map[string][]byte) error {
	for name, data := range previous {
		path := filepath.Join(t.Dir, name)
		if data == nil {
			if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("restore %s: %w", path, err)
			}
			continue
		}
		if err := writeFileAtomic(path, data, 0o644); err != nil {
			return fmt.Errorf("restore %s: %w", path, err)
		}
	}
	return nil
}

// writeFileAtomic writes data through a temporary file and a rename, so
// docker compose never reads a half-written file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	return writeAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// writeAtomic writes path with mode perm through a temporary file in its
// directory, filled by write, and a rename.
func writeAtomic(path string, perm os.FileMode, write func(io.Writer) error) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	werr := write(tmp)
	if err := tmp.Chmod(perm); err != nil && werr == nil {
		werr = err
	}
	if err := tmp.Close(); err != nil && werr == nil {
		werr = err
	}
	if werr != nil {
		return fmt.Errorf("write %s: %w", path, werr)
	}
	if err := os.Rename(name, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// randomAlnum returns n random letters and digits (safe in .env files and
// URLs without quoting), drawn without modulo bias.
func randomAlnum(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	const limit = 256 - 256%len(alphabet) // bytes at or above it are redrawn
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			panic(fmt.Sprintf("crypto/rand: %v", err))
		}
		for _, c := range buf {
			if int(c) < limit && len(out) < n {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}
