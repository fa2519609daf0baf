// Package client is the typed Go client of an sfp tenant. Every call goes
// through the tenant's gateway: REST (PostgREST) through postgrest-go, auth
// (GoTrue) through gotrue-go, live updates (Realtime) through pkg/client/realtime.
//
//	c, err := client.New("http://127.0.0.1:54321", publishableKey,
//		client.WithSessionStore(client.NewFileStore(path)))
//	defer c.Close()
//	if _, err := c.Auth.SignInWithPassword(ctx, email, password); err != nil { … }
//	page, err := c.Projects.List(ctx, accountID, nil)
//
// The API key is the tenant's publishable key (sb_publishable_…) or, with
// legacy keys on, its anon key. With the secret key (sb_secret_…) or the
// legacy service_role key instead, the client acts as a worker: it bypasses
// row-level security and can report task and deployment progress and read
// integration credentials. As supabase-js, the client sends the key as
// apikey and, when no user is signed in, as its bearer token too; the
// gateway turns an sb_ key into a JWT of its role.
//
// The community clients have gaps (no context, shared mutable headers,
// errors flattened to strings, bodies left open); this package wraps them so
// none of that reaches callers: each call builds its own postgrest-go or
// gotrue-go client whose transport binds the call's context, injects the
// API key and access token, retries what is safe to retry, and keeps the
// response so errors carry status, code, message, details and hint.
//
// A Client is safe for concurrent use. Its only goroutines are a session
// refresh that concurrent callers share and the watches it was asked for;
// Close ends them and waits for them.
package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Defaults.
const (
	DefaultTimeout       = 30 * time.Second
	DefaultRetries       = 3
	DefaultRefreshMargin = 60 * time.Second
	// DefaultPageSize is the page size of list methods when none is asked.
	DefaultPageSize = 100
	// MaxPageSize is the largest page a list method asks for (the
	// server's max rows).
	MaxPageSize = 1000
)

// Client is a tenant client. Create it with New.
type Client struct {
	baseURL  string // gateway URL without trailing slash
	restURL  string
	authURL  string
	apiKey   string
	opts     options
	http     *http.Client
	ownsHTTP bool

	sess *sessions

	closeOnce sync.Once
	ctx       context.Context // cancelled by Close
	cancel    context.CancelFunc
	wg        sync.WaitGroup // goroutines Close waits for
	goMu      sync.Mutex
	closing   bool

	// Services, one per domain.
	Auth         *AuthService
	Accounts     *AccountsService
	Projects     *ProjectsService
	Environments *EnvironmentsService
	Builds       *BuildsService
	Releases     *ReleasesService
	Deployments  *DeploymentsService
	Tasks        *TasksService
	Integrations *IntegrationsService
	Documents    *DocumentsService
}

type options struct {
	httpClient    *http.Client
	timeout       time.Duration
	retries       int
	retryBase     time.Duration
	refreshMargin time.Duration
	store         SessionStore
	session       *Session
	logger        *slog.Logger
	now           func() time.Time
	userAgent     string
	watchPoll     time.Duration
}

// Option configures a Client.
type Option func(*options)

// WithHTTPClient sends requests with hc's transport (its Timeout is not
// used: every call has its own deadline). The client does not close hc's
// idle connections on Close.
func WithHTTPClient(hc *http.Client) Option { return func(o *options) { o.httpClient = hc } }

// WithTimeout bounds every call (default 30 s). A deadline on the call's
// context that comes sooner wins.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithRetries sets how many times an idempotent read, or a request that
// never reached the server, is retried after a 503 or a connection error
// (default 3; 0 disables retries). Backoff is exponential with full jitter;
// a 503 with Retry-After (the embedded runtime sends one while PostgreSQL
// restarts) waits as long as asked instead, unless that is more than 30 s
// or beyond the call's deadline, in which case the 503 is returned at once.
func WithRetries(n int) Option { return func(o *options) { o.retries = n } }

// WithRetryBackoff sets the base delay of the retry backoff (default 100 ms).
func WithRetryBackoff(d time.Duration) Option { return func(o *options) { o.retryBase = d } }

// WithRefreshMargin refreshes the session when its access token expires
// within d (default 60 s).
func WithRefreshMargin(d time.Duration) Option { return func(o *options) { o.refreshMargin = d } }

