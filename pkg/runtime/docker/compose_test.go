package docker

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"github.com/sfp-dev/sfp"
	"github.com/sfp-dev/sfp/pkg/tenant"
)

// repoRoot is the checkout these tests run in.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, ok := FindCheckout(".")
	if !ok {
		t.Fatal("no checkout of github.com/sfp-dev/sfp above the test directory")
	}
	return root
}

// dockerTenant creates a docker tenant the way `sfp server init --runtime
// docker` does: tenant.Create, then this runtime's Init.
func dockerTenant(t *testing.T, opts Options) *tenant.Tenant {
	t.Helper()
	return newDockerTenant(t, opts, false)
}

// newDockerTenant is dockerTenant, with an initial admin when admin is set.
func newDockerTenant(t *testing.T, opts Options, admin bool) *tenant.Tenant {
	t.Helper()
	base := t.TempDir()
	co := tenant.CreateOptions{Name: "acme", Runtime: tenant.RuntimeDocker, Now: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)}
	if admin {
		// An admin puts a bcrypt hash ($2a$…) into .env: compose must read
		// the file anyway. (bcrypt is slow under -race: only where needed.)
		co.Admin = tenant.AdminConfig{Email: "ops@acme.test", Account: "Acme"}
		co.AdminPassword = "correct horse battery"
	}
	tn, err := tenant.Create(base, co)
	if err != nil {
		t.Fatal(err)
	}
	if opts.BuildContext == "" {
		opts.BuildContext = repoRoot(t)
	}
	if err := New(opts).Init(context.Background(), tn); err != nil {
		t.Fatalf("Init: %v", err)
	}
	// Read it back as every later command does.
	loaded, err := tenant.Load(base, "acme")
	if err != nil {
		t.Fatalf("load the initialised tenant: %v", err)
	}
	loaded.Dir = tn.Dir
	return loaded
}

// loadProject loads a compose file with the official library, the way
// `docker compose -p … --env-file …` does (without the process environment,
// so nothing but .env can define a variable).
func loadProject(t *testing.T, dir string, tn *tenant.Tenant) *types.Project {
	t.Helper()
	opts, err := cli.NewProjectOptions([]string{filepath.Join(dir, "docker-compose.yml")},
		cli.WithName(ProjectName(tn)),
		cli.WithWorkingDirectory(dir),
		cli.WithEnvFiles(tn.EnvFile()),
		cli.WithDotEnv,
	)
	if err != nil {
		t.Fatal(err)
	}
	p, err := opts.LoadProject(context.Background())
	if err != nil {
		t.Fatalf("compose-go rejects %s/docker-compose.yml: %v", dir, err)
	}
	return p
}

func envOf(t *testing.T, tn *tenant.Tenant) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(tn.EnvFile())
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, line := range strings.Split(string(raw), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf(".env line %q is not KEY=VALUE", line)
		}
		env[k] = v
	}
	return env
}

