package realtimeserver

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sfp-dev/sfp/pkg/client/realtime/phoenix"
)

// TestOverloadIsExplicit: with a lag bound no transaction can meet (a
// nanosecond), every transaction is behind when dispatched, so the server
// is overloaded by definition: the change is not delivered, the channel
// subscribed to the table gets a system message saying changes were
// skipped, and the figures count it. A channel on another table hears
// nothing.
func TestOverloadIsExplicit(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.MaxDispatchLag = time.Nanosecond })
	r := env.dialRaw(t, phoenix.V2, env.anon)
	ref := r.send("realtime:busy", "phx_join", "1", joinPayload("", map[string]any{"event": "INSERT", "schema": "public", "table": "rt_open"}))
	if st, resp := replyOf(t, r.expect(wait, isReply(ref))); st != "ok" {
		t.Fatalf("join: %s %v", st, resp)
	}
	r.expect(wait, isEvent("realtime:busy", "system")) // subscribed
	other := env.dialRaw(t, phoenix.V2, env.anon)
	ref = other.send("realtime:quiet", "phx_join", "1", joinPayload("", map[string]any{"event": "INSERT", "schema": "public", "table": "rt_full"}))
	if st, resp := replyOf(t, other.expect(wait, isReply(ref))); st != "ok" {
		t.Fatalf("join: %s %v", st, resp)
	}
	other.expect(wait, isEvent("realtime:quiet", "system"))

	env.exec(`insert into rt_open values (1, 'one', 1)`)
	f := r.expect(wait, func(f frame) bool {
		return isEvent("realtime:busy", "system")(f) || isEvent("realtime:busy", "postgres_changes")(f)
	})
	if f.Event != "system" {
		t.Fatalf("got %s, want a system message instead of the change", f.raw)
	}
	p := payloadOf(t, f)
	msg, _ := p["message"].(string)
	if p["extension"] != "postgres_changes" || p["status"] != "error" || p["channel"] != "busy" ||
		!strings.HasPrefix(msg, "Too many database changes: the server fell ") || !strings.Contains(msg, "were not delivered") {
		t.Fatalf("system message = %v", p)
	}
	fl := env.srv.Flow()
	if fl.DroppedChanges != 1 || fl.LagNotices != 1 || fl.MaxDispatchLagSeconds != 1e-9 {
		t.Fatalf("flow: dropped %d, notices %d, bound %gs; want 1 change dropped, 1 notice, bound 1ns", fl.DroppedChanges, fl.LagNotices, fl.MaxDispatchLagSeconds)
	}
	if st := env.srv.Stats(); st.Delivered != 0 {
		t.Fatalf("delivered %d changes, want none", st.Delivered)
	}

	// The quiet channel's table had no change: after a heartbeat round
	// trip (frames to one socket stay in order), nothing came before it.
	ref = other.send("phoenix", "heartbeat", "", map[string]any{})
	if f := other.expect(wait, func(frame) bool { return true }); !isReply(ref)(f) {
		t.Fatalf("quiet channel: got %s before the heartbeat reply, want nothing", f.raw)
	}
}

func TestMaxDispatchLagValidated(t *testing.T) {
	cfg := Config{Pool: &pgxpool.Pool{}, ReplicationConnString: "postgres://x", JWTSecret: []byte("s"), MaxDispatchLag: -time.Second}
	cfg.setDefaults()
	if err := cfg.validate(); err == nil || !strings.Contains(err.Error(), "MaxDispatchLag") {
		t.Fatalf("validate: %v, want an error naming MaxDispatchLag", err)
	}
	cfg.MaxDispatchLag = 0
	cfg.setDefaults()
	if err := cfg.validate(); err != nil || cfg.MaxDispatchLag != DefaultMaxDispatchLag {
		t.Fatalf("default: %v, bound %s; want no error and %s", err, cfg.MaxDispatchLag, DefaultMaxDispatchLag)
	}
}
