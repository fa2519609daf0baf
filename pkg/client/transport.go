package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxBody caps a response body read into memory.
const maxBody = 64 << 20

// authMode says which bearer token a call sends.
type authMode int

const (
	// authAuto: the session's access token when signed in, else the API key.
	authAuto authMode = iota
	// authKey: only the API key (sign-in, refresh, sign-up).
	authKey
	// authUser: the session's access token; fails without a session.
	authUser
)

// call is one client method's HTTP exchange. It is the http.RoundTripper
// given to the per-call postgrest-go or gotrue-go client, which build
// requests without a context and flatten errors: call binds the context,
// sets the API key and bearer token (never touching a shared header map),
// retries what is safe to retry, refreshes the session once on an expired
// token, reads and closes the body, and keeps status, headers and body so
// the method can build a typed result or *Error.
type call struct {
	c          *Client
	ctx        context.Context
	op         string
	idempotent bool
	auth       authMode

	method, url string
	status      int
	header      http.Header
	body        []byte
	err         error
}

func (c *Client) newCall(ctx context.Context, op string, idempotent bool) *call {
	return &call{c: c, ctx: ctx, op: op, idempotent: idempotent}
}

// RoundTrip implements http.RoundTripper.
func (cl *call) RoundTrip(req *http.Request) (*http.Response, error) {
	refreshed := false
	for attempt := 0; ; attempt++ {
		r := req.Clone(cl.ctx)
		if attempt > 0 && req.Body != nil && req.Body != http.NoBody {
			if req.GetBody == nil {
				return nil, cl.fail(errors.New("request body cannot be replayed"))
			}
			b, err := req.GetBody()
			if err != nil {
				return nil, cl.fail(err)
			}
			r.Body = b
		}
		tok, gen, user, err := cl.bearer()
		if err != nil {
			return nil, cl.fail(err)
		}
		r.Header.Del("Apikey")
		r.Header.Set("apikey", cl.c.apiKey)
		r.Header.Set("Authorization", "Bearer "+tok)
		r.Header.Set("User-Agent", cl.c.opts.userAgent)
		cl.method, cl.url = r.Method, r.URL.String()

		start := time.Now()
		resp, err := cl.c.transport().RoundTrip(r)
		var body []byte
		if err == nil {
			body, err = io.ReadAll(io.LimitReader(resp.Body, maxBody))
			resp.Body.Close()
		}
		if err != nil {
			if ctxErr := cl.ctx.Err(); ctxErr != nil {
				return nil, cl.fail(ctxErr)
			}
			uerr := &UnreachableError{URL: cl.c.baseURL, Err: err}
			if attempt < cl.c.opts.retries && (cl.idempotent || neverSent(err)) {
				cl.c.opts.logger.Debug("retrying", "op", cl.op, "attempt", attempt+1, "err", err)
				if werr := cl.backoff(attempt); werr != nil {
					return nil, cl.fail(werr)
				}
				continue
			}
			return nil, cl.fail(uerr)
		}
		cl.c.opts.logger.Debug("request", "op", cl.op, "method", r.Method, "path", r.URL.Path,
			"status", resp.StatusCode, "duration", time.Since(start))

		if user && !refreshed && expiredToken(resp, body) {
			refreshed = true
			if _, _, _, err := cl.c.sess.refresh(cl.ctx, gen); err != nil {
				return nil, cl.fail(err)
			}
			attempt-- // a refresh is not a retry
			continue
		}
		if resp.StatusCode == http.StatusServiceUnavailable && cl.idempotent && attempt < cl.c.opts.retries {
			// A server that says when to come back is taken at its word;
			// one asking for a longer pause than the call has gets its 503
			// returned now, which says more than a deadline error would.
			wait, hinted := retryAfter(resp.Header, time.Now())
			switch {
			case !hinted:
				if werr := cl.backoff(attempt); werr != nil {
					return nil, cl.fail(werr)
				}
				continue
			case cl.worthWaiting(wait):
				if werr := cl.sleep(wait + jitter(wait/4)); werr != nil {
					return nil, cl.fail(werr)
				}
				continue
			}
		}
		cl.status, cl.header, cl.body = resp.StatusCode, resp.Header, body
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		return resp, nil
	}
}

