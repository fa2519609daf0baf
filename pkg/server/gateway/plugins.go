package gateway

import (
	"net/http"
	"sort"
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
	priority int // Kong 3.9's PRIORITY: higher runs first
	build    func(conf *object, p *parser) (plugin, error)
}

// pluginSpecs lists the plugins the embedded gateway implements.
var pluginSpecs = map[string]pluginSpec{
	"cors":                {2000, buildCORS},
	"key-auth":            {1250, buildKeyAuth},
	"basic-auth":          {1100, buildBasicAuth},
	"acl":                 {950, buildACL},
	"request-transformer": {801, buildRequestTransformer},
	"request-termination": {2, buildRequestTermination},
	"post-function":       {-1000, buildPostFunction},
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

// authSettings are the settings Kong's key-auth and basic-auth share:
// hide_credentials (the credential is removed before the upstream sees
// it), the anonymous consumer a failed authentication falls back to, and
// the realm the refusal's challenge names.
type authSettings struct {
	hide      bool
	anonymous *Consumer
	realm     string
}

// readAuthSettings reads them; realm defaults to defaultRealm (Kong's
// differs between the two plugins).
func readAuthSettings(conf *object, p *parser, defaultRealm string) (authSettings, error) {
	var a authSettings
	var err error
	if a.hide, err = conf.boolean("hide_credentials", false); err != nil {
		return a, err
	}
	if a.anonymous, err = resolveConsumer(conf, p, "anonymous"); err != nil {
		return a, err
	}
	a.realm, err = conf.str("realm", defaultRealm)
	return a, err
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
