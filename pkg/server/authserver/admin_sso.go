package authserver

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	"github.com/jackc/pgx/v5"
)

// The admin API of SSO providers, /admin/sso/providers, as GoTrue's: list,
// create from metadata_xml or metadata_url, and get, update, delete one by
// id (or by "resource_<resource id>").

// adminSSO routes /admin/sso/providers[/{id}]; rest is the path after
// "providers".
func (s *Server) adminSSO(w http.ResponseWriter, r *http.Request, rest []string) error {
	notAllowed := func(allowed string) error {
		w.Header().Set("Allow", allowed)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return nil
	}
	if len(rest) == 0 {
		switch r.Method {
		case http.MethodGet:
			return s.adminListSSOProviders(w, r)
		case http.MethodPost:
			return s.adminCreateSSOProvider(w, r)
		}
		return notAllowed("GET, POST")
	}
	if len(rest) > 1 {
		http.Error(w, "404 page not found", http.StatusNotFound)
		return nil
	}
	p, err := s.loadSSOProviderParam(r.Context(), rest[0])
	if err != nil {
		return err
	}
	switch r.Method {
	case http.MethodGet:
		writeJSON(w, http.StatusOK, p)
		return nil
	case http.MethodPut:
		return s.adminUpdateSSOProvider(w, r, p)
	case http.MethodDelete:
		if _, err := s.pool.Exec(r.Context(), sqlDeleteSSOProvider, p.ID); err != nil {
			return internalError(err, "Database error deleting SSO provider")
		}
		writeJSON(w, http.StatusOK, p)
		return nil
	}
	return notAllowed("DELETE, GET, PUT")
}

// loadSSOProviderParam finds the provider of an {idp_id} path segment.
func (s *Server) loadSSOProviderParam(ctx context.Context, param string) (*SSOProvider, error) {
	missing := notFound(CodeSSOProviderNotFound, "SSO Identity Provider not found")
	var (
		p   *SSOProvider
		err error
	)
	if rid, ok := strings.CutPrefix(param, "resource_"); ok {
		p, err = ssoProvider(ctx, s.pool, sqlSSOProviderByResource, rid)
	} else {
		if !isUUID(param) {
			return nil, missing
		}
		p, err = ssoProvider(ctx, s.pool, sqlSSOProviderByID, strings.ToLower(param))
	}
	if errors.Is(err, errNotFound) {
		return nil, missing
	}
	if err != nil {
		return nil, internalError(err, "Database error finding SSO Identity Provider")
	}
	return p, nil
}

