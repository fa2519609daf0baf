package samltest

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// Browser follows redirects and submits HTML forms with a cookie jar, as a
// person's browser does through a SAML sign-in: to the IdP, through its
// login form, and back to the service provider's ACS with the IdP's
// auto-submitted form. It stops at the first redirect to a URL under
// StopAt (the application the sign-in returns to, which tests do not
// serve) and reports that URL. With StopAt empty it follows every redirect
// — to a CLI's loopback callback, say, which must receive the code — and
// SignInPage returns the page it ends on.
type Browser struct {
	Client *http.Client
	StopAt string
}

// NewBrowser returns a browser that stops at redirects under stopAt.
func NewBrowser(stopAt string) *Browser {
	jar, _ := cookiejar.New(nil)
	b := &Browser{StopAt: stopAt}
	b.Client = &http.Client{
		Jar:     jar,
		Timeout: 2 * time.Minute,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if b.StopAt != "" && strings.HasPrefix(req.URL.String(), b.StopAt) {
				return http.ErrUseLastResponse
			}
			if len(via) > 10 {
				return fmt.Errorf("stopped after %d redirects", len(via))
			}
			return nil
		},
	}
	return b
}

// Form is an HTML form found on a page.
type Form struct {
	Action string
	Values url.Values
}

// Page is a response the browser stopped at: a redirect to StopAt (its
// Location in Redirect) or a page with its body.
type Page struct {
	Status   int
	URL      *url.URL
	Redirect *url.URL
	Body     string
}

// SignIn goes from startURL (the IdP URL a POST /sso answered with) through
// the IdP's login form as user, and posts the IdP's response to the ACS.
// It returns the URL the service provider finally sent the browser to.
func (b *Browser) SignIn(ctx context.Context, startURL, user, password string) (*url.URL, error) {
	p, err := b.SignInPage(ctx, startURL, user, password)
	if err != nil {
		return nil, err
	}
	if p.Redirect == nil {
		return nil, fmt.Errorf("the ACS answered %d at %s without redirecting to %s: %.300s", p.Status, p.URL, b.StopAt, p.Body)
	}
	return p.Redirect, nil
}

// SignInPage is SignIn returning the page the browser ended on: the
// redirect to StopAt, or the last page (a CLI's "signed in" page).
func (b *Browser) SignInPage(ctx context.Context, startURL, user, password string) (*Page, error) {
	acs, err := b.LoginAtIdP(ctx, startURL, user, password)
	if err != nil {
		return nil, err
	}
	return b.Submit(ctx, acs)
}

// LoginAtIdP opens startURL, fills the IdP's login form and returns the
// form the IdP answers with: its SAMLResponse and RelayState for the ACS.
// When the browser has a session at the IdP already, there is no login
// form: the IdP answers at once.
func (b *Browser) LoginAtIdP(ctx context.Context, startURL, user, password string) (*Form, error) {
	p, err := b.Get(ctx, startURL)
	if err != nil {
		return nil, err
	}
	login, err := p.Form()
	if err != nil {
		return nil, fmt.Errorf("the IdP's login page: %w", err)
	}
	if login.Values.Get("SAMLResponse") != "" {
		return login, nil // signed in at the IdP already (its session cookie)
	}
	login.Values.Set("user", user)
	login.Values.Set("password", password)
	p, err = b.Submit(ctx, login)
	if err != nil {
		return nil, err
	}
	if f, err := p.Form(); err != nil || f.Values.Get("SAMLResponse") == "" {
		// An IdP-initiated link's login only signs in at the IdP: open the
		// link again, now with the IdP's session cookie.
		if p, err = b.Get(ctx, startURL); err != nil {
			return nil, err
		}
	}
	resp, err := p.Form()
	if err != nil {
		return nil, fmt.Errorf("the IdP's answer to the login: %w", err)
	}
	if resp.Values.Get("SAMLResponse") == "" {
		return nil, fmt.Errorf("the IdP did not answer with a SAML response (login refused?): %.300s", p.Body)
	}
	return resp, nil
}

// Get opens a URL.
func (b *Browser) Get(ctx context.Context, u string) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	return b.do(req)
}

// Submit posts a form, as a browser does when it is submitted.
func (b *Browser) Submit(ctx context.Context, f *Form) (*Page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.Action, strings.NewReader(f.Values.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return b.do(req)
}

func (b *Browser) do(req *http.Request) (*Page, error) {
	resp, err := b.Client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("%s %s: read body: %w", req.Method, req.URL, err)
	}
	p := &Page{Status: resp.StatusCode, URL: resp.Request.URL, Body: string(body)}
	if resp.StatusCode/100 == 3 {
		loc, err := resp.Location()
		if err != nil {
			return nil, fmt.Errorf("%s %s: redirect without a location", req.Method, req.URL)
		}
		p.Redirect = loc
	}
	return p, nil
}

var (
	formPattern  = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputPattern = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	attrPattern  = regexp.MustCompile(`(?is)([a-z_:-]+)\s*=\s*"([^"]*)"`)
)

// Form returns the first form of the page, with its action resolved
// against the page's URL and the values of its named inputs.
func (p *Page) Form() (*Form, error) {
	m := formPattern.FindStringSubmatch(p.Body)
	if m == nil {
		return nil, fmt.Errorf("no form on the page (%d at %s): %.300s", p.Status, p.URL, p.Body)
	}
	attrs := attributes(m[1])
	action, err := p.URL.Parse(attrs["action"])
	if err != nil {
		return nil, fmt.Errorf("form action %q: %w", attrs["action"], err)
	}
	f := &Form{Action: action.String(), Values: url.Values{}}
	for _, in := range inputPattern.FindAllStringSubmatch(m[2], -1) {
		a := attributes(in[1])
		if name := a["name"]; name != "" {
			f.Values.Set(name, a["value"])
		}
	}
	return f, nil
}

func attributes(s string) map[string]string {
	out := map[string]string{}
	for _, m := range attrPattern.FindAllStringSubmatch(s, -1) {
		out[strings.ToLower(m[1])] = html.UnescapeString(m[2])
	}
	return out
}
