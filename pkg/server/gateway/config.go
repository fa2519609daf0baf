package gateway

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is a validated Kong declarative configuration (format 2.1 or 3.0),
// ready for New. Credentials stay unexported so a Config can be logged or
// inspected without exposing keys.
type Config struct {
	File          string
	FormatVersion string
	Services      []*Service
	Routes        []*Route // every route, nested or top-level, in file order
	Consumers     []*Consumer
	Plugins       []*Plugin // global plugins

	keys      map[string]credential // key-auth key → credential
	basics    map[string]credential // basic-auth username → credential
	transform bool                  // _transform: false means basic-auth passwords are stored hashed
}

// Service is an upstream, as Kong's service entity describes it.
type Service struct {
	Name     string
	ID       string
	Protocol string // http, https, ws or wss
	Host     string // the upstream host as written; Options.Upstreams is keyed by it
	Port     int
	Path     string // base path on the upstream; "/" when unset
	Enabled  bool
	Routes   []*Route
	Plugins  []*Plugin
	Line     int

	ConnectTimeout, ReadTimeout, WriteTimeout time.Duration
}

// Route maps requests to a Service.
type Route struct {
	Name    string
	ID      string
	Service *Service
	Paths   []string // normalised plain prefixes
	Methods []string
	Hosts   []string
	// Expression is a Kong 3 router expression (expression.go), set
	// instead of paths, methods and hosts; such routes are tried before all
	// others, by Priority (higher first), then in file order.
	Expression   string
	Priority     int
	StripPath    bool
	PreserveHost bool
	Plugins      []*Plugin
	Line         int

	expr exprNode
}

// Consumer is an identity a credential authenticates as.
type Consumer struct {
	ID       string
	Username string
	CustomID string
	Groups   []string // acl groups
	Line     int
}

// Plugin is one configured plugin instance; Route and Service give its scope
// (both nil for a global plugin).
type Plugin struct {
	Name    string
	Enabled bool
	Route   *Route
	Service *Service
	Line    int

	impl plugin
}

type credential struct {
	consumer *Consumer
	id       string
	secret   string // basic-auth password (plain, or the hash when !transform)
	line     int
}

// Load reads a kong.yml file, substitutes $VARS from env and validates it.
func Load(path string, env map[string]string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load gateway config: %w", err)
	}
	return Parse(data, path, env)
}

// Supported values of _format_version.
var formatVersions = map[string]bool{"2.1": true, "3.0": true}

// Top-level entities Kong knows that the embedded gateway does not implement.
var unsupportedEntities = []string{
	"upstreams", "targets", "certificates", "ca_certificates", "snis", "vaults",
	"consumer_groups", "jwt_secrets", "oauth2_credentials", "hmacauth_credentials",
	"key_sets", "keys", "filter_chains", "mtls_auth_credentials", "parameters", "workspaces",
}

