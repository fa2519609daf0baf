package authserver

import (
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5"
)

// adminUpdateSSOProvider is PUT /admin/sso/providers/{id}: what the body
// names changes, as in GoTrue — new metadata (same entity ID only), the
// domains when "domains" is present (an empty list removes all), the
// attribute mapping when it has keys, name_id_format (absent clears it, as
// in GoTrue), resource_id ("" clears it) and disabled.
func (s *Server) adminUpdateSSOProvider(w http.ResponseWriter, r *http.Request, p *SSOProvider) error {
	in, err := readSSOProviderParams(r, true)
	if err != nil {
		return err
	}
	ctx := r.Context()
	if in.MetadataXML != "" || in.MetadataURL != "" {
		raw, md, err := s.paramsMetadata(ctx, in)
		if err != nil {
			return err
		}
		if md.EntityID != p.SAML.EntityID {
			return badRequest(CodeSAMLEntityIDMismatch, "SAML Metadata can be updated only if the EntityID matches for the provider; expected '%s' but got '%s'", p.SAML.EntityID, md.EntityID)
		}
		if in.MetadataURL != "" {
			p.SAML.MetadataURL = &in.MetadataURL
		}
		p.SAML.MetadataXML = raw
	}
	var add, remove []string
	if in.Domains != nil {
		keep := map[string]bool{}
		for _, d := range ssoUniqueDomains(in.Domains) {
			owner, err := ssoDomainOwner(ctx, s.pool, d)
			if err != nil {
				return internalError(err, "Database error finding SSO domain")
			}
			switch owner {
			case p.ID:
				keep[strings.ToLower(d)] = true
			case "":
				add = append(add, d)
			default:
				return badRequest(CodeSSODomainAlreadyExists, "SSO domain '%s' already assigned to another provider (%s)", d, owner)
			}
		}
		for _, d := range p.Domains {
			if !keep[strings.ToLower(d.Domain)] {
				remove = append(remove, d.Domain)
			}
		}
	}
	if in.AttributeMapping.Keys != nil {
		p.SAML.AttributeMapping = in.AttributeMapping
	}
	p.SAML.NameIDFormat = nil
	if in.NameIDFormat != "" {
		p.SAML.NameIDFormat = &in.NameIDFormat
	}
	if in.ResourceID != nil {
		p.ResourceID = in.ResourceID
		if *in.ResourceID == "" {
			p.ResourceID = nil
		}
	}
	if in.Disabled != nil {
		p.Disabled = in.Disabled
	}
	mapping, err := mappingParam(p.SAML.AttributeMapping)
	if err != nil {
		return err
	}
	now := s.now()
	return s.saveSSOProvider(ctx, w, http.StatusOK, p.ID, "updating", func(b *pgx.Batch) {
		b.Queue(sqlUpdateSSOProvider, p.ID, p.ResourceID, p.Disabled, now)
		b.Queue(sqlUpdateSAMLProvider, p.samlID, p.SAML.MetadataXML, p.SAML.MetadataURL, mapping, p.SAML.NameIDFormat, now)
		for _, d := range remove {
			b.Queue(sqlDeleteSSODomain, p.ID, d)
		}
		for _, d := range add {
			b.Queue(sqlInsertSSODomain, newUUID(), p.ID, d, now)
		}
	})
}
