package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Session is a signed-in user's tokens, as GoTrue issues them.
type Session struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type,omitempty"`
	// ExpiresIn is the access token's lifetime in seconds when issued.
	ExpiresIn int `json:"expires_in,omitempty"`
	// ExpiresAt is when the access token expires.
	ExpiresAt time.Time `json:"expires_at"`
	User      User      `json:"user"`
}

func (s *Session) clone() *Session {
	if s == nil {
		return nil
	}
	cp := *s
	return &cp
}

// SessionStore keeps a session between processes: the CLI stores it in a
// file, a server might keep it in memory or a secret store. Load returns
// nil and no error when there is no session.
type SessionStore interface {
	Load(ctx context.Context) (*Session, error)
	Save(ctx context.Context, s *Session) error
	Delete(ctx context.Context) error
}

// FileStore keeps the session in a JSON file readable only by its owner
// (0600, in a 0700 directory), written atomically.
type FileStore struct{ path string }

// NewFileStore returns a store at path.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

// Path is the file's path.
func (f *FileStore) Path() string { return f.path }

// Load reads the session; nil when the file does not exist.
func (f *FileStore) Load(ctx context.Context) (*Session, error) {
	raw, err := os.ReadFile(f.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load session: %w", err)
	}
	var s Session
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("load session from %s: %w", f.path, err)
	}
	if s.AccessToken == "" || s.RefreshToken == "" {
		return nil, fmt.Errorf("load session from %s: the file holds no tokens", f.path)
	}
	return &s, nil
}

// Save writes the session with mode 0600.
func (f *FileStore) Save(ctx context.Context, s *Session) error {
	raw, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	if err := WriteFileAtomic(f.path, append(raw, '\n'), 0o600); err != nil {
		return fmt.Errorf("save session: %w", err)
	}
	return nil
}

// Delete removes the file; a missing file is not an error.
func (f *FileStore) Delete(ctx context.Context) error {
	if err := os.Remove(f.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// WriteFileAtomic writes data to a temporary file in path's directory
// (created 0700 if missing) with mode perm, then renames it over path, so
// readers never see a partial file and the mode is right from the start.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// MemoryStore keeps the session in memory (tests, long-running programs
// that sign in at start).
type MemoryStore struct {
	mu sync.Mutex
	s  *Session
}

// Load returns a copy of the stored session.
func (m *MemoryStore) Load(ctx context.Context) (*Session, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.s.clone(), nil
}

// Save stores a copy of s.
func (m *MemoryStore) Save(ctx context.Context, s *Session) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.s = s.clone()
	return nil
}

// Delete forgets the session.
func (m *MemoryStore) Delete(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.s = nil
	return nil
}

// sessions holds the client's session and refreshes it. One refresh runs
// at a time (single flight): callers that find the token stale, or whose
// request was refused with an expired token, wait for the refresh in
// flight instead of starting their own, so a refresh token is used once.
type sessions struct {
	c     *Client
	store SessionStore

	mu     sync.Mutex
	sess   *Session
	gen    uint64 // incremented whenever sess changes
	loaded bool
	dead   error // the refresh token was refused; sign in again
	flight *flight
	closed bool
}

type flight struct {
	done chan struct{}
	err  error
}

// load reads the store once. Called with mu held.
func (s *sessions) loadLocked(ctx context.Context) error {
	if s.loaded {
		return nil
	}
	sess, err := s.store.Load(ctx)
	if err != nil {
		return err
	}
	s.sess, s.loaded = sess, true
	s.gen++
	return nil
}

// stale reports whether the access token expires within the refresh
// margin (at most half its lifetime, so short-lived tokens are not
// refreshed on every call).
func (s *sessions) stale(sess *Session) bool {
	margin := s.c.opts.refreshMargin
	if sess.ExpiresIn > 0 {
		if half := time.Duration(sess.ExpiresIn) * time.Second / 2; half < margin {
			margin = half
		}
	}
	return !s.c.opts.now().Add(margin).Before(sess.ExpiresAt)
}

// current returns the session (loading it from the store), or nil.
func (s *sessions) current(ctx context.Context) (*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.loadLocked(ctx); err != nil {
		return nil, err
	}
	return s.sess.clone(), nil
}

// set replaces the session (sign-in) and saves it.
func (s *sessions) set(ctx context.Context, sess *Session) error {
	s.mu.Lock()
	s.sess, s.loaded, s.dead = sess.clone(), true, nil
	s.gen++
	s.mu.Unlock()
	if s.store != nil && sess != nil {
		return s.store.Save(ctx, sess)
	}
	return nil
}

// clear forgets the session and deletes it from the store.
func (s *sessions) clear(ctx context.Context) error {
	s.mu.Lock()
	s.sess, s.loaded, s.dead = nil, true, nil
	s.gen++
	s.mu.Unlock()
	if s.store != nil {
		return s.store.Delete(ctx)
	}
	return nil
}

// token returns the bearer token for a request: the session's access
// token (refreshed first when stale), its generation and true, or the API
// key and false when there is no session.
func (s *sessions) token(ctx context.Context) (string, uint64, bool, error) {
	s.mu.Lock()
	if err := s.loadLocked(ctx); err != nil {
		s.mu.Unlock()
		return "", 0, false, err
	}
	if s.sess == nil {
		s.mu.Unlock()
		return s.c.apiKey, 0, false, nil
	}
	if s.dead != nil {
		err := s.dead
		s.mu.Unlock()
		return "", 0, true, err
	}
	gen := s.gen
	if !s.stale(s.sess) {
		tok := s.sess.AccessToken
		s.mu.Unlock()
		return tok, gen, true, nil
	}
	s.mu.Unlock()
	return s.refresh(ctx, gen)
}

// refresh makes sure the session is newer than generation gen and returns
// its access token. If another caller already replaced it, no refresh
// happens; if a refresh is in flight, it is awaited.
func (s *sessions) refresh(ctx context.Context, gen uint64) (string, uint64, bool, error) {
	s.mu.Lock()
	for {
		switch {
		case s.closed:
			s.mu.Unlock()
			return "", 0, true, ErrClosed
		case s.sess == nil:
			s.mu.Unlock()
			return "", 0, true, ErrNoSession
		case s.dead != nil:
			err := s.dead
			s.mu.Unlock()
			return "", 0, true, err
		case s.gen != gen:
			// Replaced since the caller read it (by a refresh, or a
			// sign-in): use it, even if the clock already calls it stale,
			// so a skewed clock cannot loop refreshing. Generations, not
			// token strings, tell: a refresh within the same second may
			// issue an identical JWT.
			tok, g := s.sess.AccessToken, s.gen
			s.mu.Unlock()
			return tok, g, true, nil
		}
		f := s.flight
		if f == nil {
			f = &flight{done: make(chan struct{})}
			s.flight = f
			s.c.wg.Add(1)
			go s.run(f, s.sess.clone())
		}
		s.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			return "", 0, true, ctx.Err()
		}
		if f.err != nil {
			return "", 0, true, f.err
		}
		s.mu.Lock()
	}
}

