package auth

import (
	"context"
	"fmt"
	"strings"

	"github.com/sfp-dev/sfp/pkg/cli/cmdutil"
	"github.com/sfp-dev/sfp/pkg/client"
)

// browserLoginRun is `sfp login --provider NAME` or `--sso DOMAIN`: a PKCE
// sign-in in the browser, the code exchanged here for the session.
func browserLoginRun(ctx context.Context, opts *LoginOptions) error {
	return login(ctx, opts, func(lt *loginTarget, c *client.Client) (*client.Session, error) {
		if opts.Provider != "" {
			// The browser would show the refusal and never come back.
			enabled, err := c.Auth.ProviderEnabled(ctx, opts.Provider)
			if err != nil {
				return nil, err
			}
			if !enabled {
				return nil, fmt.Errorf("sign in with %s: the provider is not enabled on %s (an operator enables it with `sfp server auth provider set`)", opts.Provider, lt.server)
			}
		}
		verifier, challenge := pkceVerifier()
		code, err := browserSignIn(ctx, opts, func(redirectTo string) (string, error) {
			if opts.SSO != "" {
				return c.Auth.SSOURL(ctx, opts.SSO, redirectTo, challenge)
			}
			return c.Auth.AuthorizeURL(opts.Provider, redirectTo, challenge, opts.Scopes), nil
		})
		if err != nil {
			return nil, err
		}
		return c.Auth.ExchangeCodeForSession(ctx, code, verifier)
	})
}

// finishLogin keeps the server and user of a new session and reports it.
// Every way of signing in (password, sign-up, --provider, --sso) ends
// here, so a user with a verified second factor is asked for it after any
// of them (stepUpMFA, login_mfa.go).
func finishLogin(ctx context.Context, opts *LoginOptions, lt *loginTarget, c *client.Client, sess *client.Session) error {
	if err := stepUpMFA(ctx, c, opts.IO); err != nil {
		_ = c.Auth.SignOut(ctx) // no half login: the aal1 session goes
		return err
	}
	cfg := lt.cfg
	if !cmdutil.SameURL(cfg.Server, lt.server) || cfg.Email != sess.User.Email {
		cfg.Account = "" // the chosen account belongs to another server or user
	}
	cfg.Server, cfg.APIKey, cfg.Email = strings.TrimRight(lt.server, "/"), lt.key, sess.User.Email
	if err := cfg.Save(); err != nil {
		return err
	}
	if opts.JSON {
		return cmdutil.WriteJSON(opts.IO.Out, userJSON{ID: sess.User.ID, Email: sess.User.Email, Server: cfg.Server})
	}
	if opts.SignUp {
		fmt.Fprintf(opts.IO.ErrOut, "Signed up and logged in to %s as %s.\n", cfg.Server, sess.User.Email)
		return nil
	}
	fmt.Fprintf(opts.IO.ErrOut, "Logged in to %s as %s.\n", cfg.Server, sess.User.Email)
	return nil
}
