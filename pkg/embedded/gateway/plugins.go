package gateway

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// plugin is the access phase of a Kong plugin: it may change the request
// bound for the upstream (x.header, x.query, …) or answer it (non-nil reply).
type plugin interface {
	access(x *exchange) *reply
}

// responseFilter is the header_filter phase: it adjusts the headers of every
// response on the route, from the upstream or from a plugin.
type responseFilter interface {
	filterResponse(x *exchange, h http.Header)
}

type pluginSpec struct {
	priority int // Kong 2.8's PRIORITY: higher runs first
	build    func(conf *object, p *parser) (plugin, error)
}

// pluginSpecs lists the plugins the embedded gateway implements.
var pluginSpecs = map[string]pluginSpec{
	"cors":                {2000, buildCORS},
	"key-auth":            {1003, buildKeyAuth},
	"basic-auth":          {1001, buildBasicAuth},
	"acl":                 {950, buildACL},
	"request-transformer": {801, buildRequestTransformer},
	"request-termination": {2, buildRequestTermination},
}

func pluginNames() []string {
	out := make([]string, 0, len(pluginSpecs))
	for n := range pluginSpecs {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Headers Kong's authentication plugins set for the upstream. The gateway
// removes client-sent copies from every request, so an upstream never sees
// a forged consumer identity on a route without authentication.
const (
	hConsumerID       = "X-Consumer-Id"
	hConsumerCustomID = "X-Consumer-Custom-Id"
	hConsumerUsername = "X-Consumer-Username"
	hConsumerGroups   = "X-Consumer-Groups"
	hCredentialID     = "X-Credential-Identifier"
	hCredentialUser   = "X-Credential-Username"
	hAnonymous        = "X-Anonymous-Consumer"
)

var consumerHeaders = []string{hConsumerID, hConsumerCustomID, hConsumerUsername, hConsumerGroups, hCredentialID, hCredentialUser, hAnonymous}

// setConsumer records who the request authenticated as, and tells the
// upstream as Kong does. credID is empty for the anonymous consumer.
func setConsumer(x *exchange, c *Consumer, credID string) {
	x.consumer, x.credID = c, credID
	setOrDel(x, hConsumerID, c.ID)
	setOrDel(x, hConsumerCustomID, c.CustomID)
	setOrDel(x, hConsumerUsername, c.Username)
	setOrDel(x, hCredentialID, credID)
	if credID != "" {
		delete(x.header, hAnonymous)
	} else {
		x.header[hAnonymous] = x.g.value("true")
	}
}

// setOrDel sets or removes header k (given in canonical form).
func setOrDel(x *exchange, k, v string) {
	if v == "" {
		delete(x.header, k)
	} else {
		x.header[k] = x.g.value(v)
	}
}

// resolveConsumer finds the consumer an `anonymous` setting names (id or username).
func resolveConsumer(conf *object, p *parser, field string) (*Consumer, error) {
	ref, err := conf.str(field, "")
	if err != nil || ref == "" {
		return nil, err
	}
	c := p.consumers[ref]
	if c == nil {
		return nil, p.d.errf(conf.line(field), "%s: %s refers to unknown consumer %q", conf.what, field, ref)
	}
	return c, nil
}

// ---- cors ----

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

// ---- key-auth ----

type keyAuthPlugin struct {
	keyNames       []string
	headerKeys     []string // keyNames in canonical header form
	hide           bool
	inHeader       bool
	inQuery        bool
	runOnPreflight bool
	anonymous      *Consumer
	realm          string
	keys           map[string]credential
}

func buildKeyAuth(conf *object, p *parser) (plugin, error) {
	k := &keyAuthPlugin{keys: p.cfg.keys}
	var err error
	if k.keyNames, err = conf.strings("key_names"); err != nil {
		return nil, err
	}
	if !conf.has("key_names") {
		k.keyNames = []string{"apikey"}
	}
	if len(k.keyNames) == 0 {
		return nil, p.d.errf(conf.line("key_names"), "%s: key_names may not be empty", conf.what)
	}
	for _, n := range k.keyNames {
		if !validHeaderName(n) {
			return nil, p.d.errf(conf.line("key_names"), "%s: key name %q is not a valid header name", conf.what, n)
		}
		k.headerKeys = append(k.headerKeys, http.CanonicalHeaderKey(n))
	}
	if k.hide, err = conf.boolean("hide_credentials", false); err != nil {
		return nil, err
	}
	if k.inHeader, err = conf.boolean("key_in_header", true); err != nil {
		return nil, err
	}
	if k.inQuery, err = conf.boolean("key_in_query", true); err != nil {
		return nil, err
	}
	if err := conf.unsupported("key_in_body", isFalse, " (keys are read from headers and the query string)"); err != nil {
		return nil, err
	}
	if k.runOnPreflight, err = conf.boolean("run_on_preflight", true); err != nil {
		return nil, err
	}
	if k.anonymous, err = resolveConsumer(conf, p, "anonymous"); err != nil {
		return nil, err
	}
	if k.realm, err = conf.str("realm", "kong"); err != nil {
		return nil, err
	}
	return k, nil
}

func (k *keyAuthPlugin) access(x *exchange) *reply {
	if !k.runOnPreflight && x.r.Method == http.MethodOptions {
		return nil
	}
	if k.anonymous != nil && x.credID != "" {
		return nil // already authenticated by another plugin: logical OR
	}
	rep, ok := k.authenticate(x)
	if ok {
		return nil
	}
	if k.anonymous != nil {
		setConsumer(x, k.anonymous, "")
		return nil
	}
	return rep
}

func (k *keyAuthPlugin) authenticate(x *exchange) (*reply, bool) {
	var key string
	for i, name := range k.keyNames {
		var vals []string
		if k.inHeader {
			vals = x.header[k.headerKeys[i]]
		}
		if len(vals) == 0 && k.inQuery {
			vals = x.query.stringValues(name)
		}
		if len(vals) == 0 {
			continue
		}
		if len(vals) > 1 {
			return kongError(http.StatusUnauthorized, "Duplicate API key found"), false
		}
		key = vals[0]
		if k.hide {
			x.query.del(name)
			x.header.Del(name)
		}
		break
	}
	if key == "" {
		rep := kongError(http.StatusUnauthorized, "No API key found in request")
		rep.header.Set("WWW-Authenticate", `Key realm="`+k.realm+`"`)
		return rep, false
	}
	cred, ok := k.keys[key]
	if !ok {
		return kongError(http.StatusUnauthorized, "Invalid authentication credentials"), false
	}
	setConsumer(x, cred.consumer, cred.id)
	return nil, true
}

// ---- basic-auth ----

type basicAuthPlugin struct {
	hide      bool
	anonymous *Consumer
	realm     string
	creds     map[string]credential
	transform bool
}

func buildBasicAuth(conf *object, p *parser) (plugin, error) {
	b := &basicAuthPlugin{creds: p.cfg.basics, transform: p.cfg.transform}
	var err error
	if b.hide, err = conf.boolean("hide_credentials", false); err != nil {
		return nil, err
	}
	if b.anonymous, err = resolveConsumer(conf, p, "anonymous"); err != nil {
		return nil, err
	}
	if b.realm, err = conf.str("realm", "kong"); err != nil {
		return nil, err
	}
	return b, nil
}

var (
	basicScheme = regexp.MustCompile(`\s*[Bb]asic\s*(.+)`)
	basicParts  = regexp.MustCompile(`^([^:]+):(.*)$`)
)

func (b *basicAuthPlugin) access(x *exchange) *reply {
	if b.anonymous != nil && x.credID != "" {
		return nil
	}
	rep, ok := b.authenticate(x)
	if ok {
		return nil
	}
	if b.anonymous != nil {
		setConsumer(x, b.anonymous, "")
		delete(x.header, hCredentialUser)
		return nil
	}
	return rep
}

func (b *basicAuthPlugin) challenge(status int, msg string) *reply {
	rep := kongError(status, msg)
	rep.header.Set("WWW-Authenticate", `Basic realm="`+b.realm+`"`)
	return rep
}

func (b *basicAuthPlugin) retrieve(x *exchange, header string) (user, pass string) {
	v := x.header.Get(header)
	if v != "" {
		if m := basicScheme.FindStringSubmatch(v); m != nil {
			raw := strings.TrimSpace(m[1])
			dec, err := base64.StdEncoding.DecodeString(raw)
			if err != nil {
				dec, err = base64.RawStdEncoding.DecodeString(raw)
			}
			if err == nil {
				if parts := basicParts.FindStringSubmatch(string(dec)); parts != nil {
					user, pass = parts[1], parts[2]
				}
			}
		}
	}
	if b.hide {
		x.header.Del(header)
	}
	return user, pass
}

func (b *basicAuthPlugin) authenticate(x *exchange) (*reply, bool) {
	if x.header.Get("Authorization") == "" && x.header.Get("Proxy-Authorization") == "" {
		return b.challenge(http.StatusUnauthorized, "Unauthorized"), false
	}
	var cred credential
	var found bool
	user, pass := b.retrieve(x, "Proxy-Authorization")
	if user != "" {
		cred, found = b.creds[user]
	}
	if !found {
		user, pass = b.retrieve(x, "Authorization")
		cred, found = b.creds[user]
	}
	if !found || !b.valid(cred, pass) {
		return b.challenge(http.StatusUnauthorized, "Invalid authentication credentials"), false
	}
	setConsumer(x, cred.consumer, cred.id)
	x.header[hCredentialUser] = x.g.value(user)
	return nil, true
}

// valid compares in constant time; with _transform: false the stored
// password is Kong's digest, sha1(password .. consumer id) in hex.
func (b *basicAuthPlugin) valid(cred credential, pass string) bool {
	given := pass
	if !b.transform {
		sum := sha1.Sum([]byte(pass + cred.consumer.ID))
		given = hex.EncodeToString(sum[:])
	}
	return subtle.ConstantTimeCompare([]byte(given), []byte(cred.secret)) == 1
}

// ---- acl ----

type aclPlugin struct {
	groups     map[string]bool
	deny       bool
	hideGroups bool
}

func buildACL(conf *object, p *parser) (plugin, error) {
	a := &aclPlugin{groups: map[string]bool{}}
	allow, err := conf.strings("allow")
	if err != nil {
		return nil, err
	}
	deny, err := conf.strings("deny")
	if err != nil {
		return nil, err
	}
	if !p.v30 { // Kong 2.x still reads the old names
		w, err := conf.strings("whitelist")
		if err != nil {
			return nil, err
		}
		bl, err := conf.strings("blacklist")
		if err != nil {
			return nil, err
		}
		allow, deny = append(allow, w...), append(deny, bl...)
	}
	if a.hideGroups, err = conf.boolean("hide_groups_header", false); err != nil {
		return nil, err
	}
	if err := conf.done(); err != nil { // a misspelt field explains more than what follows
		return nil, err
	}
	if len(allow) > 0 && len(deny) > 0 {
		return nil, p.d.errf(conf.node, "%s: set either allow or deny, not both", conf.what)
	}
	if len(allow) == 0 && len(deny) == 0 {
		return nil, p.d.errf(conf.node, "%s: one of allow or deny is required", conf.what)
	}
	list := allow
	if len(deny) > 0 {
		a.deny, list = true, deny
	}
	for _, g := range list {
		a.groups[g] = true
	}
	return a, nil
}

func (a *aclPlugin) access(x *exchange) *reply {
	if x.consumer == nil {
		return kongError(http.StatusUnauthorized, "Unauthorized")
	}
	in := false
	for _, g := range x.consumer.Groups {
		if a.groups[g] {
			in = true
			break
		}
	}
	if in == a.deny {
		return kongError(http.StatusForbidden, "You cannot consume this service")
	}
	if !a.hideGroups && len(x.consumer.Groups) > 0 {
		x.header[hConsumerGroups] = x.g.value(strings.Join(x.consumer.Groups, ", "))
	}
	return nil
}

// ---- request-transformer ----

type namedTemplate struct {
	name  string
	value *template
}

type renamePair struct{ from, to string }

type transformOps struct {
	remove          []string
	rename          []renamePair
	replace, add    []namedTemplate
	append          []namedTemplate
	removeQ         []string
	renameQ         []renamePair
	replaceQ, addQ  []namedTemplate
	appendQ         []namedTemplate
	uri             *template
	needsHeaderEnv  bool
	needsQueryEnv   bool
	templated       int // entries whose value has an expression
	touchesQuery    bool
	touchesHeaders  bool
	hostReplacement bool
}

type requestTransformer struct{ ops transformOps }

func buildRequestTransformer(conf *object, p *parser) (plugin, error) {
	t := &requestTransformer{}
	if err := conf.unsupported("http_method", nil, " (method changes)"); err != nil {
		return nil, err
	}
	for _, op := range []string{"remove", "rename", "replace", "add", "append"} {
		sub, err := conf.sub(op, fmt.Sprintf("%s.%s", conf.what, op))
		if err != nil {
			return nil, err
		}
		if err := sub.unsupported("body", isEmptyList, " (body transformations)"); err != nil {
			return nil, err
		}
		if op == "replace" {
			uri, err := sub.str("uri", "")
			if err != nil {
				return nil, err
			}
			if uri != "" {
				if t.ops.uri, err = compileTemplate(uri); err != nil {
					return nil, p.d.errf(sub.line("uri"), "%s: uri: %v", sub.what, err)
				}
				if !t.ops.uri.plain {
					t.ops.templated++
				}
			}
		}
		for _, target := range []string{"headers", "querystring"} {
			entries, err := sub.strings(target)
			if err != nil {
				return nil, err
			}
			for _, e := range entries {
				if err := t.addEntry(op, target, e); err != nil {
					return nil, p.d.errf(sub.line(target), "%s.%s: %v", sub.what, target, err)
				}
			}
		}
		if err := sub.done(); err != nil {
			return nil, err
		}
	}
	return t, nil
}

// addEntry parses "name:value" as Kong does: the name runs to the first
// colon, further colons are skipped, and the rest is the value.
func (t *requestTransformer) addEntry(op, target, entry string) error {
	name, value, hasColon := strings.Cut(entry, ":")
	value = strings.TrimLeft(value, ":")
	name = strings.TrimSpace(name)
	if name == "" {
		return fmt.Errorf("entry %q has no name", entry)
	}
	headers := target == "headers"
	if headers && !validHeaderName(name) {
		return fmt.Errorf("%q is not a valid header name", name)
	}
	if op != "remove" && !hasColon {
		return fmt.Errorf("key '%s' has no value", entry)
	}
	o := &t.ops
	if headers {
		o.touchesHeaders = true
	} else {
		o.touchesQuery = true
	}
	switch op {
	case "remove":
		if headers {
			o.remove = append(o.remove, name)
		} else {
			o.removeQ = append(o.removeQ, name)
		}
		return nil
	case "rename":
		to := strings.TrimSpace(value)
		if to == "" || (headers && !validHeaderName(to)) {
			return fmt.Errorf("rename %q needs a valid new name", entry)
		}
		if headers {
			o.rename = append(o.rename, renamePair{name, to})
		} else {
			o.renameQ = append(o.renameQ, renamePair{name, to})
		}
		return nil
	}
	if headers {
		value = strings.TrimSpace(value) // HTTP drops optional whitespace around values
	}
	tpl, err := compileTemplate(value)
	if err != nil {
		return err
	}
	if !tpl.plain {
		o.needsHeaderEnv, o.needsQueryEnv = true, true
		o.templated++
	}
	nt := namedTemplate{name: name, value: tpl}
	switch {
	case op == "replace" && headers:
		o.replace = append(o.replace, nt)
	case op == "add" && headers:
		o.add = append(o.add, nt)
	case op == "append" && headers:
		o.append = append(o.append, nt)
	case op == "replace":
		o.replaceQ = append(o.replaceQ, nt)
	case op == "add":
		o.addQ = append(o.addQ, nt)
	default:
		o.appendQ = append(o.appendQ, nt)
	}
	return nil
}

// transformRun is one request's pass through a request-transformer.
// Templates see the request as it was when the plugin started, as in
// Kong, where the template environment is read before any change: the
// tables read the live request and take a copy just before the first
// change (copy on write), which most requests never need. The tables are
// made only when an expression is evaluated or a copy is due, so a
// request that renders nothing allocates nothing here.
type transformRun struct {
	x        *exchange
	o        *transformOps
	env      *templateEnv
	ht       *headerTable
	qt       *queryTable
	rendered int // expressions evaluated so far
}

// hasTables tells whether this plugin's templates read the request.
func (r *transformRun) hasTables() bool { return r.o.needsHeaderEnv || r.o.uri != nil }

func (r *transformRun) tables() {
	if r.env == nil {
		r.ht, r.qt = &headerTable{h: r.x.header}, &queryTable{q: r.x.query}
		r.env = &templateEnv{headers: r.ht, query: r.qt}
	}
}

// snapshot is called before each change of the request: while an
// expression may still read the tables, they must keep the original.
func (r *transformRun) snapshot() {
	if !r.hasTables() || r.rendered >= r.o.templated {
		return
	}
	r.tables()
	if !r.ht.copied {
		r.ht.h, r.ht.copied = r.x.header.Clone(), true
		r.qt.q = r.x.query.clone()
	}
}

func (r *transformRun) render(tpl *template, header bool) (string, bool) {
	var env *templateEnv
	if !tpl.plain {
		r.rendered++
		if r.hasTables() {
			r.tables()
			env = r.env
		} else {
			env = &templateEnv{}
		}
	}
	v, err := tpl.render(env)
	if err != nil {
		r.x.g.logger.Error("request-transformer template failed", "route", r.x.route.route.Name, "error", err)
		return "", false
	}
	if header {
		v = strings.TrimSpace(v)
		if strings.ContainsAny(v, "\r\n\x00") {
			r.x.g.logger.Error("request-transformer template rendered an invalid header value", "route", r.x.route.route.Name)
			return "", false
		}
	}
	return v, true
}

func transformFailed() *reply {
	return kongError(http.StatusInternalServerError, "An unexpected error occurred")
}

func (t *requestTransformer) access(x *exchange) *reply {
	o := &t.ops
	run := transformRun{x: x, o: o}
	if o.uri != nil {
		v, ok := run.render(o.uri, false)
		if !ok || !strings.HasPrefix(v, "/") {
			return transformFailed()
		}
		x.uri = v
	}
	if o.touchesHeaders {
		h := x.header
		for _, name := range o.remove {
			run.snapshot()
			h.Del(name)
		}
		for _, rn := range o.rename {
			if vals := h.Values(rn.from); len(vals) > 0 {
				run.snapshot()
				vals = append([]string(nil), vals...)
				h.Del(rn.from)
				h[http.CanonicalHeaderKey(rn.to)] = vals
			}
		}
		for _, nt := range o.replace {
			isHost := strings.EqualFold(nt.name, "host")
			if !isHost && len(h.Values(nt.name)) == 0 {
				continue
			}
			v, ok := run.render(nt.value, true)
			if !ok {
				return transformFailed()
			}
			if isHost {
				x.host = v
			} else {
				run.snapshot()
				h.Set(nt.name, v)
			}
		}
		for _, nt := range o.add {
			if strings.EqualFold(nt.name, "host") || len(h.Values(nt.name)) > 0 {
				continue
			}
			v, ok := run.render(nt.value, true)
			if !ok {
				return transformFailed()
			}
			run.snapshot()
			h.Set(nt.name, v)
		}
		for _, nt := range o.append {
			if strings.EqualFold(nt.name, "host") {
				continue
			}
			v, ok := run.render(nt.value, true)
			if !ok {
				return transformFailed()
			}
			run.snapshot()
			h.Add(nt.name, v)
		}
	}
	if o.touchesQuery {
		q := x.query
		run.snapshot() // query changes are rarer; copy up front
		for _, name := range o.removeQ {
			q.del(name)
		}
		for _, rn := range o.renameQ {
			q.rename(rn.from, rn.to)
		}
		for _, nt := range o.replaceQ {
			if !q.has(nt.name) {
				continue
			}
			v, ok := run.render(nt.value, false)
			if !ok {
				return transformFailed()
			}
			q.set(nt.name, v)
		}
		for _, nt := range o.addQ {
			if q.has(nt.name) {
				continue
			}
			v, ok := run.render(nt.value, false)
			if !ok {
				return transformFailed()
			}
			q.set(nt.name, v)
		}
		for _, nt := range o.appendQ {
			v, ok := run.render(nt.value, false)
			if !ok {
				return transformFailed()
			}
			q.add(nt.name, v)
		}
	}
	return nil
}

// headerTable exposes request headers to templates as ngx.req.get_headers
// does: names are case-insensitive and '_' stands for '-'.
type headerTable struct {
	h      http.Header
	copied bool
}

func (t *headerTable) index(k any) any {
	s, ok := k.(string)
	if !ok {
		return nil
	}
	vals := t.h.Values(strings.ReplaceAll(s, "_", "-"))
	switch len(vals) {
	case 0:
		return nil
	case 1:
		return vals[0]
	default:
		return listTable(vals)
	}
}

// queryTable exposes query arguments: a flag without '=' is true, a
// repeated argument a list.
type queryTable struct{ q *queryArgs }

func (t *queryTable) index(k any) any {
	s, ok := k.(string)
	if !ok {
		return nil
	}
	var vals []string
	flag := false
	for _, a := range t.q.list() {
		if a.key == s {
			if !a.hasValue {
				flag = true
			}
			vals = append(vals, a.value)
		}
	}
	switch {
	case len(vals) == 0:
		return nil
	case len(vals) == 1 && flag:
		return true
	case len(vals) == 1:
		return vals[0]
	default:
		return listTable(vals)
	}
}

// ---- request-termination ----

type requestTermination struct {
	status      int
	message     string
	body        string
	contentType string
}

// Kong's request-termination default messages.
var terminationMessages = map[int]string{
	401: "Unauthorized", 404: "Not found", 405: "Method not allowed",
	500: "An unexpected error occurred", 502: "Bad Gateway", 503: "Service unavailable",
}

func buildRequestTermination(conf *object, p *parser) (plugin, error) {
	t := &requestTermination{}
	var err error
	if t.status, err = conf.integer("status_code", 503); err != nil {
		return nil, err
	}
	if t.message, err = conf.str("message", ""); err != nil {
		return nil, err
	}
	if t.body, err = conf.str("body", ""); err != nil {
		return nil, err
	}
	if t.contentType, err = conf.str("content_type", ""); err != nil {
		return nil, err
	}
	if err := conf.unsupported("echo", isFalse, ""); err != nil {
		return nil, err
	}
	for _, f := range []string{"echo_trigger", "trigger"} {
		if err := conf.unsupported(f, nil, ""); err != nil {
			return nil, err
		}
	}
	if err := conf.done(); err != nil {
		return nil, err
	}
	if t.status < 100 || t.status > 599 {
		return nil, p.d.errf(conf.line("status_code"), "%s: status_code %d is not between 100 and 599", conf.what, t.status)
	}
	if t.message != "" && (t.body != "" || t.contentType != "") {
		return nil, p.d.errf(conf.node, "%s: message cannot be used with content_type or body", conf.what)
	}
	if t.contentType != "" && t.body == "" {
		return nil, p.d.errf(conf.line("content_type"), "%s: content_type requires a body", conf.what)
	}
	if t.message == "" && t.body == "" {
		t.message = terminationMessages[t.status]
	}
	return t, nil
}

func (t *requestTermination) access(*exchange) *reply {
	if t.body != "" {
		rep := &reply{status: t.status, header: http.Header{}, body: []byte(t.body)}
		if t.contentType != "" {
			rep.header.Set("Content-Type", t.contentType)
		}
		return rep
	}
	if t.message == "" {
		return &reply{status: t.status, header: http.Header{}}
	}
	return kongError(t.status, t.message)
}

// validHeaderName reports whether s is an RFC 7230 token.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`()<>@,;:\"/[]?={}`, c) >= 0 {
			return false
		}
	}
	return true
}