// Parse validates a declarative configuration; filename only labels errors.
func Parse(data []byte, filename string, env map[string]string) (*Config, error) {
	if filename == "" {
		filename = "kong.yml"
	}
	data, err := substitute(data, filename, env)
	if err != nil {
		return nil, err
	}
	d := &decoder{file: filename, budget: 200000}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, d.syntaxError(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || isNull(doc.Content[0]) {
		return nil, &ConfigError{File: filename, Line: 1, Msg: "empty configuration: _format_version is required"}
	}
	p := &parser{d: d, cfg: &Config{File: filename, keys: map[string]credential{}, basics: map[string]credential{}}}
	if err := p.top(doc.Content[0]); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

// UpstreamHosts lists the distinct upstream hosts of enabled services, sorted,
// so a runtime can tell which ones it must provide.
func (c *Config) UpstreamHosts() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range c.Services {
		if s.Enabled && !seen[s.Host] {
			seen[s.Host] = true
			out = append(out, s.Host)
		}
	}
	sort.Strings(out)
	return out
}

type parser struct {
	d   *decoder
	cfg *Config
	v30 bool

	services  map[string]*Service // by name and id
	routes    map[string]*Route
	consumers map[string]*Consumer // by username and id
	names     map[string]int       // "service:x" → line, for duplicate reports
	pending   []pendingPlugin
}

type pendingPlugin struct {
	node    *yaml.Node
	route   *Route
	service *Service
}

func (p *parser) top(root *yaml.Node) error {
	o, err := p.d.object(root, "configuration")
	if err != nil {
		return err
	}
	p.services = map[string]*Service{}
	p.routes = map[string]*Route{}
	p.consumers = map[string]*Consumer{}
	p.names = map[string]int{}

	fv, err := o.get("_format_version")
	if err != nil {
		return err
	}
	if fv == nil || fv.Kind != yaml.ScalarNode {
		return p.d.errf(o.line("_format_version"), "_format_version is required (supported: \"2.1\", \"3.0\")")
	}
	if !formatVersions[fv.Value] {
		return p.d.errf(fv, "unsupported _format_version %q (supported: \"2.1\", \"3.0\")", fv.Value)
	}
	p.cfg.FormatVersion = fv.Value
	p.v30 = fv.Value == "3.0"
	if p.cfg.transform, err = o.boolean("_transform", true); err != nil {
		return err
	}
	if err := o.unsupported("_workspace", nil, ""); err != nil {
		return err
	}
	for _, e := range unsupportedEntities {
		if err := o.unsupported(e, isEmptyList, ""); err != nil {
			return err
		}
	}

	items, err := o.list("consumers")
	if err != nil {
		return err
	}
	for _, n := range items {
		if err := p.consumer(n); err != nil {
			return err
		}
	}
	if err := p.consumerEntities(o, nil); err != nil {
		return err
	}
	if items, err = o.list("services"); err != nil {
		return err
	}
	for _, n := range items {
		if err := p.service(n); err != nil {
			return err
		}
	}
	if items, err = o.list("routes"); err != nil {
		return err
	}
	for _, n := range items {
		if _, err := p.route(n, nil); err != nil {
			return err
		}
	}
	if items, err = o.list("plugins"); err != nil {
		return err
	}
	for _, n := range items {
		p.pending = append(p.pending, pendingPlugin{node: n})
	}
	if err := o.done(); err != nil {
		return err
	}
	// Plugins last: their configuration may refer to consumers (anonymous).
	return p.attachPlugins()
}

// attachPlugins builds the queued plugins and attaches each to its scope:
// global, a service, a route, or a route and a service together. A plugin
// configured twice for one scope is an error, as in Kong.
func (p *parser) attachPlugins() error {
	seen := map[string]int{}
	for _, pp := range p.pending {
		pl, err := p.plugin(pp)
		if err != nil {
			return err
		}
		if pl == nil {
			continue
		}
		key := pl.Name
		if pl.Route != nil {
			key += "|route:" + pl.Route.Name + pl.Route.ID
		}
		if pl.Service != nil {
			key += "|service:" + pl.Service.Name + pl.Service.ID
		}
		if prev, dup := seen[key]; dup {
			return p.d.errf(pp.node, "plugin %q is configured twice for the same scope (also on line %d)", pl.Name, prev)
		}
		seen[key] = pl.Line
		switch {
		case pl.Route != nil && pl.Service == nil:
			pl.Route.Plugins = append(pl.Route.Plugins, pl)
		case pl.Service != nil && pl.Route == nil:
			pl.Service.Plugins = append(pl.Service.Plugins, pl)
		case pl.Route == nil && pl.Service == nil:
			p.cfg.Plugins = append(p.cfg.Plugins, pl)
		default:
			pl.Route.Plugins = append(pl.Route.Plugins, pl) // route+service scope, see routePlugins
		}
	}
	return nil
}

// Kong's name rule for services, routes and plugin instances.
var entityName = regexp.MustCompile(`^[A-Za-z0-9._~-]+$`)

func (p *parser) claimName(kind, name string, n *yaml.Node) error {
	if !entityName.MatchString(name) {
		return p.d.errf(n, "%s name %q may contain only letters, digits, '.', '-', '_' and '~'", kind, name)
	}
	key := kind + ":" + name
	if prev, dup := p.names[key]; dup {
		return p.d.errf(n, "%s name %q is used twice (also on line %d)", kind, name, prev)
	}
	p.names[key] = n.Line
	return nil
}

// resolveRef finds what o's field (route, service, consumer) refers to
// in m, by name or id: nil when o has no such field, an error naming the
// line when it refers to nothing in m. what names o in that error.
func resolveRef[T any](p *parser, o *object, field, what string, m map[string]*T) (*T, error) {
	ref, err := p.ref(o, field)
	if err != nil || ref == "" {
		return nil, err
	}
	v := m[ref]
	if v == nil {
		return nil, p.d.errf(o.line(field), "%s refers to unknown %s %q", what, field, ref)
	}
	return v, nil
}

// ref reads a foreign key written as a name, or as {id: …} / {name: …} /
// {username: …}.
func (p *parser) ref(o *object, field string) (string, error) {
	v, err := o.get(field)
	if err != nil || v == nil {
		return "", err
	}
	if v.Kind == yaml.ScalarNode {
		return v.Value, nil
	}
	ro, err := p.d.object(v, field+" reference")
	if err != nil {
		return "", err
	}
	for _, k := range []string{"id", "name", "username"} {
		s, err := ro.str(k, "")
		if err != nil {
			return "", err
		}
		if s != "" {
			return s, ro.done()
		}
	}
	return "", p.d.errf(v, "%s reference needs an id or a name", field)
}

// stableUUID derives a name-based (version 5 style) UUID, so entities
// without an id get the same id on every load.
func stableUUID(kind, name string) string {
	h := sha1.Sum([]byte("sfp-gateway/" + kind + "/" + name))
	h[6] = (h[6] & 0x0f) | 0x50
	h[8] = (h[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

var errNoConfig = errors.New("gateway: nil config")
