package authserver

// The endpoints that need no user: health, settings, the JWKS, and the
// external-provider, verification and SSO routes this server answers as a
// GoTrue with nothing configured answers them.

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]string{
		"version":     Version,
		"name":        "GoTrue",
		"description": "GoTrue is a user registration and authentication API",
	})
	return nil
}

// handleJWKS answers the public signing keys — the current, standby and
// previous ones, so a token of any of them verifies — and never the legacy
// HS256 secret (GoTrue leaves symmetric keys out too). Clients cache it for
// ten minutes, as GoTrue tells them to.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) error {
	body := s.cfg.Keys.Load().JWKS()
	h := w.Header()
	h.Set("Cache-Control", "public, max-age=600")
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(body)
	return err
}

// externalProviders are the OAuth providers GoTrue knows, in the order of its
// settings answer; those configured (SupportedProviders) can be enabled.
var externalProviders = []string{
	"anonymous_users", "apple", "azure", "bitbucket", "discord", "facebook", "snapchat", "figma", "fly",
	"github", "gitlab", "google", "keycloak", "kakao", "linkedin", "linkedin_oidc", "notion", "spotify",
	"slack", "slack_oidc", "workos", "twitch", "twitter", "email", "phone", "zoom",
}

// oauthProviders are the names /authorize recognises (then finds disabled
// unless configured).
var oauthProviders = []string{
	"apple", "azure", "bitbucket", "discord", "facebook", "figma", "fly", "github", "gitlab", "google",
	"kakao", "keycloak", "linkedin", "linkedin_oidc", "notion", "snapchat", "spotify", "slack",
	"slack_oidc", "twitch", "twitter", "x", "vercel_marketplace", "workos", "zoom",
}

func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request) error {
	// An ordered object: GoTrue's field order, which a map would lose.
	st := s.external.Load()
	var b strings.Builder
	b.WriteString(`{"external":{`)
	for i, p := range externalProviders {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`"` + p + `":`)
		_, enabled := st.enabledProvider(p)
		b.WriteString(boolJSON(p == "email" || enabled))
	}
	b.WriteString(`},"disable_signup":` + boolJSON(s.cfg.DisableSignup))
	b.WriteString(`,"mailer_autoconfirm":` + boolJSON(s.cfg.MailerAutoconfirm))
	b.WriteString(`,"phone_autoconfirm":false,"sms_provider":"","saml_enabled":` + boolJSON(s.cfg.SAML.Enabled) + `,` +
		`"saml_private_key_next_configured":false,"passkeys_enabled":false}`)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
	return nil
}

func boolJSON(v bool) string {
	if v {
		return "true"
	}
	return "false"
}

// handleVerify is GET|POST /verify. The embedded runtime issues no emailed
// tokens, so every well-formed request gets GoTrue's answer for an invalid or
// expired one (a redirect for GET, 403 otp_expired for POST).
func (s *Server) handleVerify(w http.ResponseWriter, r *http.Request) error {
	var p struct {
		Type       string `json:"type"`
		Token      string `json:"token"`
		TokenHash  string `json:"token_hash"`
		Email      string `json:"email"`
		Phone      string `json:"phone"`
		RedirectTo string `json:"redirect_to"`
	}
	if r.Method == http.MethodGet {
		q := r.URL.Query()
		p.Token, p.Type, p.RedirectTo = q.Get("token"), q.Get("type"), q.Get("redirect_to")
		if p.Type == "" {
			return badRequest(CodeValidationFailed, "Verify requires a verification type")
		}
		if p.Token == "" {
			return badRequest(CodeValidationFailed, "Verify requires a token or a token hash")
		}
		e := forbidden(CodeOTPExpired, "Email link is invalid or has expired")
		target, err := url.Parse(s.redirectTarget(p.RedirectTo))
		if err != nil {
			return e
		}
		fragment := url.Values{}
		fragment.Set("error", "access_denied")
		fragment.Set("error_code", e.Code)
		fragment.Set("error_description", e.Message)
		fragment.Set("sb", "")
		target.Fragment = ""
		http.Redirect(w, r, target.String()+"#"+fragment.Encode(), http.StatusSeeOther)
		return nil
	}
	if err := readJSON(r, &p); err != nil {
		return err
	}
	if p.Type == "" {
		return badRequest(CodeValidationFailed, "Verify requires a verification type")
	}
	if (p.Token == "") == (p.TokenHash == "") {
		return badRequest(CodeValidationFailed, "Verify requires either a token or a token hash")
	}
	if p.TokenHash != "" {
		if p.Email != "" || p.Phone != "" || p.RedirectTo != "" {
			return badRequest(CodeValidationFailed, "Only the token_hash and type should be provided")
		}
		return forbidden(CodeOTPExpired, "Email link is invalid or has expired")
	}
	switch {
	case p.Type == "sms" || p.Type == "phone_change":
		return badRequest(CodeValidationFailed, "Invalid phone number format (E.164 required)")
	case p.Email != "":
		if _, err := validateEmail(p.Email); err != nil {
			return unprocessable(CodeValidationFailed, "Invalid email format")
		}
		return forbidden(CodeOTPExpired, "Token has expired or is invalid")
	default:
		return badRequest(CodeValidationFailed, "Only an email address or phone number should be provided on verify")
	}
}

// redirectTarget is redirect_to when GoTrue would allow it (the site URL,
// loopback, the URI allow list: redirectAllowed), else the site URL.
func (s *Server) redirectTarget(redirectTo string) string {
	if s.redirectAllowed(s.external.Load(), redirectTo) {
		return redirectTo
	}
	return s.cfg.SiteURL
}

func (s *Server) samlDisabled(w http.ResponseWriter, r *http.Request) error {
	return notFound(CodeSAMLProviderDisabled, "SAML 2.0 is disabled")
}

// mailDisabled answers the routes that exist only to send mail or SMS
// (recover, magic link, OTP, resend, invite, reauthenticate, generate_link).
func (s *Server) mailDisabled(w http.ResponseWriter, r *http.Request) error {
	return notFound(CodeFeatureDisabled, "%s is not available in the embedded runtime: it sends no mail or SMS", r.URL.Path)
}
