package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	postgrest "github.com/supabase-community/postgrest-go"
)

const singularAccept = "application/vnd.pgrst.object+json"

// rest returns a postgrest-go client that belongs to one call: its header
// map is its own and its transport is the call.
func (cl *call) rest(headers map[string]string) *postgrest.Client {
	h := map[string]string{"X-Client-Info": cl.c.opts.userAgent}
	for k, v := range headers {
		h[k] = v
	}
	pc := postgrest.NewClient(cl.c.restURL, "public", h)
	pc.Transport.Parent = cl
	return pc
}

// from starts a query on table for this call.
func (cl *call) from(table string) *postgrest.QueryBuilder {
	return cl.rest(nil).From(table)
}

// exec runs a built query and decodes the response into out (if not nil).
func (cl *call) exec(fb *postgrest.FilterBuilder, out any) error {
	_, _, libErr := fb.Execute()
	if err := cl.check(libErr); err != nil {
		return err
	}
	return cl.decode(out)
}

func (cl *call) decode(out any) error {
	if out == nil || len(bytes.TrimSpace(cl.body)) == 0 {
		return nil
	}
	if err := json.Unmarshal(cl.body, out); err != nil {
		return fmt.Errorf("%s: decode response: %w", cl.op, err)
	}
	return nil
}

// rpc calls a database function through POST /rest/v1/rpc/<fn> with named
// arguments and decodes its result into out. singular asks for one object
// (functions returning a set of at most one row).
func (cl *call) rpc(fn string, args any, singular bool, out any) error {
	var headers map[string]string
	if singular {
		headers = map[string]string{"Accept": singularAccept}
	}
	if args == nil {
		args = struct{}{}
	}
	pc := cl.rest(headers)
	pc.Rpc(fn, "", args)
	if err := cl.check(pc.ClientError); err != nil {
		return err
	}
	return cl.decode(out)
}

// quoteValue quotes a value for a PostgREST logic tree (or=(…)), where
// commas, dots, colons and parentheses would otherwise end or split it.
func quoteValue(v string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(v) + `"`
}

// inList formats values for an in.(…) filter.
func inList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = quoteValue(v)
	}
	return "(" + strings.Join(q, ",") + ")"
}

// callRPC calls the database function fn with args (RPC) in one call and
// decodes what it returns as T.
func callRPC[T any](ctx context.Context, c *Client, op, fn string, idempotent bool, args any) (T, error) {
	var out T
	err := c.do(ctx, op, idempotent, func(cl *call) error {
		return cl.rpc(fn, args, false, &out)
	})
	return out, err
}

// do runs fn with a new call bounded by the client's timeout.
func (c *Client) do(ctx context.Context, op string, idempotent bool, fn func(cl *call) error) error {
	cctx, cancel, err := c.callCtx(ctx)
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer cancel()
	return fn(&call{c: c, ctx: cctx, op: op, idempotent: idempotent})
}

// validUUID checks an id before it is put in a URL, so a typo gives a
// clear error instead of a server-side cast error.
func validUUID(what, id string) error {
	if !isUUID(id) {
		return fmt.Errorf("%s %q is not a UUID: %w", what, id, ErrValidation)
	}
	return nil
}

func isUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, r := range s {
		switch i {
		case 8, 13, 18, 23:
			if r != '-' {
				return false
			}
		default:
			if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f' || r >= 'A' && r <= 'F') {
				return false
			}
		}
	}
	return true
}

// IsUUID reports whether s looks like a UUID (the CLI accepts ids or
// names).
func IsUUID(s string) bool { return isUUID(s) }

// jsonObject validates user-supplied JSON that must be an object and
// returns it; empty means {}.
func jsonObject(what string, raw json.RawMessage) (json.RawMessage, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return nil, fmt.Errorf("%s must be a JSON object: %w", what, ErrValidation)
	}
	return raw, nil
}
