package gateway

import (
	"crypto/sha1"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
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
	Name         string
	ID           string
	Service      *Service
	Paths        []string // normalised plain prefixes
	Methods      []string
	Hosts        []string
	StripPath    bool
	PreserveHost bool
	Plugins      []*Plugin
	Line         int
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
	for _, kind := range []string{"acls", "keyauth_credentials", "basicauth_credentials"} {
		items, err := o.list(kind)
		if err != nil {
			return err
		}
		for _, n := range items {
			if err := p.consumerEntity(kind, n, nil); err != nil {
				return err
			}
		}
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

func (p *parser) consumer(n *yaml.Node) error {
	o, err := p.d.object(n, "consumer")
	if err != nil {
		return err
	}
	c := &Consumer{Line: o.node.Line}
	if c.Username, err = o.str("username", ""); err != nil {
		return err
	}
	if c.CustomID, err = o.str("custom_id", ""); err != nil {
		return err
	}
	if c.ID, err = o.str("id", ""); err != nil {
		return err
	}
	if c.Username == "" && c.CustomID == "" {
		return p.d.errf(o.node, "consumer needs a username or a custom_id")
	}
	label := c.Username
	if label == "" {
		label = c.CustomID
	}
	o.what = fmt.Sprintf("consumer %q", label)
	if c.Username != "" {
		if _, dup := p.consumers[c.Username]; dup {
			return p.d.errf(o.line("username"), "consumer username %q is used twice", c.Username)
		}
		p.consumers[c.Username] = c
	}
	if c.ID == "" {
		c.ID = stableUUID("consumer", label)
	}
	if _, dup := p.consumers[c.ID]; dup && c.Username != c.ID {
		return p.d.errf(o.line("id"), "consumer id %q is used twice", c.ID)
	}
	p.consumers[c.ID] = c
	o.ignore("tags")
	if err := o.unsupported("plugins", isEmptyList, " (consumer-scoped plugins)"); err != nil {
		return err
	}
	p.cfg.Consumers = append(p.cfg.Consumers, c)
	for _, kind := range []string{"acls", "keyauth_credentials", "basicauth_credentials"} {
		items, err := o.list(kind)
		if err != nil {
			return err
		}
		for _, item := range items {
			if err := p.consumerEntity(kind, item, c); err != nil {
				return err
			}
		}
	}
	return o.done()
}

// consumerEntity decodes an acl group or a credential, nested in a consumer
// (c != nil) or top-level with a consumer reference.
func (p *parser) consumerEntity(kind string, n *yaml.Node, c *Consumer) error {
	what := map[string]string{"acls": "acl", "keyauth_credentials": "key-auth credential", "basicauth_credentials": "basic-auth credential"}[kind]
	o, err := p.d.object(n, what)
	if err != nil {
		return err
	}
	if c == nil {
		ref, err := p.ref(o, "consumer")
		if err != nil {
			return err
		}
		if ref == "" {
			return p.d.errf(o.node, "%s needs a consumer", what)
		}
		if c = p.consumers[ref]; c == nil {
			return p.d.errf(o.line("consumer"), "%s refers to unknown consumer %q", what, ref)
		}
	}
	id, err := o.str("id", "")
	if err != nil {
		return err
	}
	o.ignore("tags", "created_at")
	switch kind {
	case "acls":
		g, err := o.str("group", "")
		if err != nil {
			return err
		}
		if g == "" {
			return p.d.errf(o.node, "acl needs a group")
		}
		c.Groups = append(c.Groups, g)
	case "keyauth_credentials":
		key, err := o.str("key", "")
		if err != nil {
			return err
		}
		if key == "" {
			return p.d.errf(o.line("key"), "key-auth credential of consumer %q has an empty key", c.Username)
		}
		if err := o.unsupported("ttl", func(n *yaml.Node) bool { return n.Value == "0" }, " (expiring keys)"); err != nil {
			return err
		}
		if prev, dup := p.cfg.keys[key]; dup {
			return p.d.errf(o.line("key"), "key-auth key of consumer %q is already the key of consumer %q (line %d)", c.Username, prev.consumer.Username, prev.line)
		}
		if id == "" {
			id = stableUUID("keyauth", c.ID+"/"+strconv.Itoa(len(p.cfg.keys)))
		}
		p.cfg.keys[key] = credential{consumer: c, id: id, line: o.node.Line}
	default:
		user, err := o.str("username", "")
		if err != nil {
			return err
		}
		pass, err := o.str("password", "")
		if err != nil {
			return err
		}
		if user == "" {
			return p.d.errf(o.node, "basic-auth credential of consumer %q needs a username", c.Username)
		}
		if prev, dup := p.cfg.basics[user]; dup {
			return p.d.errf(o.line("username"), "basic-auth username is used twice (also on line %d)", prev.line)
		}
		if id == "" {
			id = stableUUID("basicauth", c.ID+"/"+user)
		}
		p.cfg.basics[user] = credential{consumer: c, id: id, secret: pass, line: o.node.Line}
	}
	return o.done()
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

func (p *parser) service(n *yaml.Node) error {
	o, err := p.d.object(n, "service")
	if err != nil {
		return err
	}
	s := &Service{Line: o.node.Line}
	if s.Name, err = o.str("name", ""); err != nil {
		return err
	}
	if s.ID, err = o.str("id", ""); err != nil {
		return err
	}
	label := s.Name
	if label == "" {
		label = s.ID
	}
	o.what = fmt.Sprintf("service %q", label)
	if s.Name != "" {
		if err := p.claimName("service", s.Name, o.line("name")); err != nil {
			return err
		}
	}
	if s.Enabled, err = o.boolean("enabled", true); err != nil {
		return err
	}
	if err := p.serviceEndpoint(o, s); err != nil {
		return err
	}
	if err := p.serviceTimeouts(o, s); err != nil {
		return err
	}
	o.ignore("retries", "tags", "tls_verify", "tls_verify_depth", "created_at", "updated_at")
	if err := o.unsupported("client_certificate", nil, ""); err != nil {
		return err
	}
	if err := o.unsupported("ca_certificates", isEmptyList, ""); err != nil {
		return err
	}
	if s.ID != "" {
		p.services[s.ID] = s
	}
	if s.Name != "" {
		p.services[s.Name] = s
	}
	p.cfg.Services = append(p.cfg.Services, s)
	if err := p.serviceChildren(o, s); err != nil {
		return err
	}
	return o.done()
}

// serviceEndpoint reads where a service's upstream is: url, or protocol,
// host, port and path, with Kong's defaults (http, port 80 or 443, "/").
func (p *parser) serviceEndpoint(o *object, s *Service) error {
	rawURL, err := o.str("url", "")
	if err != nil {
		return err
	}
	protocol, err := o.str("protocol", "")
	if err != nil {
		return err
	}
	host, err := o.str("host", "")
	if err != nil {
		return err
	}
	port, err := o.integer("port", 0)
	if err != nil {
		return err
	}
	path, err := o.str("path", "")
	if err != nil {
		return err
	}
	if rawURL != "" {
		if host != "" || port != 0 || path != "" {
			return p.d.errf(o.line("url"), "%s: set either url or host/port/path, not both", o.what)
		}
		u, err := url.Parse(rawURL)
		if err != nil || u.Host == "" || u.Opaque != "" {
			return p.d.errf(o.line("url"), "%s: invalid url %q", o.what, rawURL)
		}
		if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return p.d.errf(o.line("url"), "%s: url may not carry credentials, a query or a fragment", o.what)
		}
		host = u.Hostname()
		if ps := u.Port(); ps != "" {
			if port, err = strconv.Atoi(ps); err != nil {
				return p.d.errf(o.line("url"), "%s: invalid port in url %q", o.what, rawURL)
			}
		}
		path = u.EscapedPath()
		if protocol == "" {
			protocol = u.Scheme
		}
	}
	if protocol == "" {
		protocol = "http"
	}
	switch protocol {
	case "http", "https", "ws", "wss":
	default:
		return p.d.errf(o.line("protocol"), "%s: protocol %q is not supported by the embedded gateway (supported: http, https, ws, wss)", o.what, protocol)
	}
	if host == "" {
		return p.d.errf(o.node, "%s has no host (set url or host)", o.what)
	}
	if port == 0 {
		port = 80
		if protocol == "https" || protocol == "wss" {
			port = 443
		}
	}
	if port < 1 || port > 65535 {
		return p.d.errf(o.line("port"), "%s: port %d is out of range", o.what, port)
	}
	if path == "" {
		path = "/"
	}
	if !strings.HasPrefix(path, "/") {
		return p.d.errf(o.line("path"), "%s: path %q must start with /", o.what, path)
	}
	s.Protocol, s.Host, s.Port, s.Path = protocol, strings.ToLower(host), port, path
	return nil
}

// serviceTimeouts reads the connect, read and write timeouts
// (milliseconds, default 60000).
func (p *parser) serviceTimeouts(o *object, s *Service) error {
	for _, t := range []struct {
		name string
		dst  *time.Duration
	}{{"connect_timeout", &s.ConnectTimeout}, {"read_timeout", &s.ReadTimeout}, {"write_timeout", &s.WriteTimeout}} {
		ms, err := o.integer(t.name, 60000)
		if err != nil {
			return err
		}
		if ms < 1 {
			return p.d.errf(o.line(t.name), "%s: %s must be positive", o.what, t.name)
		}
		*t.dst = time.Duration(ms) * time.Millisecond
	}
	return nil
}

// serviceChildren reads the routes nested in a service and queues its
// plugins (they are built once every consumer is known).
func (p *parser) serviceChildren(o *object, s *Service) error {
	routes, err := o.list("routes")
	if err != nil {
		return err
	}
	for _, rn := range routes {
		if _, err := p.route(rn, s); err != nil {
			return err
		}
	}
	plugins, err := o.list("plugins")
	if err != nil {
		return err
	}
	for _, pn := range plugins {
		p.pending = append(p.pending, pendingPlugin{node: pn, service: s})
	}
	return nil
}

// plainPath is what Kong 2.x treats as a prefix path; anything else is a regex.
var plainPath = regexp.MustCompile(`^[A-Za-z0-9./_~%-]*$`)

var methodToken = regexp.MustCompile(`^[A-Z]+$`)

func (p *parser) route(n *yaml.Node, svc *Service) (*Route, error) {
	o, err := p.d.object(n, "route")
	if err != nil {
		return nil, err
	}
	r := &Route{Line: o.node.Line}
	if r.Name, err = o.str("name", ""); err != nil {
		return nil, err
	}
	if r.ID, err = o.str("id", ""); err != nil {
		return nil, err
	}
	label := r.Name
	if label == "" {
		label = r.ID
	}
	o.what = fmt.Sprintf("route %q", label)
	if r.Name != "" {
		if err := p.claimName("route", r.Name, o.line("name")); err != nil {
			return nil, err
		}
	}
	if svc != nil {
		if o.has("service") {
			return nil, p.d.errf(o.line("service"), "%s is nested in a service and may not set service", o.what)
		}
		o.ignore("service")
	} else {
		ref, err := p.ref(o, "service")
		if err != nil {
			return nil, err
		}
		if ref == "" {
			return nil, p.d.errf(o.node, "%s has no service", o.what)
		}
		if svc = p.services[ref]; svc == nil {
			return nil, p.d.errf(o.line("service"), "%s refers to unknown service %q", o.what, ref)
		}
	}
	r.Service = svc
	if err := p.routeMatch(o, r); err != nil {
		return nil, err
	}
	if r.StripPath, err = o.boolean("strip_path", true); err != nil {
		return nil, err
	}
	if r.PreserveHost, err = o.boolean("preserve_host", false); err != nil {
		return nil, err
	}
	ph, err := o.str("path_handling", "v0")
	if err != nil {
		return nil, err
	}
	if ph != "v0" {
		return nil, p.d.errf(o.line("path_handling"), "%s: path_handling %q is not supported by the embedded gateway (only v0, Kong's default)", o.what, ph)
	}
	o.ignore("regex_priority", "https_redirect_status_code", "request_buffering", "response_buffering", "tags", "created_at", "updated_at")
	for _, f := range []string{"headers", "snis", "sources", "destinations"} {
		neutral := isEmptyList
		if f == "headers" {
			neutral = func(n *yaml.Node) bool { return n.Kind == yaml.MappingNode && len(n.Content) == 0 }
		}
		if err := o.unsupported(f, neutral, " (routes match on paths, methods and hosts)"); err != nil {
			return nil, err
		}
	}
	if r.ID != "" {
		p.routes[r.ID] = r
	}
	if r.Name != "" {
		p.routes[r.Name] = r
	}
	svc.Routes = append(svc.Routes, r)
	p.cfg.Routes = append(p.cfg.Routes, r)
	plugins, err := o.list("plugins")
	if err != nil {
		return nil, err
	}
	for _, pn := range plugins {
		p.pending = append(p.pending, pendingPlugin{node: pn, route: r})
	}
	return r, o.done()
}

// routeMatch reads what a route matches: prefix paths (Kong 2.x treats
// anything else as a regex, which the embedded gateway refuses), methods,
// hosts (one wildcard label at either end) and protocols.
func (p *parser) routeMatch(o *object, r *Route) error {
	paths, err := o.strings("paths")
	if err != nil {
		return err
	}
	for _, pa := range paths {
		regex := strings.HasPrefix(pa, "~")
		if !p.v30 {
			regex = !plainPath.MatchString(pa)
		}
		if regex {
			return p.d.errf(o.line("paths"), "%s: regex path %q is not supported by the embedded gateway (use a prefix path)", o.what, pa)
		}
		if !strings.HasPrefix(pa, "/") {
			return p.d.errf(o.line("paths"), "%s: path %q must start with /", o.what, pa)
		}
		norm, ok := normalizePath(pa)
		if !ok {
			return p.d.errf(o.line("paths"), "%s: invalid path %q", o.what, pa)
		}
		r.Paths = append(r.Paths, norm)
	}
	methods, err := o.strings("methods")
	if err != nil {
		return err
	}
	for _, m := range methods {
		m = strings.ToUpper(m)
		if !methodToken.MatchString(m) {
			return p.d.errf(o.line("methods"), "%s: invalid method %q", o.what, m)
		}
		r.Methods = append(r.Methods, m)
	}
	hosts, err := o.strings("hosts")
	if err != nil {
		return err
	}
	for _, h := range hosts {
		h = strings.ToLower(h)
		if h == "" || strings.Count(h, "*") > 1 || (strings.Contains(h, "*") && !strings.HasPrefix(h, "*.") && !strings.HasSuffix(h, ".*")) {
			return p.d.errf(o.line("hosts"), "%s: invalid host %q (a wildcard may only be the first or last label)", o.what, h)
		}
		r.Hosts = append(r.Hosts, h)
	}
	if len(r.Paths) == 0 && len(r.Methods) == 0 && len(r.Hosts) == 0 {
		return p.d.errf(o.node, "%s must set at least one of paths, methods or hosts", o.what)
	}
	protocols, err := o.strings("protocols")
	if err != nil {
		return err
	}
	for _, pr := range protocols {
		switch pr {
		case "http", "https", "ws", "wss":
		default:
			return p.d.errf(o.line("protocols"), "%s: protocol %q is not supported by the embedded gateway", o.what, pr)
		}
	}
	return nil
}

func (p *parser) plugin(pp pendingPlugin) (*Plugin, error) {
	o, err := p.d.object(pp.node, "plugin")
	if err != nil {
		return nil, err
	}
	name, err := o.str("name", "")
	if err != nil {
		return nil, err
	}
	if name == "" {
		return nil, p.d.errf(o.node, "plugin has no name")
	}
	spec, ok := pluginSpecs[name]
	if !ok {
		return nil, p.d.errf(o.line("name"), "unknown plugin %q (the embedded gateway supports: %s)", name, strings.Join(pluginNames(), ", "))
	}
	o.what = fmt.Sprintf("plugin %q", name)
	pl := &Plugin{Name: name, Route: pp.route, Service: pp.service, Line: o.node.Line}
	if pl.Enabled, err = o.boolean("enabled", true); err != nil {
		return nil, err
	}
	nested := pp.route != nil || pp.service != nil
	if nested {
		for _, f := range []string{"route", "service", "consumer"} {
			if o.has(f) {
				return nil, p.d.errf(o.line(f), "%s is nested and may not set %s", o.what, f)
			}
			o.ignore(f)
		}
	} else {
		if err := o.unsupported("consumer", nil, " (consumer-scoped plugins)"); err != nil {
			return nil, err
		}
		rref, err := p.ref(o, "route")
		if err != nil {
			return nil, err
		}
		if rref != "" {
			if pl.Route = p.routes[rref]; pl.Route == nil {
				return nil, p.d.errf(o.line("route"), "%s refers to unknown route %q", o.what, rref)
			}
		}
		sref, err := p.ref(o, "service")
		if err != nil {
			return nil, err
		}
		if sref != "" {
			if pl.Service = p.services[sref]; pl.Service == nil {
				return nil, p.d.errf(o.line("service"), "%s refers to unknown service %q", o.what, sref)
			}
		}
	}
	o.ignore("protocols", "tags", "id", "instance_name", "run_on", "created_at", "updated_at")
	if err := o.unsupported("ordering", nil, " (dynamic plugin ordering)"); err != nil {
		return nil, err
	}
	conf, err := o.sub("config", fmt.Sprintf("config of plugin %q", name))
	if err != nil {
		return nil, err
	}
	impl, err := spec.build(conf, p)
	if err != nil {
		return nil, err
	}
	if err := conf.done(); err != nil {
		return nil, err
	}
	pl.impl = impl
	return pl, o.done()
}

// routePlugins merges the plugins that apply to a route as Kong does: for
// each plugin name the most specific instance wins (route+service, then
// route, then service, then global); the result runs in priority order.
func (c *Config) routePlugins(r *Route) []*Plugin {
	chosen := map[string]*Plugin{}
	rank := map[string]int{}
	consider := func(p *Plugin, level int) {
		// Kong loads enabled plugins only: a disabled instance shadows nothing.
		if p.Enabled && level > rank[p.Name] {
			chosen[p.Name], rank[p.Name] = p, level
		}
	}
	for _, p := range c.Plugins {
		consider(p, 1)
	}
	for _, p := range r.Service.Plugins {
		consider(p, 2)
	}
	for _, p := range r.Plugins {
		switch {
		case p.Service == nil:
			consider(p, 3)
		case p.Service == r.Service:
			consider(p, 4)
		}
	}
	out := make([]*Plugin, 0, len(chosen))
	for _, p := range chosen {
		out = append(out, p)
	}
	sort.SliceStable(out, func(i, j int) bool {
		pi, pj := pluginSpecs[out[i].Name].priority, pluginSpecs[out[j].Name].priority
		if pi != pj {
			return pi > pj
		}
		return out[i].Name < out[j].Name
	})
	return out
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