func (s *Server) adminListSSOProviders(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	list, err := listSSOProviders(r.Context(), s.pool, q.Get("resource_id"), q.Get("resource_id_prefix"))
	if err != nil {
		return internalError(err, "Database error loading SSO providers")
	}
	for _, p := range list {
		p.SAML.MetadataXML = "" // keeps the list small, as GoTrue does
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": list})
	return nil
}

// ssoProviderParams is the body of POST and PUT /admin/sso/providers.
type ssoProviderParams struct {
	Type             string               `json:"type"`
	MetadataURL      string               `json:"metadata_url"`
	MetadataXML      string               `json:"metadata_xml"`
	Domains          []string             `json:"domains"`
	AttributeMapping SAMLAttributeMapping `json:"attribute_mapping"`
	NameIDFormat     string               `json:"name_id_format"`
	ResourceID       *string              `json:"resource_id,omitempty"`
	Disabled         *bool                `json:"disabled,omitempty"`
}

var samlNameIDFormats = []string{
	string(saml.PersistentNameIDFormat), string(saml.EmailAddressNameIDFormat),
	string(saml.TransientNameIDFormat), string(saml.UnspecifiedNameIDFormat),
}

func (p *ssoProviderParams) validate(update bool) error {
	switch {
	case !update && p.Type != "saml":
		return badRequest(CodeValidationFailed, "Only 'saml' supported for SSO provider type")
	case p.MetadataURL != "" && p.MetadataXML != "":
		return badRequest(CodeValidationFailed, "Only one of metadata_xml or metadata_url needs to be set")
	case !update && p.MetadataURL == "" && p.MetadataXML == "":
		return badRequest(CodeValidationFailed, "Either metadata_xml or metadata_url must be set")
	}
	if p.MetadataURL != "" {
		if err := validateMetadataURL(p.MetadataURL); err != nil {
			return err
		}
	}
	if p.NameIDFormat != "" && !slices.Contains(samlNameIDFormats, p.NameIDFormat) {
		return badRequest(CodeValidationFailed, "name_id_format must be unspecified or one of %s", strings.Join(samlNameIDFormats, ", "))
	}
	for _, d := range p.Domains {
		if strings.TrimSpace(d) == "" {
			return badRequest(CodeValidationFailed, "domains must not contain an empty domain")
		}
	}
	return nil
}

// metadata returns the raw and parsed metadata the params give, fetching
// metadata_url if that is what they give.
func (s *Server) paramsMetadata(ctx context.Context, p *ssoProviderParams) (string, *saml.EntityDescriptor, error) {
	raw := []byte(p.MetadataXML)
	if p.MetadataURL != "" {
		var err error
		if raw, err = s.fetchSAMLMetadata(ctx, p.MetadataURL); err != nil {
			return "", nil, err
		}
	}
	md, err := parseSAMLMetadata(raw)
	if err != nil {
		return "", nil, err
	}
	return string(raw), md, nil
}

// parseSAMLMetadata checks IdP metadata as GoTrue does: UTF-8, parseable,
// an entity ID and exactly one IDPSSODescriptor. Unparseable XML is a 400
// here (GoTrue answers 500).
func parseSAMLMetadata(raw []byte) (*saml.EntityDescriptor, error) {
	if !utf8.Valid(raw) {
		return nil, badRequest(CodeValidationFailed, "SAML Metadata XML contains invalid UTF-8 characters, which are not supported at this time")
	}
	md, err := samlsp.ParseMetadata(raw)
	if err != nil {
		return nil, badRequest(CodeValidationFailed, "SAML Metadata XML is not valid: %v", err).withCause(err)
	}
	switch {
	case md.EntityID == "":
		return nil, badRequest(CodeValidationFailed, "SAML Metadata does not contain an EntityID")
	case len(md.IDPSSODescriptors) < 1:
		return nil, badRequest(CodeValidationFailed, "SAML Metadata does not contain any IDPSSODescriptor")
	case len(md.IDPSSODescriptors) > 1:
		return nil, badRequest(CodeValidationFailed, "SAML Metadata contains multiple IDPSSODescriptors")
	}
	return md, nil
}

// domainOwner returns the provider id holding domain, or "".
func ssoDomainOwner(ctx context.Context, q querier, domain string) (string, error) {
	return queryOptionalString(ctx, q, "find sso domain", sqlDomainOwner, domain)
}

// uniqueDomains drops repeats (case-insensitively) from a request's list.
func ssoUniqueDomains(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, d := range in {
		d = strings.TrimSpace(d)
		if k := strings.ToLower(d); !seen[k] {
			seen[k] = true
			out = append(out, d)
		}
	}
	return out
}

// readSSOProviderParams reads and validates the body of a create
// (update false) or an update of an SSO provider.
func readSSOProviderParams(r *http.Request, update bool) (*ssoProviderParams, error) {
	var p ssoProviderParams
	if err := readJSON(r, &p); err != nil {
		return nil, err
	}
	if err := p.validate(update); err != nil {
		return nil, err
	}
	return &p, nil
}

func (s *Server) adminCreateSSOProvider(w http.ResponseWriter, r *http.Request) error {
	p, err := readSSOProviderParams(r, false)
	if err != nil {
		return err
	}
	ctx := r.Context()
	raw, md, err := s.paramsMetadata(ctx, p)
	if err != nil {
		return err
	}
	if _, err := ssoProvider(ctx, s.pool, sqlSSOProviderByEntityID, md.EntityID); err == nil {
		return unprocessable(CodeSAMLIdPAlreadyExists, "SAML Identity Provider with this EntityID (%s) already exists", md.EntityID)
	} else if !errors.Is(err, errNotFound) {
		return internalError(err, "Database error finding SAML provider")
	}
	domains := ssoUniqueDomains(p.Domains)
	for _, d := range domains {
		owner, err := ssoDomainOwner(ctx, s.pool, d)
		if err != nil {
			return internalError(err, "Database error finding SSO domain")
		}
		if owner != "" {
			return badRequest(CodeSSODomainAlreadyExists, "SSO Domain '%s' is already assigned to an SSO identity provider (%s)", d, owner)
		}
	}
	mapping, err := mappingParam(p.AttributeMapping)
	if err != nil {
		return err
	}
	var metadataURL, nameIDFormat *string
	if p.MetadataURL != "" {
		metadataURL = &p.MetadataURL
	}
	if p.NameIDFormat != "" {
		nameIDFormat = &p.NameIDFormat
	}
	id, now := newUUID(), s.now()
	return s.saveSSOProvider(ctx, w, http.StatusCreated, id, "creating", func(b *pgx.Batch) {
		b.Queue(sqlInsertSSOProvider, id, p.ResourceID, p.Disabled, now)
		b.Queue(sqlInsertSAMLProvider, newUUID(), id, md.EntityID, raw, metadataURL, mapping, nameIDFormat, now)
		for _, d := range domains {
			b.Queue(sqlInsertSSODomain, newUUID(), id, d, now)
		}
	})
}

// saveSSOProvider sends the writes queue adds to a batch in one
// transaction, reads provider id back as saved and answers it with
// status: the end of a create and of an update. doing names the change
// in the error ("creating", "updating").
func (s *Server) saveSSOProvider(ctx context.Context, w http.ResponseWriter, status int, id, doing string, queue func(b *pgx.Batch)) error {
	var saved *SSOProvider
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		queue(b)
		if err := sendBatch(ctx, tx, b); err != nil {
			return ssoConflictOr(err, "Database error "+doing+" SSO provider")
		}
		var err error
		saved, err = ssoProvider(ctx, tx, sqlSSOProviderByID, id)
		if err != nil {
			return internalError(err, "Database error loading SSO provider")
		}
		return nil
	})
	if err != nil {
		return err
	}
	writeJSON(w, status, saved)
	return nil
}

// conflictOr turns a unique violation (another admin's concurrent change)
// into GoTrue's 422 conflict, anything else into a 500.
func ssoConflictOr(err error, msg string) error {
	if ssoUniqueViolation(err) {
		return unprocessable(CodeConflict, "Updating SSO provider failed, likely due to a conflict. Try again?").withCause(err)
	}
	return internalError(err, "%s", msg)
}
