package realtimeserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/sfp-dev/sfp/internal/jwttest"
	"github.com/sfp-dev/sfp/pkg/client/realtime"
	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
	"github.com/sfp-dev/sfp/pkg/jwtkeys"
)

func joinReason(t *testing.T, r *rawConn, topic, token string) (string, string) {
	t.Helper()
	ref := r.send(topic, "phx_join", "1", joinPayload(token))
	st, resp := replyOf(t, r.expect(wait, isReply(ref)))
	reason, _ := resp["reason"].(string)
	return st, reason
}

// ES256 tokens with a kid are verified against the tenant's keys, for the
// socket's API key and a channel's access token; a kid no key has is
// refused with Realtime's JwtSignerError, and a token signed before a
// rotation keeps working while its key is in the set.
func TestES256Tokens(t *testing.T) {
	cur := jwttest.GenerateKey(t, true)
	ring := jwtkeys.NewRing(jwttest.KeySet(t, testSecret, cur))
	env := newEnv(t, func(c *Config) { c.Keys = ring })
	anonES := jwttest.SignES256(t, ring.Load(), map[string]any{"role": "anon", "iss": "supabase"}, time.Hour)
	uid := newID()
	userES := jwttest.SignES256(t, ring.Load(), map[string]any{"sub": uid, "role": "authenticated", "aud": "authenticated"}, time.Hour)
	foreign := jwttest.SignES256(t, jwttest.KeySet(t, nil, jwttest.GenerateKey(t, true)), map[string]any{"role": "authenticated"}, time.Hour)

	r := env.dialRaw(t, phoenix.V1, anonES)
	if st, reason := joinReason(t, r, "realtime:es", userES); st != "ok" {
		t.Fatalf("join with an ES256 user token: %s %s", st, reason)
	}
	// supabase-js signed out sends the publishable key as access_token: the
	// socket's token stands in for it, as in Realtime.
	if st, reason := joinReason(t, r, "realtime:sb", "sb_publishable_abcdefghijklmnopqrstuv_abcdefgh"); st != "ok" {
		t.Fatalf("join with an sb_ access token: %s %s", st, reason)
	}
	kid := foreignKIDOf(t, foreign)
	if st, reason := joinReason(t, r, "realtime:foreign", foreign); st != "error" ||
		reason != `JwtSignerError: Failed to generate JWT signer for key ID (kid) "`+kid+`", check your JWT secret or JWKS configuration` {
		t.Fatalf("join with an unknown kid: %s %q", st, reason)
	}
	// Legacy HS256 tokens work while the tenant accepts them.
	if st, reason := joinReason(t, r, "realtime:hs", userToken(uid, time.Hour)); st != "ok" {
		t.Fatalf("join with a legacy token: %s %s", st, reason)
	}

	// Rotation: the old key only verifies; its tokens still join.
	next := jwttest.GenerateKey(t, true)
	old := cur
	old.Sign = false
	ring.Store(jwttest.KeySet(t, testSecret, next, old))
	if st, reason := joinReason(t, r, "realtime:after-rotation", userES); st != "ok" {
		t.Fatalf("join with a token signed before the rotation: %s %s", st, reason)
	}
	// Retired: refused.
	ring.Store(jwttest.KeySet(t, testSecret, next))
	if st, reason := joinReason(t, r, "realtime:after-retire", userES); st != "error" || !strings.HasPrefix(reason, "JwtSignerError: ") {
		t.Fatalf("join with a retired key's token: %s %q", st, reason)
	}

	// A change reaches an ES256-authenticated subscriber under RLS.
	env.anon = jwttest.SignES256(t, ring.Load(), map[string]any{"role": "anon", "iss": "supabase"}, time.Hour)
	c := env.client(t, jwttest.SignES256(t, ring.Load(), map[string]any{"sub": uid, "role": "authenticated"}, time.Hour))
	events := subscribe(t, c, "es-notes", realtime.PostgresChangesFilter{Event: realtime.Insert, Table: "rt_notes"})
	env.exec(`insert into public.rt_notes (owner, title) values ($1, 'mine')`, uid)
	if got := nextChange(t, events, wait); recordOf(t, got.Record)["title"] != "mine" {
		t.Fatalf("change %s", got.Record)
	}
}

func foreignKIDOf(t testing.TB, tok string) string {
	t.Helper()
	var hdr struct {
		KID string `json:"kid"`
	}
	seg, _, _ := strings.Cut(tok, ".")
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil || json.Unmarshal(raw, &hdr) != nil {
		t.Fatalf("token header %q", seg)
	}
	return hdr.KID
}

// With legacy tokens off, HS256 tokens (the legacy anon key included) and
// unsigned ones are refused, at the handshake and on join.
func TestLegacyTokensRefusedWhenOff(t *testing.T) {
	cur := jwttest.GenerateKey(t, true)
	ring := jwtkeys.NewRing(jwttest.KeySet(t, nil, cur))
	env := newEnv(t, func(c *Config) { c.Keys = ring })

	ws := strings.Replace(env.baseURL(), "http://", "ws://", 1) + "/realtime/v1/websocket?vsn=1.0.0&apikey="
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, resp, err := websocket.Dial(ctx, ws+env.anon, nil)
	cancel()
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("legacy anon key at the handshake: %v %v", err, resp)
	}
	var body struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&body)
	if body.Error != "Failed to generate JWT signer, check your JWT secret or JWKS configuration" {
		t.Errorf("legacy anon key at the handshake: %q", body.Error)
	}

	r := env.dialRaw(t, phoenix.V2, jwttest.SignES256(t, ring.Load(), map[string]any{"role": "anon"}, time.Hour))
	unsigned := "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0." + base64.RawURLEncoding.EncodeToString([]byte(`{"role":"service_role","exp":`+strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10)+`}`)) + "."
	for name, tok := range map[string]string{
		"HS256 user token": userToken(newID(), time.Hour),
		"alg none":         unsigned,
	} {
		if st, reason := joinReason(t, r, "realtime:"+strings.ReplaceAll(name, " ", "-"), tok); st != "error" ||
			reason != "JwtSignerError: Failed to generate JWT signer, check your JWT secret or JWKS configuration" {
			t.Errorf("%s: %s %q", name, st, reason)
		}
	}
}
