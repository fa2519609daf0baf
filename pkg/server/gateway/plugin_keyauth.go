package gateway

import (
	"net/http"
)

type keyAuthPlugin struct {
	authSettings
	keyNames       []string
	headerKeys     []string // keyNames in canonical header form
	inHeader       bool
	inQuery        bool
	runOnPreflight bool
	challenge      string // WWW-Authenticate of a refusal
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
	if k.authSettings, err = readAuthSettings(conf, p, ""); err != nil {
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
	k.challenge = "Key"
	if k.realm != "" {
		k.challenge = `Key realm="` + k.realm + `"`
	}
	return k, nil
}

// unauthorized is Kong 3.9's refusal: 401, the message, and a challenge
// naming the scheme ("Key", with the realm when one is configured).
func (k *keyAuthPlugin) unauthorized(msg string) *reply {
	rep := kongError(http.StatusUnauthorized, msg)
	rep.header.Set("WWW-Authenticate", k.challenge)
	return rep
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
			return k.unauthorized("Duplicate API key found"), false
		}
		key = vals[0]
		if k.hide {
			x.query.del(name)
			x.header.Del(name)
		}
		break
	}
	if key == "" {
		return k.unauthorized("No API key found in request"), false
	}
	cred, ok := k.keys[key]
	if !ok {
		// An unknown key, a revoked one, a legacy key while the tenant
		// refuses them: Kong 3.x says no more than this (2.8 said
		// "Invalid authentication credentials").
		return k.unauthorized("Unauthorized"), false
	}
	setConsumer(x, cred.consumer, cred.id)
	return nil, true
}