// run performs one refresh. It runs on its own goroutine, bounded by the
// client's timeout and by Close, so a waiter that gives up (its context
// ends) neither cancels the refresh for the others nor blocks.
func (s *sessions) run(f *flight, old *Session) {
	defer s.c.wg.Done()
	ctx, cancel := context.WithTimeout(s.c.ctx, s.c.opts.timeout)
	defer cancel()
	next, err := s.refreshFrom(ctx, old)
	s.mu.Lock()
	if err == nil {
		s.sess = next
		s.gen++
	} else if errors.Is(err, ErrSessionExpired) {
		s.dead = err
	}
	f.err = err
	s.flight = nil
	s.mu.Unlock()
	close(f.done)
}

func (s *sessions) refreshFrom(ctx context.Context, old *Session) (*Session, error) {
	// Another process sharing the store (another sfp command) may have
	// refreshed already; its session is as good and spares the refresh
	// token.
	if s.store != nil {
		if st, err := s.store.Load(ctx); err == nil && st != nil && st.RefreshToken != old.RefreshToken && !s.stale(st) {
			return st, nil
		}
	}
	next, err := s.c.Auth.refreshToken(ctx, old.RefreshToken)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.isSessionGone() {
			return nil, &sessionExpiredError{err: err}
		}
		return nil, err
	}
	if s.store != nil {
		if err := s.store.Save(ctx, next); err != nil {
			s.c.opts.logger.Warn("could not save the refreshed session", "err", err)
		}
	}
	return next, nil
}

func (s *sessions) close() {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
}

// sessionExpiredError is a refused refresh token. It is not unwrapped to
// the server's 400, so it never reads as a validation error.
type sessionExpiredError struct{ err error }

func (e *sessionExpiredError) Error() string {
	return "the session expired and could not be refreshed (" + e.err.Error() + ")"
}

func (e *sessionExpiredError) Is(target error) bool {
	return target == ErrSessionExpired || target == ErrUnauthenticated
}
