// Package gateway is the embedded runtime's Kong: it reads the same
// declarative kong.yml the docker runtime mounts into the real Kong, and
// routes, authenticates and proxies requests to in-process servers or to
// real URLs, answering as Kong does (status codes, error bodies, headers).
// docs/gateway.md lists what it implements and where it differs.
package gateway

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/sfp-dev/sfp/pkg/server/requestid"
)

// DefaultMaxBodyBytes is the request body limit when Options leaves it zero.
const DefaultMaxBodyBytes int64 = 10 << 20

// Options wires a Config to the servers behind it.
type Options struct {
	// Upstreams maps an upstream host as written in kong.yml ("auth",
	// "rest", "realtime-dev.supabase-realtime") to an in-process server.
	// It receives the rewritten request directly, WebSocket upgrades included.
	Upstreams map[string]http.Handler
	// URLs maps an upstream host to a real server to reverse-proxy to.
	// Upstreams wins when a host is in both. A host in neither is answered
	// with 503 and a JSON message naming the service.
	URLs map[string]*url.URL
	// MaxBodyBytes limits request bodies (413 beyond it); 0 means
	// DefaultMaxBodyBytes, a negative value no limit.
	MaxBodyBytes int64
	// BodyTimeout bounds reading a request's body (408 beyond it, see
	// limits.go); 0 means no deadline.
	BodyTimeout time.Duration
	// Logger receives the access log and errors. It never sees keys,
	// passwords or query strings.
	Logger *slog.Logger
	// Observer is told every request's route, service, status and
	// duration, for the tenant's metrics (observe.go); nil observes
	// nothing.
	Observer Observer
}

// Gateway is an http.Handler serving a Config. It is safe for concurrent use.
type Gateway struct {
	cfg         *Config
	logger      *slog.Logger
	maxBody     int64
	bodyTimeout time.Duration
	matchers    []matcher
	// values holds one-element header values known at start (consumer
	// ids and names, credential ids, groups) that requests share instead
	// of allocating their own; read-only after New.
	values map[string][]string
	// noRoute observes requests no route matched.
	noRoute RequestObserver
}

type compiledRoute struct {
	route      *Route
	service    *Service
	plugins    []plugin
	filters    []responseFilter
	upstream   http.Handler // nil: the runtime has no such service
	proxied    bool         // upstream is a reverse proxy to a URL
	hostHeader string       // Host sent upstream unless preserve_host
	observer   RequestObserver
}

type matcher struct {
	prefix   string
	expr     exprNode // an expression route: prefix unused
	cr       *compiledRoute
	category int // how many kinds of criteria the route sets
	priority int // of an expression route
	order    int
}

