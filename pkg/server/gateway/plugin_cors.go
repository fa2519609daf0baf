package gateway

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
)

type corsOrigin struct {
	re     *regexp.Regexp // nil for a plain origin
	byHost bool           // the regex matches the host only (no ':' in the entry)
	domain string         // normalised plain origin
}

type corsPlugin struct {
	allowAll          bool
	single            string // the one configured plain origin, sent as is
	origins           []corsOrigin
	methods           string
	headers           string // "" reflects Access-Control-Request-Headers
	exposed           string
	exposedVal        []string // exposed as a shared header value
	credentials       bool
	maxAge            string
	preflightContinue bool
	privateNetwork    bool
	allowOriginAbsent bool
}

var corsMethods = map[string]bool{"GET": true, "HEAD": true, "PUT": true, "PATCH": true, "POST": true, "DELETE": true, "OPTIONS": true, "TRACE": true, "CONNECT": true}

func buildCORS(conf *object, p *parser) (plugin, error) {
	c := &corsPlugin{}
	origins, err := conf.strings("origins")
	if err != nil {
		return nil, err
	}
	switch {
	case len(origins) == 0 || (len(origins) == 1 && origins[0] == "*"):
		c.allowAll = true
	case len(origins) == 1 && plainOrigin.MatchString(origins[0]):
		c.single = origins[0]
	}
	for _, o := range origins {
		if o == "*" {
			c.origins = append(c.origins, corsOrigin{domain: "*"})
			continue
		}
		co := corsOrigin{byHost: !strings.Contains(o, ":")}
		if !plainOrigin.MatchString(o) {
			expr := strings.TrimPrefix(o, "^")
			if !strings.HasSuffix(expr, "$") {
				expr += "$"
			}
			re, err := regexp.Compile("^(?:" + expr + ")")
			if err != nil {
				return nil, p.d.errf(conf.line("origins"), "%s: origin %q is not a valid regular expression: %v", conf.what, o, err)
			}
			co.re = re
		} else {
			co.domain, _ = normalizeOrigin(o)
		}
		c.origins = append(c.origins, co)
	}
	methods, err := conf.strings("methods")
	if err != nil {
		return nil, err
	}
	for _, m := range methods {
		if !corsMethods[m] {
			return nil, p.d.errf(conf.line("methods"), "%s: method %q is not one of GET, HEAD, PUT, PATCH, POST, DELETE, OPTIONS, TRACE, CONNECT", conf.what, m)
		}
	}
	c.methods = "GET,HEAD,PUT,PATCH,POST,DELETE,OPTIONS,TRACE,CONNECT"
	if conf.has("methods") {
		c.methods = strings.Join(methods, ",")
	}
	headers, err := conf.strings("headers")
	if err != nil {
		return nil, err
	}
	c.headers = strings.Join(headers, ",")
	exposed, err := conf.strings("exposed_headers")
	if err != nil {
		return nil, err
	}
	c.exposed = strings.Join(exposed, ",")
	c.exposedVal = []string{c.exposed}
	if c.credentials, err = conf.boolean("credentials", false); err != nil {
		return nil, err
	}
	if conf.has("max_age") {
		n, err := conf.integer("max_age", 0)
		if err != nil {
			return nil, err
		}
		c.maxAge = strconv.Itoa(n)
	} else {
		conf.ignore("max_age")
	}
	if c.preflightContinue, err = conf.boolean("preflight_continue", false); err != nil {
		return nil, err
	}
	if c.privateNetwork, err = conf.boolean("private_network", false); err != nil {
		return nil, err
	}
	if c.allowOriginAbsent, err = conf.boolean("allow_origin_absent", true); err != nil {
		return nil, err
	}
	return c, nil
}

// plainOrigin is what Kong treats as a literal origin rather than a regex.
var plainOrigin = regexp.MustCompile(`^[A-Za-z0-9.:/-]+$`)

