package gateway

import (
	"cmp"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Services and the routes that lead to them.

func (p *parser) service(n *yaml.Node) error {
	o, err := p.d.object(n, "service")
	if err != nil {
		return err
	}
	s := &Service{Line: o.node.Line}
	if s.Name, s.ID, err = p.nameAndID(o, "service"); err != nil {
		return err
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

// nameAndID reads the name and id of a service or route (kind), names o
// after them in later errors (`service "api"`, by id when unnamed) and
// claims the name, which must be unique among entities of that kind.
func (p *parser) nameAndID(o *object, kind string) (name, id string, err error) {
	if name, err = o.str("name", ""); err != nil {
		return "", "", err
	}
	if id, err = o.str("id", ""); err != nil {
		return "", "", err
	}
	o.what = fmt.Sprintf("%s %q", kind, cmp.Or(name, id))
	if name != "" {
		if err := p.claimName(kind, name, o.line("name")); err != nil {
			return "", "", err
		}
	}
	return name, id, nil
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
	if r.Name, r.ID, err = p.nameAndID(o, "route"); err != nil {
		return nil, err
	}
	if svc != nil {
		if o.has("service") {
			return nil, p.d.errf(o.line("service"), "%s is nested in a service and may not set service", o.what)
		}
		o.ignore("service")
	} else {
		var err error
		if svc, err = resolveRef(p, o, "service", o.what, p.services); err != nil {
			return nil, err
		}
		if svc == nil {
			return nil, p.d.errf(o.node, "%s has no service", o.what)
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
	o.ignore("https_redirect_status_code", "request_buffering", "response_buffering", "tags", "created_at", "updated_at")
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

// maxRoutePriority is the largest priority Kong 3 accepts (2^46 - 1).
const maxRoutePriority = 1<<46 - 1

// routeMatch reads what a route matches: an expression, or prefix paths
// (Kong 2.x treats anything else as a regex, which the embedded gateway
// refuses), methods, hosts (one wildcard label at either end); and
// protocols. Kong 3 refuses an expression together with the other
// criteria, regex_priority with an expression, and priority without one.
func (p *parser) routeMatch(o *object, r *Route) error {
	var err error
	if r.Expression, err = o.str("expression", ""); err != nil {
		return err
	}
	if r.Priority, err = o.integer("priority", 0); err != nil {
		return err
	}
	regexPriority, err := o.integer("regex_priority", 0)
	if err != nil {
		return err
	}
	if r.Priority < 0 || r.Priority > maxRoutePriority {
		return p.d.errf(o.line("priority"), "%s: priority %d is outside 0..%d", o.what, r.Priority, maxRoutePriority)
	}
	if r.Expression != "" {
		for _, f := range []string{"paths", "methods", "hosts", "headers", "snis", "sources", "destinations"} {
			if o.has(f) {
				return p.d.errf(o.line(f), "%s: cannot set 'expression' with 'methods', 'hosts', 'paths', 'headers', 'snis', 'sources' or 'destinations' simultaneously", o.what)
			}
		}
		if regexPriority != 0 {
			return p.d.errf(o.line("regex_priority"), "%s: cannot set 'regex_priority' with 'expression' simultaneously", o.what)
		}
		if r.expr, err = parseExpression(r.Expression); err != nil {
			return p.d.errf(o.line("expression"), "%s: expression %q: %v", o.what, r.Expression, err)
		}
		return p.routeProtocols(o)
	}
	if r.Priority != 0 {
		return p.d.errf(o.line("priority"), "%s: priority is only for routes with an expression (use regex_priority, or an expression)", o.what)
	}
	if r.Paths, err = p.routeList(o, "paths", p.routePath); err != nil {
		return err
	}
	if r.Methods, err = p.routeList(o, "methods", routeMethod); err != nil {
		return err
	}
	if r.Hosts, err = p.routeList(o, "hosts", routeHost); err != nil {
		return err
	}
	if len(r.Paths) == 0 && len(r.Methods) == 0 && len(r.Hosts) == 0 {
		return p.d.errf(o.node, "%s must set at least one of paths, methods, hosts or an expression", o.what)
	}
	return p.routeProtocols(o)
}

func (p *parser) routeProtocols(o *object) error {
	_, err := p.routeList(o, "protocols", routeProtocol)
	return err
}

// routeList reads a route's list of strings name, each in the form the
// router compares (norm's result); norm's error refuses the item, at the
// list's line.
func (p *parser) routeList(o *object, name string, norm func(string) (string, error)) ([]string, error) {
	items, err := o.strings(name)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, item := range items {
		v, err := norm(item)
		if err != nil {
			return nil, p.d.errf(o.line(name), "%s: %v", o.what, err)
		}
		out = append(out, v)
	}
	return out, nil
}

// routePath is a prefix path, normalized; Kong 2.x treats any path that
// is not plain as a regex, Kong 3 only those starting with "~".
func (p *parser) routePath(pa string) (string, error) {
	regex := strings.HasPrefix(pa, "~")
	if !p.v30 {
		regex = !plainPath.MatchString(pa)
	}
	if regex {
		return "", fmt.Errorf("regex path %q is not supported by the embedded gateway (use a prefix path)", pa)
	}
	if !strings.HasPrefix(pa, "/") {
		return "", fmt.Errorf("path %q must start with /", pa)
	}
	norm, ok := normalizePath(pa)
	if !ok {
		return "", fmt.Errorf("invalid path %q", pa)
	}
	return norm, nil
}

// routeMethod is an HTTP method token, upper-cased.
func routeMethod(m string) (string, error) {
	m = strings.ToUpper(m)
	if !methodToken.MatchString(m) {
		return "", fmt.Errorf("invalid method %q", m)
	}
	return m, nil
}

// routeHost is a host name, lower-cased, with at most one wildcard label
// at either end.
func routeHost(h string) (string, error) {
	h = strings.ToLower(h)
	if h == "" || strings.Count(h, "*") > 1 || (strings.Contains(h, "*") && !strings.HasPrefix(h, "*.") && !strings.HasSuffix(h, ".*")) {
		return "", fmt.Errorf("invalid host %q (a wildcard may only be the first or last label)", h)
	}
	return h, nil
}

func routeProtocol(pr string) (string, error) {
	switch pr {
	case "http", "https", "ws", "wss":
		return pr, nil
	}
	return "", fmt.Errorf("protocol %q is not supported by the embedded gateway", pr)
}
