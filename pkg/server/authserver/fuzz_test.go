package authserver

import (
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sfp-dev/sfp/internal/jwttest"
	"github.com/sfp-dev/sfp/pkg/jwtkeys"
)

// fuzzNow is the fixed clock of the fuzz targets, so the seed tokens in
// testdata stay valid (or expired) forever.
var fuzzNow = time.Unix(1_900_000_000, 0)

// FuzzParseToken feeds arbitrary bearer tokens to the verifier. Whatever it
// accepts must be an HS256 token signed with the secret and unexpired, as an
// independent check with golang-jwt confirms; nothing may panic.
func FuzzParseToken(f *testing.F) {
	s := &Server{cfg: Config{JWTSecret: testSecret, Keys: jwtkeys.NewRing(jwtkeys.LegacySet(testSecret)), Now: func() time.Time { return fuzzNow }}}
	f.Add(jwttest.Sign(testSecret, jwt.MapClaims{"sub": "00000000-0000-4000-8000-000000000001", "role": "authenticated", "exp": fuzzNow.Add(time.Hour).Unix()}))
	f.Add(jwttest.Sign(testSecret, jwt.MapClaims{"role": "service_role", "aud": []string{"a", "b"}}))
	f.Add(jwttest.Sign(testSecret, jwt.MapClaims{"role": "anon", "exp": fuzzNow.Add(-time.Hour).Unix()}))
	f.Add(jwttest.Sign([]byte("another-secret-that-is-long-enough!!"), jwt.MapClaims{"role": "service_role"}))
	f.Add("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.")
	f.Add("a.b.c")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		claims, err := s.parseToken(token)
		if err != nil {
			if e, ok := err.(*Error); !ok || e.Code != CodeBadJWT || e.Status != http.StatusForbidden {
				t.Fatalf("rejection is not a 403 bad_jwt: %v", err)
			}
			return
		}
		_, verr := jwt.NewParser(jwt.WithValidMethods([]string{"HS256"}), jwt.WithTimeFunc(func() time.Time { return fuzzNow })).
			Parse(token, func(*jwt.Token) (any, error) { return testSecret, nil })
		if verr != nil {
			t.Fatalf("accepted a token golang-jwt refuses (%v): %q", verr, token)
		}
		if claims == nil {
			t.Fatal("accepted without claims")
		}
	})
}

// FuzzClientIP: the client address found is always one the request carried
// (the peer or a forwarded-for entry), never something made up.
func FuzzClientIP(f *testing.F) {
	trusted := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Add("127.0.0.1:1234", "198.51.100.1, 10.0.0.1")
	f.Add("203.0.113.9:80", "1.2.3.4")
	f.Add("[::1]:5", "2001:db8::1,,  ,garbage")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, remote, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		got := clientIP(r, trusted)
		if got == "" {
			return
		}
		ip, err := netip.ParseAddr(got)
		if err != nil {
			t.Fatalf("clientIP returned %q, not an address", got)
		}
		if parseIP(remote) == ip {
			return
		}
		for part := range strings.SplitSeq(xff, ",") {
			if parseIP(part) == ip {
				return
			}
		}
		t.Fatalf("clientIP returned %q, found neither in RemoteAddr %q nor X-Forwarded-For %q", got, remote, xff)
	})
}