// normalizeOrigin returns scheme://host[:port] without default ports, and the host.
func normalizeOrigin(s string) (domain, host string) {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return s, s
	}
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	domain = u.Hostname()
	if port != "" {
		domain += ":" + port
	}
	if u.Scheme != "" {
		domain = u.Scheme + "://" + domain
	}
	return domain, u.Hostname()
}

func (c *corsPlugin) access(x *exchange) *reply {
	origin := x.r.Header.Get("Origin")
	if x.r.Method != http.MethodOptions || origin == "" || x.r.Header.Get("Access-Control-Request-Method") == "" {
		return nil
	}
	x.preflight = true // the response filter adds nothing: the preflight has all it needs
	if c.preflightContinue {
		return nil
	}
	rep := &reply{status: http.StatusOK, header: http.Header{}}
	allowAll := c.configureOrigin(rep.header, origin, false)
	c.configureCredentials(rep.header, allowAll, origin, false)
	if c.headers != "" {
		rep.header.Set("Access-Control-Allow-Headers", c.headers)
	} else if acrh := x.r.Header.Get("Access-Control-Request-Headers"); acrh != "" {
		rep.header.Set("Access-Control-Allow-Headers", acrh)
	}
	rep.header.Set("Access-Control-Allow-Methods", c.methods)
	if c.maxAge != "" {
		rep.header.Set("Access-Control-Max-Age", c.maxAge)
	}
	if c.privateNetwork && x.r.Header.Get("Access-Control-Request-Private-Network") == "true" {
		rep.header.Set("Access-Control-Allow-Private-Network", "true")
	}
	return rep
}

func (c *corsPlugin) filterResponse(x *exchange, h http.Header) {
	if x.preflight {
		return
	}
	origin := x.r.Header.Get("Origin")
	if origin == "" && !c.allowOriginAbsent {
		return
	}
	allowAll := c.configureOrigin(h, origin, true)
	c.configureCredentials(h, allowAll, origin, true)
	if c.exposed != "" {
		h["Access-Control-Expose-Headers"] = c.exposedVal[:1:1]
	}
}

// Header values the cors plugin sets on many responses, shared (capacity
// 1: appending elsewhere copies).
var (
	varyOrigin = []string{"Origin"}
	allowAny   = []string{"*"}
)

func addVary(h http.Header, filter bool) {
	if filter {
		vals := h["Vary"]
		for _, v := range vals {
			if strings.EqualFold(strings.TrimSpace(v), "Origin") {
				return
			}
		}
		if len(vals) == 0 {
			h["Vary"] = varyOrigin[:1:1]
		} else {
			h["Vary"] = append(vals, "Origin")
		}
	} else {
		h["Vary"] = varyOrigin[:1:1]
	}
}

// configureOrigin sets Access-Control-Allow-Origin; it reports whether the
// answer is the wildcard.
func (c *corsPlugin) configureOrigin(h http.Header, origin string, filter bool) bool {
	if c.allowAll {
		h["Access-Control-Allow-Origin"] = allowAny[:1:1]
		return true
	}
	addVary(h, filter)
	if c.single != "" {
		h.Set("Access-Control-Allow-Origin", c.single)
		return false
	}
	if origin != "" {
		reqDomain, reqHost := normalizeOrigin(origin)
		for _, o := range c.origins {
			var found bool
			switch {
			case o.domain == "*":
				h.Set("Access-Control-Allow-Origin", "*")
				return true
			case o.re != nil:
				subject := reqDomain
				if o.byHost {
					subject = reqHost
				}
				found = o.re.MatchString(subject)
			default:
				found = reqDomain == o.domain
			}
			if found {
				h.Set("Access-Control-Allow-Origin", reqDomain)
				return false
			}
		}
	}
	h.Del("Access-Control-Allow-Origin")
	return false
}

func (c *corsPlugin) configureCredentials(h http.Header, allowAll bool, origin string, filter bool) {
	if !c.credentials {
		return
	}
	if !allowAll {
		h.Set("Access-Control-Allow-Credentials", "true")
		return
	}
	// "*" may not be combined with credentials: answer with the caller's origin.
	if origin != "" {
		addVary(h, filter)
		h.Set("Access-Control-Allow-Origin", origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
}