// New builds a Gateway. It fails when Options names an upstream host no
// service uses (a wiring mistake that would otherwise surface as 503s).
func New(cfg *Config, opts Options) (*Gateway, error) {
	if cfg == nil {
		return nil, errNoConfig
	}
	g := &Gateway{cfg: cfg, logger: opts.Logger, maxBody: opts.MaxBodyBytes, bodyTimeout: opts.BodyTimeout, values: map[string][]string{}}
	g.shareValue("true")
	for _, c := range cfg.Consumers {
		g.shareValue(c.ID)
		g.shareValue(c.Username)
		g.shareValue(c.CustomID)
		g.shareValue(strings.Join(c.Groups, ", "))
	}
	for _, creds := range []map[string]credential{cfg.keys, cfg.basics} {
		for _, cr := range creds {
			g.shareValue(cr.id)
		}
	}
	if g.logger == nil {
		g.logger = slog.New(slog.DiscardHandler)
	}
	if g.maxBody == 0 {
		g.maxBody = DefaultMaxBodyBytes
	}
	g.noRoute = observerFor(opts.Observer, nil)
	known := map[string]*Service{}
	for _, s := range cfg.Services {
		if _, ok := known[s.Host]; !ok {
			known[s.Host] = s
		}
	}
	for _, m := range []map[string]bool{keysOf(opts.Upstreams), keysOf(opts.URLs)} {
		for h := range m {
			if known[h] == nil {
				return nil, fmt.Errorf("new gateway: upstream host %q is not used by any service in %s (hosts: %s)", h, cfg.File, strings.Join(cfg.UpstreamHosts(), ", "))
			}
		}
	}
	proxies := map[string]http.Handler{}
	for h, u := range opts.URLs {
		if opts.Upstreams[h] != nil {
			continue
		}
		if u == nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("new gateway: URL for upstream host %q must be an absolute http(s) URL", h)
		}
		proxies[h] = g.reverseProxy(u, known[h])
	}
	order := 0
	for _, r := range cfg.Routes {
		if !r.Service.Enabled {
			continue
		}
		cr := &compiledRoute{route: r, service: r.Service, hostHeader: r.Service.Host, observer: observerFor(opts.Observer, r)}
		if !(r.Service.Port == 80 && (r.Service.Protocol == "http" || r.Service.Protocol == "ws")) &&
			!(r.Service.Port == 443 && (r.Service.Protocol == "https" || r.Service.Protocol == "wss")) {
			cr.hostHeader += ":" + strconv.Itoa(r.Service.Port)
		}
		if h := opts.Upstreams[r.Service.Host]; h != nil {
			cr.upstream = h
		} else if p := proxies[r.Service.Host]; p != nil {
			cr.upstream, cr.proxied = p, true
		}
		for _, p := range cfg.routePlugins(r) {
			cr.plugins = append(cr.plugins, p.impl)
			if f, ok := p.impl.(responseFilter); ok {
				cr.filters = append(cr.filters, f)
			}
		}
		if r.expr != nil {
			g.matchers = append(g.matchers, matcher{expr: r.expr, cr: cr, priority: r.Priority, order: order})
			order++
			continue
		}
		category := 0
		for _, set := range []bool{len(r.Paths) > 0, len(r.Methods) > 0, len(r.Hosts) > 0} {
			if set {
				category++
			}
		}
		paths := r.Paths
		if len(paths) == 0 {
			paths = []string{""}
		}
		for _, p := range paths {
			g.matchers = append(g.matchers, matcher{prefix: p, cr: cr, category: category, order: order})
			order++
		}
	}
	// Kong 3 tries expression routes first (by priority), then routes with
	// more kinds of criteria, then the longest prefix; then the order of
	// declaration.
	sort.SliceStable(g.matchers, func(i, j int) bool {
		a, b := g.matchers[i], g.matchers[j]
		if (a.expr != nil) != (b.expr != nil) {
			return a.expr != nil
		}
		if a.expr != nil {
			return a.priority > b.priority
		}
		if a.category != b.category {
			return a.category > b.category
		}
		if len(a.prefix) != len(b.prefix) {
			return len(a.prefix) > len(b.prefix)
		}
		return a.order < b.order
	})
	return g, nil
}

func (g *Gateway) shareValue(v string) {
	if v != "" {
		g.values[v] = []string{v}
	}
}

// value returns v as a header value, shared when it is known at start. A
// shared slice has capacity 1, so appending to it elsewhere copies it.
func (g *Gateway) value(v string) []string {
	if s, ok := g.values[v]; ok {
		return s[:1:1]
	}
	return []string{v}
}

func keysOf[V any](m map[string]V) map[string]bool {
	out := make(map[string]bool, len(m))
	for k := range m {
		out[k] = true
	}
	return out
}

// exchange is one request on its way through the plugins.
type exchange struct {
	g         *Gateway
	r         *http.Request // as the client sent it
	route     *compiledRoute
	header    http.Header // headers bound for the upstream
	query     *queryArgs
	uri       string // upstream path set by request-transformer replace.uri
	host      string // upstream Host set by request-transformer
	consumer  *Consumer
	credID    string
	preflight bool
	body      *limitedBody
	// ctx is the upstream request's context: the client's, carrying the
	// request id for the servers' log lines (part of inFlight, so no
	// allocation of its own).
	ctx requestid.Context
}

// inFlight is what the gateway allocates per request, in one piece.
type inFlight struct {
	x     exchange
	rw    responseWriter
	query queryArgs
	reqID [1]string // X-Request-Id, shared by the response and the upstream request
	er    exprRequest
}

