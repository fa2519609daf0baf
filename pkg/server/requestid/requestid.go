// Package requestid carries the request id the gateway assigns
// (X-Request-Id) in a request's context, and adds it to the log lines the
// servers write with that context, so one request can be followed from
// the gateway's access log through REST, auth and realtime.
package requestid

import (
	"context"
	"log/slog"
)

type key struct{}

// Context is a context carrying a request id. It is a value type so the
// gateway can keep it inside the memory it allocates per request anyway:
// attaching the id costs no allocation.
type Context struct {
	context.Context
	ID string
}

// Value returns the id for this package's key, else the parent's value.
func (c *Context) Value(k any) any {
	if k == (key{}) {
		return c.ID
	}
	return c.Context.Value(k)
}

// With returns ctx carrying id.
func With(ctx context.Context, id string) context.Context {
	return &Context{Context: ctx, ID: id}
}

// From returns the request id ctx carries, "" if none.
func From(ctx context.Context) string {
	if ctx == nil {
		return ""
	}
	id, _ := ctx.Value(key{}).(string)
	return id
}

// LogHandler wraps h so that a record logged with a context carrying a
// request id (slog's *Context methods) gets a request_id attribute.
func LogHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(*handler); ok {
		return h
	}
	return &handler{h}
}

type handler struct{ slog.Handler }

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if id := From(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h *handler) WithAttrs(as []slog.Attr) slog.Handler { return &handler{h.Handler.WithAttrs(as)} }
func (h *handler) WithGroup(name string) slog.Handler    { return &handler{h.Handler.WithGroup(name)} }
