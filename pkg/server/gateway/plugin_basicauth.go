package gateway

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"regexp"
	"strings"
)

type basicAuthPlugin struct {
	authSettings
	creds     map[string]credential
	transform bool
}

func buildBasicAuth(conf *object, p *parser) (plugin, error) {
	b := &basicAuthPlugin{creds: p.cfg.basics, transform: p.cfg.transform}
	var err error
	if b.authSettings, err = readAuthSettings(conf, p, "service"); err != nil {
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
		return b.challenge(http.StatusUnauthorized, "Unauthorized"), false
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