func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	f := &inFlight{}
	f.reqID[0] = requestID(r.Header.Get("X-Request-Id"))
	reqID := f.reqID[0]
	x := &f.x
	*x = exchange{g: g, r: r}
	rw := &f.rw
	*rw = responseWriter{ResponseWriter: w, x: x}
	rw.Header()["X-Request-Id"] = f.reqID[:1:1]
	defer func() {
		g.observe(rw, x, start)
		g.logAccess(r, rw, x, reqID, start)
	}()

	if g.maxBody > 0 && r.ContentLength > g.maxBody {
		rw.reply(kongError(http.StatusRequestEntityTooLarge, "Payload too large"))
		return
	}
	if r.Body != nil && r.Body != http.NoBody && (g.maxBody > 0 || g.bodyTimeout > 0) {
		x.body = g.guardBody(w, r)
	}
	reqPath, ok := normalizePath(r.URL.EscapedPath())
	if !ok {
		rw.reply(kongError(http.StatusBadRequest, "Bad request"))
		return
	}
	m, prefix := g.match(r, reqPath, &f.er)
	if m == nil {
		rw.reply(kongError(http.StatusNotFound, "no Route matched with those values"))
		return
	}
	cr := m.cr
	x.route = cr
	x.header = cloneHeader(r.Header, 16)
	for _, h := range consumerHeaders {
		delete(x.header, h)
	}
	x.header["X-Request-Id"] = f.reqID[:1:1]
	f.query = queryArgs{raw: r.URL.RawQuery}
	x.query = &f.query

	for _, p := range cr.plugins {
		if rep := p.access(x); rep != nil {
			rw.reply(rep)
			return
		}
	}
	if cr.upstream == nil {
		rw.reply(kongError(http.StatusServiceUnavailable, fmt.Sprintf(
			"The upstream server is currently unavailable: service %q (%s) is not part of this runtime", serviceLabel(cr.service), cr.hostHeader)))
		return
	}
	out := g.outbound(x, reqPath, prefix)
	cr.upstream.ServeHTTP(rw, out)
	if rep := x.body.failure(); rep != nil && rw.status == 0 {
		rw.reply(rep) // the upstream gave up on the body without a word
	}
}

// match finds the route for a request (nil when none matches) and the path
// prefix strip_path removes; er is room for evaluating expressions (part of
// the request's one allocation).
func (g *Gateway) match(r *http.Request, reqPath string, er *exprRequest) (*matcher, string) {
	host := strings.ToLower(r.Host)
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	for i := range g.matchers {
		m := &g.matchers[i]
		rt := m.cr.route
		if m.expr != nil {
			*er = exprRequest{path: reqPath, host: host, method: r.Method}
			if !m.expr.eval(er) {
				continue
			}
			// Kong strips the path an http.path predicate matched, "/"
			// when none did.
			if er.matched == "" {
				er.matched = "/"
			}
			return m, er.matched
		}
		if !strings.HasPrefix(reqPath, m.prefix) {
			continue
		}
		if len(rt.Methods) > 0 && !slices.Contains(rt.Methods, r.Method) {
			continue
		}
		if len(rt.Hosts) > 0 && !hostMatches(rt.Hosts, host) {
			continue
		}
		return m, m.prefix
	}
	return nil, ""
}

func hostMatches(hosts []string, host string) bool {
	for _, h := range hosts {
		switch {
		case h == host:
			return true
		case strings.HasPrefix(h, "*."):
			if strings.HasSuffix(host, h[1:]) && len(host) > len(h)-1 {
				return true
			}
		case strings.HasSuffix(h, ".*"):
			if strings.HasPrefix(host, h[:len(h)-1]) && len(host) > len(h)-1 {
				return true
			}
		}
	}
	return false
}

// outbound builds the request the upstream receives: rewritten path and
// query, plugin-modified headers, Kong's Host and X-Forwarded-* headers.
func (g *Gateway) outbound(x *exchange, reqPath, prefix string) *http.Request {
	r, cr := x.r, x.route
	path := x.uri
	if path == "" {
		path = upstreamPath(cr.service.Path, reqPath, prefix, cr.route.StripPath)
	}
	u := &url.URL{RawQuery: x.query.encode()}
	setEscapedPath(u, path)

	h := x.header
	ip := clientIP(r)
	fwdFor := ip
	if prior := r.Header.Values("X-Forwarded-For"); len(prior) > 0 {
		fwdFor = strings.Join(prior, ", ") + ", " + ip
	}
	proto := "http"
	if r.TLS != nil {
		proto = "https"
	}
	fwdHost := r.Host
	if hh, _, err := net.SplitHostPort(fwdHost); err == nil {
		fwdHost = hh
	}
	// One backing array for the seven values; keys are already canonical.
	v := [...]string{fwdFor, ip, proto, fwdHost, localPort(r), r.URL.EscapedPath(), prefix}
	vals := v[:]
	set := func(k string, i int) { h[k] = vals[i : i+1 : i+1] }
	set("X-Forwarded-For", 0)
	set("X-Real-Ip", 1)
	set("X-Forwarded-Proto", 2)
	set("X-Forwarded-Host", 3)
	if v[4] != "" {
		set("X-Forwarded-Port", 4)
	} else {
		delete(h, "X-Forwarded-Port")
	}
	set("X-Forwarded-Path", 5)
	if cr.route.StripPath && prefix != "" && prefix != "/" {
		set("X-Forwarded-Prefix", 6)
	} else {
		delete(h, "X-Forwarded-Prefix")
	}

	x.ctx = requestid.Context{Context: r.Context()}
	if id := h["X-Request-Id"]; len(id) > 0 {
		x.ctx.ID = id[0]
	}
	out := r.WithContext(&x.ctx) // the one copy of the request, as before
	out.URL = u
	out.RequestURI = u.RequestURI()
	out.Header = h
	switch {
	case x.host != "":
		out.Host = x.host
	case cr.route.PreserveHost:
	default:
		out.Host = cr.hostHeader
	}
	if x.body != nil {
		out.Body = x.body
	}
	return out
}