func (cl *call) fail(err error) error {
	cl.err = err
	return err
}

// bearer returns the token to send, the session generation it belongs
// to, and whether it is a user's.
func (cl *call) bearer() (string, uint64, bool, error) {
	switch cl.auth {
	case authKey:
		return cl.c.apiKey, 0, false, nil
	case authUser:
		tok, gen, user, err := cl.c.sess.token(cl.ctx)
		if err == nil && !user {
			return "", 0, false, ErrNoSession
		}
		return tok, gen, user, err
	default:
		return cl.c.sess.token(cl.ctx)
	}
}

// backoff sleeps before retry attempt+1: exponential with full jitter.
func (cl *call) backoff(attempt int) error {
	d := cl.c.opts.retryBase << attempt
	if d > 5*time.Second {
		d = 5 * time.Second
	}
	return cl.sleep(jitter(d))
}

// maxRetryAfter is the longest Retry-After the client waits out by itself;
// a server asking for more is down for longer than a call should block.
const maxRetryAfter = 30 * time.Second

// retryAfter reads a 503's Retry-After: delay-seconds or an HTTP date.
// The embedded runtime sends it while PostgreSQL restarts or recovers;
// waiting that long, rather than the short backoff, lets a call ride out
// the restart instead of spending its retries in the first second.
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0, false
		}
		return time.Duration(n) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// worthWaiting reports whether a retry after wait can still finish within
// the call's deadline, and wait is one the client waits out at all.
func (cl *call) worthWaiting(wait time.Duration) bool {
	if wait > maxRetryAfter {
		return false
	}
	if dl, ok := cl.ctx.Deadline(); ok && time.Until(dl) <= wait {
		return false
	}
	return true
}

// jitter returns a random duration in [0, d].
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(d) + 1))
}

// sleep waits d or until the call's context ends.
func (cl *call) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-cl.ctx.Done():
		return cl.ctx.Err()
	}
}

// neverSent reports a connection that failed before the request was
// written, which is safe to retry whatever the method.
func neverSent(err error) bool {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	return errors.Is(err, syscall.ECONNREFUSED)
}

// expiredToken reports a refusal because the bearer token is invalid or
// expired: PostgREST's 401 PGRST301/PGRST303 (WWW-Authenticate
// invalid_token) or GoTrue's 403 bad_jwt. The gateway's 401 for a bad API
// key is not one: refreshing would not help.
func expiredToken(resp *http.Response, body []byte) bool {
	switch resp.StatusCode {
	case http.StatusUnauthorized:
		if strings.Contains(resp.Header.Get("WWW-Authenticate"), "invalid_token") {
			return true
		}
		e := newError("", "", "", resp.StatusCode, resp.Header, body)
		return e.Code == "PGRST301" || e.Code == "PGRST303"
	case http.StatusForbidden:
		if resp.Header.Get("X-Sb-Error-Code") == "bad_jwt" {
			return true
		}
		return newError("", "", "", resp.StatusCode, resp.Header, body).Code == "bad_jwt"
	}
	return false
}

// check returns the call's error: a context or connection error, a
// refused request as *Error, or libErr when the library failed before
// sending anything.
func (cl *call) check(libErr error) error {
	if cl.err != nil {
		return fmt.Errorf("%s: %w", cl.op, cl.err)
	}
	if cl.status == 0 {
		if libErr == nil {
			libErr = errors.New("no response")
		}
		return fmt.Errorf("%s: %w", cl.op, libErr)
	}
	if cl.status >= 400 {
		return newError(cl.op, cl.method, cl.url, cl.status, cl.header, cl.body)
	}
	return nil
}
