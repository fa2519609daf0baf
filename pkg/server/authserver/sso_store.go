package authserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/jackc/pgx/v5"
)

// SSOProvider is an SSO identity provider as GoTrue's admin API answers it:
// auth.sso_providers with its saml_providers row and sso_domains.
type SSOProvider struct {
	ID         string  `json:"id"`
	ResourceID *string `json:"resource_id,omitempty"`
	// Disabled is JSON null unless set, as GoTrue keeps it.
	Disabled  *bool        `json:"disabled"`
	SAML      SAMLProvider `json:"saml"`
	Domains   []SSODomain  `json:"domains"`
	CreatedAt time.Time    `json:"created_at"`
	UpdatedAt time.Time    `json:"updated_at"`

	samlID        string
	samlUpdatedAt time.Time
}

// SAMLProvider is the SAML connection of an SSO provider.
type SAMLProvider struct {
	EntityID         string               `json:"entity_id"`
	MetadataXML      string               `json:"metadata_xml,omitempty"`
	MetadataURL      *string              `json:"metadata_url,omitempty"`
	AttributeMapping SAMLAttributeMapping `json:"attribute_mapping"`
	NameIDFormat     *string              `json:"name_id_format,omitempty"`
}

// SAMLAttributeMapping maps assertion attributes to user metadata keys
// (GoTrue's attribute_mapping).
type SAMLAttributeMapping struct {
	Keys map[string]SAMLAttribute `json:"keys,omitempty"`
}

// SAMLAttribute says where one user metadata key comes from: the first of
// Name and Names (attribute Name or FriendlyName, case-insensitive) that the
// assertion has, all its values when Array, else Default.
type SAMLAttribute struct {
	Name    string   `json:"name,omitempty"`
	Names   []string `json:"names,omitempty"`
	Default any      `json:"default,omitempty"`
	Array   bool     `json:"array,omitempty"`
}

// equal compares two mappings as GoTrue does before deciding to update.
func (m SAMLAttributeMapping) equal(o SAMLAttributeMapping) bool {
	if len(m.Keys) != len(o.Keys) {
		return false
	}
	for k, a := range m.Keys {
		b, ok := o.Keys[k]
		if !ok || a.Name != b.Name || a.Array != b.Array || !reflect.DeepEqual(a.Names, b.Names) || !reflect.DeepEqual(a.Default, b.Default) {
			return false
		}
	}
	return true
}

// SSODomain is an email domain whose users sign in through the provider.
type SSODomain struct {
	Domain string `json:"domain"`
}

func (p *SSOProvider) enabled() bool { return p.Disabled == nil || !*p.Disabled }

const ssoProviderColumns = `p.id::text, p.resource_id, p.disabled, p.created_at, p.updated_at,
	sp.id::text, sp.entity_id, sp.metadata_xml, sp.metadata_url, sp.attribute_mapping, sp.name_id_format,
	sp.updated_at,
	(select coalesce(json_agg(d.domain order by d.created_at, d.domain), '[]')
	 from auth.sso_domains d where d.sso_provider_id = p.id)
	from auth.sso_providers p join auth.saml_providers sp on sp.sso_provider_id = p.id`