// cloneHeader copies h into a map with room for the headers the gateway
// adds, so adding them does not grow (and rehash) the map; value slices are
// capped so an Add never writes into the client's request.
func cloneHeader(h http.Header, extra int) http.Header {
	n := 0
	for _, v := range h {
		n += len(v)
	}
	vals := make([]string, n)
	out := make(http.Header, len(h)+extra)
	for k, v := range h {
		m := copy(vals, v)
		out[k] = vals[:m:m]
		vals = vals[m:]
	}
	return out
}

func clientIP(r *http.Request) string {
	if h, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return h
	}
	return r.RemoteAddr
}

func localPort(r *http.Request) string {
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
		return strconv.Itoa(a.Port)
	}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		if _, p, err := net.SplitHostPort(a.String()); err == nil {
			return p
		}
	}
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		return p
	}
	return ""
}

// reverseProxy proxies to a real server, WebSocket upgrades included.
func (g *Gateway) reverseProxy(target *url.URL, svc *Service) http.Handler {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: svc.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext
	tr.ResponseHeaderTimeout = svc.ReadTimeout
	base := strings.TrimSuffix(target.EscapedPath(), "/")
	return &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme = target.Scheme
			pr.Out.URL.Host = target.Host
			setEscapedPath(pr.Out.URL, base+pr.In.URL.EscapedPath())
			pr.Out.URL.RawQuery = pr.In.URL.RawQuery
			pr.Out.Host = pr.In.Host
			for _, k := range []string{"X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
				if v := pr.In.Header.Get(k); v != "" {
					pr.Out.Header.Set(k, v)
				}
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			rw, _ := w.(*responseWriter)
			switch {
			case rw != nil && rw.x.body.failure() != nil:
				rw.reply(rw.x.body.failure())
				return
			case errors.Is(err, r.Context().Err()) && r.Context().Err() != nil:
				// The client went away; nobody reads this response.
				w.WriteHeader(499)
				return
			}
			g.logger.Error("gateway: upstream request failed", "upstream", target.Host, "error", err)
			status, msg := http.StatusBadGateway, "An invalid response was received from the upstream server"
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				status, msg = http.StatusGatewayTimeout, "The upstream server is timing out"
			}
			if rw != nil {
				rw.reply(kongError(status, msg))
			} else {
				w.WriteHeader(status)
			}
		},
	}
}

// A client-sent request id is kept when it looks like one.
var saneRequestID = regexp.MustCompile(`^[A-Za-z0-9._:+/=@-]{1,128}$`)

func requestID(given string) string {
	if saneRequestID.MatchString(given) {
		return given
	}
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:36], b[10:16])
	return string(out[:])
}

func (g *Gateway) logAccess(r *http.Request, rw *responseWriter, x *exchange, reqID string, start time.Time) {
	status := rw.status
	if status == 0 {
		status = http.StatusOK // the handler wrote nothing: net/http sends 200
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	if !g.logger.Enabled(r.Context(), level) {
		return
	}
	attrs := []slog.Attr{
		slog.String("method", r.Method),
		slog.String("path", r.URL.EscapedPath()), // never the query: it may carry an apikey
		slog.Int("status", status),
		slog.Duration("duration", time.Since(start)),
		slog.Int64("bytes", rw.bytes),
		slog.String("request_id", reqID),
		slog.String("remote", clientIP(r)),
	}
	if x.route != nil {
		attrs = append(attrs, slog.String("route", x.route.route.Name), slog.String("service", serviceLabel(x.route.service)))
	}
	if x.consumer != nil {
		attrs = append(attrs, slog.String("consumer", consumerLabel(x.consumer)))
	}
	g.logger.LogAttrs(r.Context(), level, "request", attrs...)
}

func serviceLabel(s *Service) string {
	if s.Name != "" {
		return s.Name
	}
	if s.ID != "" {
		return s.ID
	}
	return s.Host
}

func consumerLabel(c *Consumer) string {
	if c.Username != "" {
		return c.Username
	}
	return c.CustomID
}
