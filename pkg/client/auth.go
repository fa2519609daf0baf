package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	gotrue "github.com/supabase-community/gotrue-go"
	"github.com/supabase-community/gotrue-go/types"
)

// User is a GoTrue user.
type User struct {
	ID               string          `json:"id"`
	Aud              string          `json:"aud,omitempty"`
	Role             string          `json:"role,omitempty"`
	Email            string          `json:"email"`
	Phone            string          `json:"phone,omitempty"`
	EmailConfirmedAt *time.Time      `json:"email_confirmed_at,omitempty"`
	LastSignInAt     *time.Time      `json:"last_sign_in_at,omitempty"`
	AppMetadata      json.RawMessage `json:"app_metadata,omitempty"`
	UserMetadata     json.RawMessage `json:"user_metadata,omitempty"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
}

// AuthService signs users in and out (GoTrue at /auth/v1, through
// gotrue-go).
type AuthService struct{ c *Client }

// gotrueSession is GoTrue's session JSON.
type gotrueSession struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	ExpiresAt    int64  `json:"expires_at"`
	RefreshToken string `json:"refresh_token"`
	User         User   `json:"user"`
}

// session converts GoTrue's session. The expiry is taken from expires_in
// on the local clock, so a clock that differs from the server's does not
// make a fresh token look expired (or an expired one fresh); expires_at is
// only the fallback.
func (g *gotrueSession) session(now time.Time) *Session {
	exp := now.Add(time.Duration(g.ExpiresIn) * time.Second)
	if g.ExpiresIn <= 0 {
		exp = time.Unix(g.ExpiresAt, 0)
	}
	return &Session{AccessToken: g.AccessToken, RefreshToken: g.RefreshToken, TokenType: g.TokenType,
		ExpiresIn: g.ExpiresIn, ExpiresAt: exp, User: g.User}
}

// gotrue returns a gotrue-go client that belongs to one call.
func (cl *call) gotrue() gotrue.Client {
	return gotrue.New("sfp", cl.c.apiKey).
		WithCustomGoTrueURL(cl.c.authURL).
		WithClient(http.Client{Transport: cl})
}

// SignInWithPassword signs in with email and password (POST
// /auth/v1/token?grant_type=password), makes the session the client's and
// saves it to the session store. Wrong credentials give an *Error that is
// ErrUnauthenticated (code invalid_credentials).
func (s *AuthService) SignInWithPassword(ctx context.Context, email, password string) (*Session, error) {
	email = strings.TrimSpace(email)
	if email == "" || password == "" {
		return nil, fmt.Errorf("sign in: an email and a password are required: %w", ErrValidation)
	}
	return s.startSession(ctx, "sign in", authKey, func(cl *call) error {
		_, err := cl.gotrue().SignInWithEmailPassword(email, password)
		return err
	})
}

// SignUp creates a user with email and password (POST /auth/v1/signup).
// When the server confirms sign-ups automatically it returns a session,
// which becomes the client's; otherwise the session is nil and the user
// must confirm their address first.
func (s *AuthService) SignUp(ctx context.Context, email, password string) (*User, *Session, error) {
	var (
		user User
		sess *Session
	)
	err := s.c.do(ctx, "sign up", false, func(cl *call) error {
		cl.auth = authKey
		_, libErr := cl.gotrue().Signup(types.SignupRequest{Email: strings.TrimSpace(email), Password: password})
		if err := cl.check(libErr); err != nil {
			return err
		}
		var g gotrueSession
		if err := cl.decode(&g); err != nil {
			return err
		}
		if g.AccessToken != "" {
			sess = g.session(s.c.opts.now())
			user = g.User
			return nil
		}
		return cl.decode(&user)
	})
	if err != nil {
		return nil, nil, err
	}
	if sess != nil {
		if err := s.c.sess.set(ctx, sess); err != nil {
			return &user, sess, err
		}
	}
	return &user, sess.clone(), nil
}

// refreshToken exchanges a refresh token for a new session (POST
// /auth/v1/token?grant_type=refresh_token). The session machinery calls it;
// use Refresh to force a refresh.
func (s *AuthService) refreshToken(ctx context.Context, refreshToken string) (*Session, error) {
	return s.sessionCall(ctx, "refresh session", authKey, func(cl *call) error {
		_, err := cl.gotrue().RefreshToken(refreshToken)
		return err
	})
}

// sessionCall makes one GoTrue call, authenticated as auth says, whose
// answer is a session; send makes the request and returns the library's
// error, which cl.check turns into the call's.
func (s *AuthService) sessionCall(ctx context.Context, op string, auth authMode, send func(*call) error) (*Session, error) {
	var sess *Session
	err := s.c.do(ctx, op, false, func(cl *call) error {
		cl.auth = auth
		if err := cl.check(send(cl)); err != nil {
			return err
		}
		var g gotrueSession
		if err := cl.decode(&g); err != nil {
			return err
		}
		sess = g.session(s.c.opts.now())
		return nil
	})
	return sess, err
}

// startSession is sessionCall for the calls that sign in: the session
// becomes the client's and is saved to the store, and the caller gets a
// copy. When saving fails the session is returned with the error, as it is
// valid on the server.
func (s *AuthService) startSession(ctx context.Context, op string, auth authMode, send func(*call) error) (*Session, error) {
	sess, err := s.sessionCall(ctx, op, auth, send)
	if err != nil {
		return nil, err
	}
	if err := s.c.sess.set(ctx, sess); err != nil {
		return sess, err
	}
	return sess.clone(), nil
}

// Refresh refreshes the session now, whatever its expiry, and returns the
// new one. Concurrent callers share one refresh.
func (s *AuthService) Refresh(ctx context.Context) (*Session, error) {
	s.c.sess.mu.Lock()
	err := s.c.sess.loadLocked(ctx)
	gen, has := s.c.sess.gen, s.c.sess.sess != nil
	s.c.sess.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if !has {
		return nil, fmt.Errorf("refresh session: %w", ErrNoSession)
	}
	if _, _, _, err := s.c.sess.refresh(ctx, gen); err != nil {
		return nil, fmt.Errorf("refresh session: %w", err)
	}
	return s.c.sess.current(ctx)
}

// Session returns the client's session (loading it from the store), or nil
// when signed out.
func (s *AuthService) Session(ctx context.Context) (*Session, error) {
	return s.c.sess.current(ctx)
}

// SetSession replaces the client's session and saves it to the store.
func (s *AuthService) SetSession(ctx context.Context, sess *Session) error {
	return s.c.sess.set(ctx, sess)
}

// User returns the signed-in user as the server knows it (GET
// /auth/v1/user), which also proves the session is valid.
func (s *AuthService) User(ctx context.Context) (*User, error) {
	return s.userCall(ctx, "get user", true, authUser, func(cl *call) error {
		_, err := cl.gotrue().GetUser()
		return err
	})
}

// userCall makes one GoTrue call, authenticated as auth says, whose
// answer is a user.
func (s *AuthService) userCall(ctx context.Context, op string, idempotent bool, auth authMode, send func(*call) error) (*User, error) {
	var u User
	err := s.c.do(ctx, op, idempotent, func(cl *call) error {
		cl.auth = auth
		if err := cl.check(send(cl)); err != nil {
			return err
		}
		return cl.decode(&u)
	})
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// SignOut revokes the session's refresh tokens on the server (POST
// /auth/v1/logout) and forgets the session locally, also when the server
// refuses because the session was already gone. The access token stays
// valid until it expires, as with GoTrue.
func (s *AuthService) SignOut(ctx context.Context) error {
	cur, err := s.c.sess.current(ctx)
	if err != nil {
		return err
	}
	var remote error
	if cur != nil {
		// The normal token path refreshes an expired access token first,
		// so the refresh tokens are revoked even for an old session.
		remote = s.c.do(ctx, "sign out", false, func(cl *call) error {
			cl.auth = authUser
			return cl.check(cl.gotrue().Logout())
		})
		if errors.Is(remote, ErrUnauthenticated) || errors.Is(remote, ErrNotFound) || errors.Is(remote, ErrNoSession) {
			remote = nil // the session was already gone
		}
	}
	if err := s.c.sess.clear(ctx); err != nil {
		return err
	}
	return remote
}

// AdminCreateUser creates a user with the service_role key (POST
// /auth/v1/admin/users), email confirmed when confirm is true. Workers and
// provisioning scripts use it; with the anon key it fails with
// ErrForbidden.
func (s *AuthService) AdminCreateUser(ctx context.Context, email, password string, confirm bool) (*User, error) {
	return s.userCall(ctx, "create user", false, authKey, func(cl *call) error {
		_, err := cl.gotrue().AdminCreateUser(types.AdminCreateUserRequest{Email: email, Password: &password, EmailConfirm: confirm})
		return err
	})
}