const (
	sqlSSOProviderByID       = `select ` + ssoProviderColumns + ` where p.id = $1`
	sqlSSOProviderByResource = `select ` + ssoProviderColumns + ` where p.resource_id = $1`
	sqlSSOProviderByEntityID = `select ` + ssoProviderColumns + ` where sp.entity_id = $1`
	// Domains are unique case-insensitively (sso_domains_domain_idx); GoTrue
	// compares them exactly, which misses "Acme.com" for "acme.com".
	sqlSSOProviderByDomain = `select ` + ssoProviderColumns + `
	where p.id = (select d.sso_provider_id from auth.sso_domains d where lower(d.domain) = lower($1) limit 1)`
	sqlSSOProviders = `select ` + ssoProviderColumns + `
	where ($1 = '' or p.resource_id = $1) and ($2 = '' or p.resource_id like $2 || '%')
	order by p.created_at, p.id`

	sqlInsertSSOProvider = `insert into auth.sso_providers (id, resource_id, disabled, created_at, updated_at)
	values ($1, $2, $3, $4, $4)`
	sqlInsertSAMLProvider = `insert into auth.saml_providers (id, sso_provider_id, entity_id, metadata_xml,
		metadata_url, attribute_mapping, name_id_format, created_at, updated_at)
	values ($1, $2, $3, $4, $5, $6, $7, $8, $8)`
	sqlInsertSSODomain = `insert into auth.sso_domains (id, sso_provider_id, domain, created_at, updated_at)
	values ($1, $2, $3, $4, $4)`
	sqlUpdateSSOProvider = `update auth.sso_providers set resource_id = $2, disabled = $3, updated_at = $4
	where id = $1`
	sqlUpdateSAMLProvider = `update auth.saml_providers set metadata_xml = $2, metadata_url = $3,
		attribute_mapping = $4, name_id_format = $5, updated_at = $6
	where id = $1`
	sqlUpdateSAMLMetadata = `update auth.saml_providers set metadata_xml = $2, updated_at = $3 where id = $1`
	sqlDeleteSSODomain    = `delete from auth.sso_domains where sso_provider_id = $1 and domain = $2`
	sqlDeleteSSOProvider  = `delete from auth.sso_providers where id = $1`
	// sqlDomainOwner finds the provider a domain belongs to.
	sqlDomainOwner = `select sso_provider_id::text from auth.sso_domains where lower(domain) = lower($1) limit 1`
)

func scanSSOProvider(row pgx.Row) (*SSOProvider, error) {
	var (
		p       SSOProvider
		mapping []byte
		domains []byte
	)
	err := row.Scan(&p.ID, &p.ResourceID, &p.Disabled, &p.CreatedAt, &p.UpdatedAt,
		&p.samlID, &p.SAML.EntityID, &p.SAML.MetadataXML, &p.SAML.MetadataURL, &mapping, &p.SAML.NameIDFormat,
		&p.samlUpdatedAt, &domains)
	if err != nil {
		return nil, err
	}
	p.CreatedAt, p.UpdatedAt, p.samlUpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC(), p.samlUpdatedAt.UTC()
	if len(mapping) > 0 && string(mapping) != "null" {
		if err := json.Unmarshal(mapping, &p.SAML.AttributeMapping); err != nil {
			return nil, fmt.Errorf("sso provider %s attribute_mapping: %w", p.ID, err)
		}
	}
	var names []string
	if err := json.Unmarshal(domains, &names); err != nil {
		return nil, fmt.Errorf("sso provider %s domains: %w", p.ID, err)
	}
	p.Domains = make([]SSODomain, 0, len(names))
	for _, n := range names {
		p.Domains = append(p.Domains, SSODomain{Domain: n})
	}
	return &p, nil
}

// ssoProvider loads one provider by the query and its argument; errNotFound
// when there is none.
func ssoProvider(ctx context.Context, q querier, sql string, arg any) (*SSOProvider, error) {
	p, err := scanSSOProvider(q.QueryRow(ctx, sql, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("load sso provider: %w", err)
	}
	return p, nil
}

func listSSOProviders(ctx context.Context, q querier, resourceID, resourcePrefix string) ([]*SSOProvider, error) {
	rows, err := q.Query(ctx, sqlSSOProviders, resourceID, resourcePrefix)
	if err != nil {
		return nil, fmt.Errorf("list sso providers: %w", err)
	}
	defer rows.Close()
	out := []*SSOProvider{}
	for rows.Next() {
		p, err := scanSSOProvider(rows)
		if err != nil {
			return nil, fmt.Errorf("list sso providers: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// mappingParam is attribute_mapping as GoTrue stores it: the JSON of the
// mapping, {} when it has no keys.
func mappingParam(m SAMLAttributeMapping) (string, error) {
	raw, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode attribute mapping: %w", err)
	}
	return string(raw), nil
}