func TestComposeProject(t *testing.T) {
	root := repoRoot(t)
	tn := newDockerTenant(t, Options{}, true)
	p := loadProject(t, root, tn)
	env := envOf(t, tn)
	hash := tn.Secrets.AdminPasswordHash
	if !strings.HasPrefix(hash, "$2") {
		t.Fatalf(".env has no bcrypt admin hash to exercise compose's .env parser")
	}
	if got := p.Environment["SFP_ADMIN_PASSWORD_HASH"]; got != hash {
		t.Fatalf("compose reads the admin hash as %q, want %q (a $ in .env expanded)", got, hash)
	}

	t.Run("env file is private and complete", func(t *testing.T) {
		fi, err := os.Stat(tn.EnvFile())
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf(".env mode = %04o, want 0600", fi.Mode().Perm())
		}
		for _, k := range []string{"COMPOSE_PROJECT_NAME", "KONG_HTTP_PORT", "SFP_IMAGE", "SFP_BUILD_CONTEXT", "PG_META_CRYPTO_KEY", "REALTIME_DB_ENC_KEY"} {
			if env[k] == "" {
				t.Errorf(".env does not set %s", k)
			}
		}
		if got := env["COMPOSE_PROJECT_NAME"]; got != "sfp-acme" {
			t.Errorf("COMPOSE_PROJECT_NAME = %q, want sfp-acme", got)
		}
		if got := env["KONG_HTTP_PORT"]; got != strconv.Itoa(tn.Config.API.Port) {
			t.Errorf("KONG_HTTP_PORT = %q, want the tenant's API port %d", got, tn.Config.API.Port)
		}
		if got := len(env["REALTIME_DB_ENC_KEY"]); got != 16 {
			t.Errorf("REALTIME_DB_ENC_KEY has %d characters; Realtime's AES-128 needs 16", got)
		}
		if env["SFP_BUILD_CONTEXT"] != root {
			t.Errorf("SFP_BUILD_CONTEXT = %q, want %q", env["SFP_BUILD_CONTEXT"], root)
		}
	})

	t.Run("every variable is defined", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
		if err != nil {
			t.Fatal(err)
		}
		var model map[string]any
		if err := yaml.Unmarshal(raw, &model); err != nil {
			t.Fatal(err)
		}
		vars := template.ExtractVariables(model, template.DefaultPattern)
		if len(vars) < 20 {
			t.Fatalf("found only %d variables in docker-compose.yml: the extraction is broken", len(vars))
		}
		// Values that may legitimately be empty (optional settings).
		mayBeEmpty := map[string]bool{"ADDITIONAL_REDIRECT_URLS": true, "SMTP_HOST": true, "SMTP_USER": true, "SMTP_PASS": true, "SMTP_SENDER_NAME": true}
		// Secrets made only when their feature is on (the SAML key).
		mayBeAbsent := map[string]bool{"SAML_PRIVATE_KEY": true}
		for name, v := range vars {
			val, ok := env[name]
			switch {
			case !ok && mayBeAbsent[name]:
			case !ok && v.DefaultValue == "":
				t.Errorf("${%s} is used by docker-compose.yml but not defined in the tenant's .env", name)
			case ok && val == "" && !mayBeEmpty[name] && !strings.HasPrefix(name, "GOTRUE_EXTERNAL_"):
				t.Errorf("${%s} is defined empty in the tenant's .env", name)
			}
		}
	})

	t.Run("services", func(t *testing.T) {
		var gotLong, gotOne []string
		for name, s := range p.Services {
			if s.Restart == types.RestartPolicyNo {
				gotOne = append(gotOne, name)
			} else {
				gotLong = append(gotLong, name)
			}
		}
		sort.Strings(gotLong)
		sort.Strings(gotOne)
		if want := sorted(longRunning); !slices.Equal(gotLong, want) {
			t.Errorf("long-running services = %v, the runtime expects %v", gotLong, want)
		}
		if want := sorted(oneShot); !slices.Equal(gotOne, want) {
			t.Errorf("one-shot services = %v, the runtime expects %v", gotOne, want)
		}
		if want := sorted(apiServices); !slices.Equal(want, sorted(without(longRunning, "db"))) {
			t.Errorf("apiServices %v should be every long-running service but db", apiServices)
		}
	})

	t.Run("images are pinned", func(t *testing.T) {
		versionTag := regexp.MustCompile(`^v?[0-9]+(\.[0-9]+)+([.-][0-9A-Za-z.-]+)?$`)
		for name, s := range p.Services {
			repo, tag, ok := strings.Cut(s.Image, ":")
			if !ok || repo == "" || tag == "" || tag == "latest" || strings.Contains(s.Image, "@") && tag == "" {
				t.Errorf("%s: image %q has no pinned tag", name, s.Image)
				continue
			}
			if name == migrationsService {
				if s.Image != "sfp:dev" {
					t.Errorf("%s: image %q, want the locally built sfp:dev", name, s.Image)
				}
				if s.Build == nil || s.Build.Context != root || s.Build.Dockerfile != "Dockerfile" {
					t.Errorf("%s: build = %+v, want this repository's Dockerfile", name, s.Build)
				}
				if s.PullPolicy != types.PullPolicyNever {
					t.Errorf("%s: pull_policy = %q; the image must be built here, never pulled", name, s.PullPolicy)
				}
				continue
			}
			if !versionTag.MatchString(tag) && !regexp.MustCompile(`^[0-9]{4}\.[0-9]{2}\.[0-9]{2}-sha-[0-9a-f]{7,}$`).MatchString(tag) {
				t.Errorf("%s: tag %q of %s is not an explicit version", name, tag, repo)
			}
		}
	})

	t.Run("long-running services have healthchecks", func(t *testing.T) {
		for _, name := range longRunning {
			s := p.Services[name]
			if s.HealthCheck == nil || s.HealthCheck.Disable || len(s.HealthCheck.Test) < 2 || s.HealthCheck.Test[0] == "NONE" {
				t.Errorf("%s has no healthcheck", name)
			}
		}
	})

	t.Run("start order", func(t *testing.T) {
		dep := func(svc, on string) string {
			d, ok := p.Services[svc].DependsOn[on]
			if !ok {
				return ""
			}
			return d.Condition
		}
		for _, name := range apiServices {
			if got := dep(name, migrationsService); got != types.ServiceConditionCompletedSuccessfully {
				t.Errorf("%s depends on %s with %q, want %s", name, migrationsService, got, types.ServiceConditionCompletedSuccessfully)
			}
		}
		if got := dep(migrationsService, "auth-migrations"); got != types.ServiceConditionCompletedSuccessfully {
			t.Errorf("%s waits for auth-migrations with %q: GoTrue's tables must exist first", migrationsService, got)
		}
		for _, name := range []string{migrationsService, "auth-migrations", "auth", "rest", "realtime", "meta"} {
			if got := dep(name, "db"); got != types.ServiceConditionHealthy {
				t.Errorf("%s depends on db with %q, want service_healthy", name, got)
			}
		}
		for name, s := range p.Services {
			for on, d := range s.DependsOn {
				target := p.Services[on]
				if target.Restart == types.RestartPolicyNo && d.Condition != types.ServiceConditionCompletedSuccessfully {
					t.Errorf("%s waits for one-shot %s with %q", name, on, d.Condition)
				}
				if target.Restart != types.RestartPolicyNo && d.Condition == types.ServiceConditionCompletedSuccessfully {
					t.Errorf("%s waits for long-running %s to complete", name, on)
				}
			}
		}
		for _, on := range []string{"auth", "rest", "realtime"} {
			if got := dep("kong", on); got != types.ServiceConditionHealthy {
				t.Errorf("kong depends on %s with %q, want service_healthy", on, got)
			}
		}
	})

	t.Run("only the gateway publishes ports", func(t *testing.T) {
		for name, s := range p.Services {
			if name != "kong" && len(s.Ports) > 0 {
				t.Errorf("%s publishes %v; only kong may", name, s.Ports)
			}
			if len(s.Expose) > 0 && name != "kong" {
				t.Logf("%s exposes %v inside the project network", name, s.Expose)
			}
		}
		ports := p.Services["kong"].Ports
		if len(ports) != 1 {
			t.Fatalf("kong publishes %d ports, want 1 (HTTP)", len(ports))
		}
		pt := ports[0]
		if pt.Target != 8000 || pt.Published != strconv.Itoa(tn.Config.API.Port) || pt.HostIP != "127.0.0.1" {
			t.Errorf("kong publishes %s:%s -> %d, want 127.0.0.1:%d -> 8000", pt.HostIP, pt.Published, pt.Target, tn.Config.API.Port)
		}
	})

	t.Run("the mounted kong.yml is the repository's", func(t *testing.T) {
		var mounted *types.ServiceVolumeConfig
		for _, v := range p.Services["kong"].Volumes {
			if v.Target == "/home/kong/temp.yml" {
				mounted = &v
			}
		}
		if mounted == nil {
			t.Fatal("kong mounts no kong.yml at /home/kong/temp.yml (where its entrypoint reads it)")
		}
		if mounted.Type != types.VolumeTypeBind || mounted.Source != filepath.Join(root, "kong.yml") || !mounted.ReadOnly {
			t.Errorf("kong mounts %s %s (read-only %v), want the repository's %s read-only", mounted.Type, mounted.Source, mounted.ReadOnly, filepath.Join(root, "kong.yml"))
		}
		onDisk, err := os.ReadFile(filepath.Join(root, "kong.yml"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(onDisk, sfp.KongConfig()) {
			t.Error("the kong.yml embedded in the binary differs from the repository's")
		}
		if got := p.Services["kong"].Environment["KONG_DECLARATIVE_CONFIG"]; got == nil || *got != "/usr/local/kong/kong.yml" {
			t.Errorf("KONG_DECLARATIVE_CONFIG = %v, want /usr/local/kong/kong.yml (in the kong/kong image's prefix, writable by its user)", got)
		}
	})

	t.Run("current pins", func(t *testing.T) {
		// One release of the official self-hosted compose (supabase/supabase
		// docker/docker-compose.yml, Kong from docker-compose.kong.yml).
		want := map[string]string{
			"db":              "supabase/postgres:17.6.1.136",
			"auth-migrations": "supabase/gotrue:v2.196.0",
			"auth":            "supabase/gotrue:v2.196.0",
			"rest":            "postgrest/postgrest:v14.17",
			"realtime":        "supabase/realtime:v2.134.10",
			"meta":            "supabase/postgres-meta:v0.99.0",
			"studio":          "supabase/studio:2026.09.07-sha-7996410",
			"kong":            "kong/kong:3.9.3",
		}
		for name, image := range want {
			if got := p.Services[name].Image; got != image {
				t.Errorf("%s runs %q, want %q", name, got, image)
			}
		}
		for name := range p.Services {
			if _, ok := want[name]; !ok && name != migrationsService {
				t.Errorf("service %s has no expected pin in this test", name)
			}
		}
	})

	t.Run("kong 3 settings", func(t *testing.T) {
		kong := p.Services["kong"]
		env := func(k string) string { return deref(kong.Environment[k]) }
		if env("KONG_ROUTER_FLAVOR") != "expressions" {
			t.Errorf("KONG_ROUTER_FLAVOR = %q: kong.yml's expression route needs expressions", env("KONG_ROUTER_FLAVOR"))
		}
		if got, want := env("KONG_PLUGINS"), "request-transformer,cors,key-auth,acl,basic-auth,request-termination,ip-restriction,post-function"; got != want {
			t.Errorf("KONG_PLUGINS = %q, want the official list %q", got, want)
		}
		if env("KONG_DATABASE") != "off" {
			t.Errorf("KONG_DATABASE = %q, want off (declarative)", env("KONG_DATABASE"))
		}
		script := strings.Join(kong.Entrypoint, " ")
		if !strings.Contains(script, "exec /entrypoint.sh kong docker-start") {
			t.Errorf("kong's entrypoint does not hand over to the kong/kong image's /entrypoint.sh:\n%s", script)
		}
		if kong.User != "" {
			t.Errorf("kong runs as %q; the image's own user kong owns its prefix", kong.User)
		}
	})

	t.Run("studio listens on IPv4", func(t *testing.T) {
		studio := p.Services["studio"]
		if got := deref(studio.Environment["HOSTNAME"]); got != "0.0.0.0" {
			t.Errorf("studio HOSTNAME = %q, want 0.0.0.0 (\"::\" fails on hosts with IPv6 disabled)", got)
		}
		if hc := strings.Join(studio.HealthCheck.Test, " "); !strings.Contains(hc, "http://localhost:3000/") {
			t.Errorf("studio healthcheck %q should probe localhost", hc)
		}
	})

	t.Run("rest settings", func(t *testing.T) {
		rest := p.Services["rest"]
		if _, ok := rest.Environment["PGRST_APP_SETTINGS_JWT_SECRET"]; ok {
			t.Error("rest still exposes the JWT secret as app.settings.jwt_secret (the official compose dropped it)")
		}
		// On the compose network for Prometheus (observability_test.go);
		// IPv4, as studio, and `postgrest --ready` reaches it there too.
		if got := deref(rest.Environment["PGRST_ADMIN_SERVER_HOST"]); got != "0.0.0.0" {
			t.Errorf("PGRST_ADMIN_SERVER_HOST = %q, want 0.0.0.0", got)
		}
	})

	t.Run("kong.yml fits this stack", func(t *testing.T) {
		kong := p.Services["kong"]
		doc := parseKong(t, sfp.KongConfig())
		enabled := map[string]bool{}
		for _, name := range strings.Split(deref(kong.Environment["KONG_PLUGINS"]), ",") {
			enabled[strings.TrimSpace(name)] = true
		}
		for _, name := range doc.plugins {
			if !enabled[name] && name != "bundled" {
				t.Errorf("kong.yml uses plugin %q, which KONG_PLUGINS does not enable: Kong would refuse to start", name)
			}
		}
		for _, v := range doc.vars {
			if _, ok := kong.Environment[v]; !ok {
				t.Errorf("kong.yml refers to $%s, which is not in kong's environment", v)
			}
		}
		hosts := map[string]bool{}
		for name, s := range p.Services {
			hosts[name] = true
			for _, n := range s.Networks {
				if n != nil {
					for _, a := range n.Aliases {
						hosts[a] = true
					}
				}
			}
		}
		// Services of the official stack this stack leaves out; Kong answers
		// their routes with a name-resolution error.
		absent := map[string]bool{"storage": true, "functions": true, "analytics": true, "imgproxy": true}
		for _, h := range doc.hosts {
			if !hosts[h] && !absent[h] {
				t.Errorf("kong.yml routes to host %q, which no service or alias of the compose project provides", h)
			}
		}
		if !slices.Contains(doc.hosts, "auth") || !slices.Contains(doc.hosts, "rest") {
			t.Errorf("kong.yml upstream hosts %v lack auth or rest", doc.hosts)
		}
	})

	t.Run("realtime answers for the tenant the gateway names", func(t *testing.T) {
		rt := p.Services["realtime"]
		aliases := rt.Networks["default"].Aliases
		if !slices.Contains(aliases, "realtime-dev.supabase-realtime") {
			t.Errorf("realtime aliases = %v, want realtime-dev.supabase-realtime", aliases)
		}
		if rt.ContainerName != "" {
			t.Errorf("realtime has container_name %q: two tenants on one host would collide", rt.ContainerName)
		}
		if !strings.Contains(strings.Join(rt.HealthCheck.Test, " "), "/api/tenants/realtime-dev/health") {
			t.Errorf("realtime healthcheck %v does not probe the realtime-dev tenant", rt.HealthCheck.Test)
		}
	})

	t.Run("volumes keep the database and the Vault root key", func(t *testing.T) {
		targets := map[string]types.ServiceVolumeConfig{}
		for _, v := range p.Services["db"].Volumes {
			targets[v.Target] = v
		}
		for target, vol := range map[string]string{"/var/lib/postgresql/data": "db-data", "/etc/postgresql-custom": "db-config"} {
			v, ok := targets[target]
			if !ok || v.Type != types.VolumeTypeVolume || v.Source != vol {
				t.Errorf("db: %s is not on named volume %s (%+v)", target, vol, v)
			}
			if _, ok := p.Volumes[vol]; !ok {
				t.Errorf("volume %s is not declared", vol)
			}
		}
	})

	t.Run("no literal secrets", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(root, "docker-compose.yml"))
		if err != nil {
			t.Fatal(err)
		}
		var model struct {
			Services map[string]struct {
				Environment any `yaml:"environment"`
			} `yaml:"services"`
		}
		if err := yaml.Unmarshal(raw, &model); err != nil {
			t.Fatal(err)
		}
		secretish := regexp.MustCompile(`PASSWORD|SECRET|_KEY$|KEY_BASE|_URI$|DATABASE_URL$|DB_URL$|_PASS$`)
		checked := 0
		for name, s := range model.Services {
			m, _ := s.Environment.(map[string]any)
			for k, v := range m {
				if !secretish.MatchString(k) {
					continue
				}
				checked++
				if sv, _ := v.(string); !strings.Contains(sv, "${") {
					t.Errorf("%s: %s = %v is a literal; take it from .env", name, k, v)
				}
			}
		}
		if checked < 15 {
			t.Errorf("only %d secret-like settings found: the check is not looking at the file", checked)
		}
		for k, v := range env {
			if !secretish.MatchString(k) && k != "JWT_SECRET" {
				continue // settings such as SITE_URL may well appear in the file
			}
			if len(v) >= 16 && bytes.Contains(raw, []byte(v)) {
				t.Errorf("docker-compose.yml contains the value of %s", k)
			}
		}
	})

	t.Run("init scripts read the passwords the db service is given", func(t *testing.T) {
		db := p.Services["db"]
		seen := 0
		for _, c := range db.Configs {
			cfg, ok := p.Configs[c.Source]
			if !ok || cfg.Content == "" {
				t.Errorf("db config %s has no inline content", c.Source)
				continue
			}
			if !strings.HasPrefix(c.Target, "/docker-entrypoint-initdb.d/migrations/") {
				t.Errorf("db config %s goes to %s, which the image's initialisation does not run", c.Source, c.Target)
			}
			for _, m := range regexp.MustCompile(`\$([A-Z_]+)`).FindAllStringSubmatch(cfg.Content, -1) {
				seen++
				if _, ok := db.Environment[m[1]]; !ok {
					t.Errorf("config %s reads $%s, which the db service's environment lacks", c.Source, m[1])
				}
			}
		}
		if seen != 4 {
			t.Errorf("the init scripts read %d passwords, want 4 (authenticator, auth admin, replication, postgres)", seen)
		}
	})

	t.Run("the tenant directory holds the same project", func(t *testing.T) {
		for _, name := range []string{"docker-compose.yml", "kong.yml"} {
			a, err := os.ReadFile(filepath.Join(root, name))
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(filepath.Join(tn.Dir, name))
			if err != nil {
				t.Fatalf("Init did not write %s into the tenant directory: %v", name, err)
			}
			if !bytes.Equal(a, b) {
				t.Errorf("the tenant's %s differs from the repository's", name)
			}
		}
		tp := loadProject(t, tn.Dir, tn)
		for _, v := range tp.Services["kong"].Volumes {
			if v.Target == "/home/kong/temp.yml" && v.Source != filepath.Join(tn.Dir, "kong.yml") {
				t.Errorf("in the tenant directory kong mounts %s", v.Source)
			}
		}
		if len(tp.Services) != len(p.Services) {
			t.Errorf("tenant project has %d services, repository project %d", len(tp.Services), len(p.Services))
		}
	})
}