// WithSessionStore loads the session from store on first use and saves it
// after every sign-in and refresh (NewFileStore for the CLI).
func WithSessionStore(s SessionStore) Option { return func(o *options) { o.store = s } }

// WithSession starts the client with a session (e.g. one the caller keeps
// elsewhere).
func WithSession(s *Session) Option { return func(o *options) { o.session = s } }

// WithLogger logs requests at debug level (method, path, status, duration;
// never keys or tokens).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithClock replaces time.Now (tests).
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithUserAgent sets the User-Agent and X-Client-Info headers.
func WithUserAgent(ua string) Option { return func(o *options) { o.userAgent = ua } }

// WithWatchPollInterval makes Watch poll over REST at interval d when the
// server offers no realtime service (default 1 s).
func WithWatchPollInterval(d time.Duration) Option { return func(o *options) { o.watchPoll = d } }

// New returns a client of the tenant at rawURL (the gateway, e.g.
// http://127.0.0.1:54321) with an API key: the publishable (or legacy anon)
// key for users, the secret (or legacy service_role) key for workers. It
// does no I/O.
func New(rawURL, apiKey string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(rawURL))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("client: server URL %q must be an http:// or https:// URL with a host", rawURL)
	}
	if strings.TrimSpace(apiKey) == "" {
		return nil, errors.New("client: an API key (the tenant's publishable or secret key) is required")
	}
	o := options{
		timeout: DefaultTimeout, retries: DefaultRetries, retryBase: 100 * time.Millisecond,
		refreshMargin: DefaultRefreshMargin, now: time.Now, userAgent: "sfp-client-go",
		watchPoll: time.Second,
	}
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.retries < 0 {
		o.retries = 0
	}
	base := strings.TrimRight(u.String(), "/")
	c := &Client{baseURL: base, restURL: base + "/rest/v1", authURL: base + "/auth/v1", apiKey: apiKey, opts: o}
	if o.httpClient != nil {
		c.http = o.httpClient
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 32
		c.http = &http.Client{Transport: tr}
		c.ownsHTTP = true
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.sess = &sessions{c: c, store: o.store, sess: o.session.clone(), loaded: o.session != nil || o.store == nil}
	c.Auth = &AuthService{c}
	c.Accounts = &AccountsService{c}
	c.Projects = &ProjectsService{c}
	c.Environments = &EnvironmentsService{c}
	c.Builds = &BuildsService{c}
	c.Releases = &ReleasesService{c}
	c.Deployments = &DeploymentsService{c}
	c.Tasks = &TasksService{c}
	c.Integrations = &IntegrationsService{c}
	c.Documents = &DocumentsService{c}
	return c, nil
}

// URL is the server URL the client talks to.
func (c *Client) URL() string { return c.baseURL }

// APIKey is the key the client sends (for building other clients, such as
// a realtime client, for the same tenant).
func (c *Client) APIKey() string { return c.apiKey }

// Close cancels calls in flight and watches, waits for their goroutines
// (and a shared session refresh) to finish and closes idle connections.
// The client must not be used after.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.sess.close()
		c.goMu.Lock()
		c.closing = true
		c.goMu.Unlock()
		c.cancel()
		c.wg.Wait()
		if c.ownsHTTP {
			c.http.CloseIdleConnections()
		}
	})
	return nil
}

// spawn runs fn on a goroutine Close waits for; after Close it fails.
func (c *Client) spawn(fn func()) error {
	c.goMu.Lock()
	defer c.goMu.Unlock()
	if c.closing {
		return ErrClosed
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		fn()
	}()
	return nil
}

// transport is the RoundTripper requests finally go through.
func (c *Client) transport() http.RoundTripper {
	if c.http.Transport != nil {
		return c.http.Transport
	}
	return http.DefaultTransport
}

// callCtx bounds a call by the client's timeout and by Close.
func (c *Client) callCtx(ctx context.Context) (context.Context, context.CancelFunc, error) {
	if ctx == nil {
		return nil, nil, errors.New("client: nil context")
	}
	if c.ctx.Err() != nil {
		return nil, nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	cctx, cancel := ctx, context.CancelFunc(func() {})
	if c.opts.timeout > 0 {
		cctx, cancel = context.WithTimeout(ctx, c.opts.timeout)
	}
	stop := context.AfterFunc(c.ctx, cancel)
	return cctx, func() { stop(); cancel() }, nil
}
