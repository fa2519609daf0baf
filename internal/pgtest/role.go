package pgtest

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Claims are the JWT claims of a request, as PostgREST puts them in
// request.jwt.claims. The "role" claim selects the database role.
type Claims map[string]any

// Anon are the claims of the anon key.
func Anon() Claims { return Claims{"role": "anon", "iss": "supabase"} }

// Service are the claims of the service_role key.
func Service() Claims { return Claims{"role": "service_role", "iss": "supabase"} }

// User are the claims of a signed-in user's access token.
func User(id string) Claims {
	return Claims{"sub": id, "role": "authenticated", "aud": "authenticated", "aal": "aal1", "email": id + "@example.test"}
}

// Role returns the role claim, "anon" when absent (as PostgREST does).
func (c Claims) Role() string {
	if r, ok := c["role"].(string); ok && r != "" {
		return r
	}
	return "anon"
}

// AsRole runs fn the way PostgREST runs a request: with Request, on a
// connection logged in as authenticator.
func (db *DB) AsRole(ctx context.Context, claims Claims, fn func(tx pgx.Tx) error) error {
	pool, err := db.pool("authenticator")
	if err != nil {
		return err
	}
	return Request(ctx, pool, claims, fn)
}

// Request runs fn the way PostgREST runs a request, on a connection of
// pool (one logged in as authenticator): in one transaction with the local
// settings role, request.jwt.claims, request.method and request.path set.
// The transaction commits when fn returns nil.
func Request(ctx context.Context, pool *pgxpool.Pool, claims Claims, fn func(tx pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if err := setRequest(ctx, tx, claims); err != nil {
			return err
		}
		return fn(tx)
	})
}

// BeginAs opens a transaction as Request does and leaves it open, for tests
// that hold a lock in one request while another runs on a second connection.
// The caller commits it; whatever is left is rolled back at cleanup.
func (db *DB) BeginAs(t testing.TB, claims Claims) pgx.Tx {
	t.Helper()
	ctx := context.Background()
	tx, err := db.Pool(t, "authenticator").Begin(ctx)
	if err != nil {
		t.Fatalf("pgtest: begin: %v", err)
	}
	t.Cleanup(func() { _ = tx.Rollback(context.Background()) })
	if err := setRequest(ctx, tx, claims); err != nil {
		t.Fatal(err)
	}
	return tx
}

// setRequest sets PostgREST's local settings of a request for claims.
func setRequest(ctx context.Context, tx pgx.Tx, claims Claims) error {
	raw, err := json.Marshal(claims)
	if err != nil {
		return fmt.Errorf("pgtest: encode claims: %w", err)
	}
	if _, err := tx.Exec(ctx, `select set_config('role', $1, true),
		set_config('request.jwt.claims', $2, true),
		set_config('request.method', 'POST', true),
		set_config('request.path', '/', true)`, claims.Role(), string(raw)); err != nil {
		return fmt.Errorf("pgtest: set request settings: %w", err)
	}
	return nil
}