// TestInitKeepsSettings: a second Init (or a start) rewrites what follows
// tenant.yaml, keeps generated keys and the operator's own settings.
func TestInitKeepsSettings(t *testing.T) {
	tn := dockerTenant(t, Options{})
	before := envOf(t, tn)
	// The operator edits .env…
	tn.Secrets.Extra["SMTP_HOST"] = "smtp.acme.test"
	tn.Secrets.Extra["MY_OWN"] = "kept"
	if err := tn.SaveSecrets(); err != nil {
		t.Fatal(err)
	}
	// …and tenant.yaml.
	tn.Config.API.Port++
	if err := New(Options{BuildContext: repoRoot(t)}).Init(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	after := envOf(t, tn)
	for _, k := range []string{"PG_META_CRYPTO_KEY", "REALTIME_DB_ENC_KEY", "JWT_SECRET", "ANON_KEY", "POSTGRES_PASSWORD"} {
		if before[k] == "" || after[k] != before[k] {
			t.Errorf("%s changed on re-init", k)
		}
	}
	if after["SMTP_HOST"] != "smtp.acme.test" || after["MY_OWN"] != "kept" {
		t.Errorf("operator settings lost: SMTP_HOST=%q MY_OWN=%q", after["SMTP_HOST"], after["MY_OWN"])
	}
	if after["KONG_HTTP_PORT"] != strconv.Itoa(tn.Config.API.Port) {
		t.Errorf("KONG_HTTP_PORT = %s, want the new port %d", after["KONG_HTTP_PORT"], tn.Config.API.Port)
	}
}

func TestImageFollowsVersion(t *testing.T) {
	root := repoRoot(t)
	tn := dockerTenant(t, Options{Version: "v1.2.0"})
	if got := envOf(t, tn)["SFP_IMAGE"]; got != "sfp:v1.2.0" {
		t.Fatalf("SFP_IMAGE = %q, want sfp:v1.2.0", got)
	}
	if err := New(Options{Version: "v1.3.0", BuildContext: root}).Init(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	if got := envOf(t, tn)["SFP_IMAGE"]; got != "sfp:v1.3.0" {
		t.Errorf("after a newer sfp: SFP_IMAGE = %q, want sfp:v1.3.0", got)
	}
	tn.Secrets.Extra["SFP_IMAGE"] = "registry.example.com/sfp:v1.2.0" // the operator edits .env
	if err := tn.SaveSecrets(); err != nil {
		t.Fatal(err)
	}
	if err := New(Options{Version: "v1.3.0", BuildContext: root}).Init(context.Background(), tn); err != nil {
		t.Fatal(err)
	}
	if got := envOf(t, tn)["SFP_IMAGE"]; got != "registry.example.com/sfp:v1.2.0" {
		t.Errorf("the operator's image was replaced by %q", got)
	}
}

func TestInitRejectsEmbeddedTenant(t *testing.T) {
	tn, err := tenant.Create(t.TempDir(), tenant.CreateOptions{Name: "emb", Runtime: tenant.RuntimeEmbedded})
	if err != nil {
		t.Fatal(err)
	}
	err = New(Options{}).Init(context.Background(), tn)
	if err == nil || !strings.Contains(err.Error(), "not docker") {
		t.Fatalf("Init of an embedded tenant: %v", err)
	}
}

func TestImageTag(t *testing.T) {
	for in, want := range map[string]string{"v1.2.3": "v1.2.3", "dev": "dev", "": "dev",
		"v0.0.0-20261130-abcdef+dirty": "v0.0.0-20261130-abcdef-dirty", "(devel)": "devel-"} {
		if got := imageTag(in); got != want {
			t.Errorf("imageTag(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestKongEntrypointSubstitution runs the kong service's entrypoint
// substitution (the awk program, as the container runs it) and checks it
// substitutes exactly the variables of the environment, in both $NAME and
// ${NAME} forms, and leaves comments, request-transformer templates and
// unknown names as written.
func TestKongEntrypointSubstitution(t *testing.T) {
	tn := dockerTenant(t, Options{})
	substitute := kongEntrypoint(t, loadProject(t, repoRoot(t), tn))
	anon := tn.Secrets.AnonKey
	t.Run("forms", func(t *testing.T) {
		in := "# keys: $SUPABASE_ANON_KEY\n" +
			"a: $SUPABASE_ANON_KEY\n" +
			"b: '${SUPABASE_SERVICE_KEY}'\n" +
			"c: \"Authorization: $(headers.apikey)\"\n" +
			"d: $NOT_SET and $$ and $\n" +
			"e: $DASHBOARD_USERNAME:$DASHBOARD_PASSWORD\n"
		want := "# keys: $SUPABASE_ANON_KEY\n" +
			"a: " + anon + "\n" +
			"b: '" + tn.Secrets.ServiceRoleKey + "'\n" +
			"c: \"Authorization: $(headers.apikey)\"\n" +
			"d: $NOT_SET and $$ and $\n" +
			"e: " + tn.Secrets.DashboardUsername + ":" + tn.Secrets.DashboardPassword + "\n"
		if got := string(substitute(t, []byte(in))); got != want {
			t.Errorf("substituted:\n%s\nwant:\n%s", got, want)
		}
	})
	t.Run("repository kong.yml", func(t *testing.T) {
		in := sfp.KongConfig()
		out := substitute(t, in)
		if bytes.Count(out, []byte("\n")) != bytes.Count(in, []byte("\n")) {
			t.Error("substitution changed the number of lines")
		}
		for _, v := range parseKong(t, out).vars {
			t.Errorf("$%s is left in the substituted kong.yml", v)
		}
		if !bytes.Contains(out, []byte(anon)) || !bytes.Contains(out, []byte(tn.Secrets.ServiceRoleKey)) {
			t.Error("the substituted kong.yml lacks the anon or service_role key")
		}
		var doc map[string]any
		if err := yaml.Unmarshal(out, &doc); err != nil {
			t.Errorf("the substituted kong.yml is not YAML: %v", err)
		}
	})
}

// kongEntrypoint returns the kong service's entrypoint substitution (the
// awk program, run as the container runs it, with the container's
// environment as p renders it).
func kongEntrypoint(t *testing.T, p *types.Project) func(*testing.T, []byte) []byte {
	t.Helper()
	awk, err := exec.LookPath("awk")
	if err != nil {
		t.Fatalf("this test runs the entrypoint's awk program: install awk (apt-get install mawk): %v", err)
	}
	kong := p.Services["kong"]
	script := strings.Join(kong.Entrypoint, " ")
	m := regexp.MustCompile(`(?s)awk '(.*)' /home/kong/temp.yml > "\$KONG_DECLARATIVE_CONFIG"`).FindStringSubmatch(script)
	if m == nil {
		t.Fatalf("kong entrypoint does not run the expected awk substitution:\n%s", script)
	}
	program := m[1]
	var env []string
	for k, v := range kong.Environment {
		env = append(env, k+"="+deref(v))
	}
	return func(t *testing.T, in []byte) []byte {
		t.Helper()
		f := filepath.Join(t.TempDir(), "temp.yml")
		if err := os.WriteFile(f, in, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(awk, program, f)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("awk: %v", err)
		}
		return out
	}
}

// kongDoc is what the compose tests need from kong.yml.
type kongDoc struct {
	plugins []string // every plugin name used
	hosts   []string // upstream hosts of the services
	vars    []string // $NAME / ${NAME} references outside comments
}

func parseKong(t *testing.T, data []byte) kongDoc {
	t.Helper()
	var doc struct {
		Services []struct {
			URL     string `yaml:"url"`
			Host    string `yaml:"host"`
			Plugins []struct {
				Name string `yaml:"name"`
			} `yaml:"plugins"`
			Routes []struct {
				Plugins []struct {
					Name string `yaml:"name"`
				} `yaml:"plugins"`
			} `yaml:"routes"`
		} `yaml:"services"`
		Plugins []struct {
			Name string `yaml:"name"`
		} `yaml:"plugins"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatalf("kong.yml: %v", err)
	}
	var d kongDoc
	seenP, seenH := map[string]bool{}, map[string]bool{}
	addP := func(n string) {
		if n != "" && !seenP[n] {
			seenP[n] = true
			d.plugins = append(d.plugins, n)
		}
	}
	for _, p := range doc.Plugins {
		addP(p.Name)
	}
	for _, s := range doc.Services {
		for _, p := range s.Plugins {
			addP(p.Name)
		}
		for _, r := range s.Routes {
			for _, p := range r.Plugins {
				addP(p.Name)
			}
		}
		host := s.Host
		if s.URL != "" {
			rest := s.URL
			if _, after, ok := strings.Cut(rest, "://"); ok {
				rest = after
			}
			host, _, _ = strings.Cut(rest, "/")
			host, _, _ = strings.Cut(host, ":")
		}
		if host != "" && !seenH[host] {
			seenH[host] = true
			d.hosts = append(d.hosts, host)
		}
	}
	ref := regexp.MustCompile(`\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))`)
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range ref.FindAllStringSubmatch(line, -1) {
			d.vars = append(d.vars, m[1]+m[2])
		}
	}
	return d
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return out
}

func without(s []string, drop string) []string {
	var out []string
	for _, v := range s {
		if v != drop {
			out = append(out, v)
		}
	}
	return out
}
