package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	postgrest "github.com/supabase-community/postgrest-go"
)

// Integration is a connection to an external service for the whole
// account or listed projects. It holds no secret; credentials are stored
// encrypted and read with Credentials.
type Integration struct {
	ID                   string          `json:"id"`
	AccountID            string          `json:"account_id"`
	Name                 string          `json:"name"`
	Provider             string          `json:"provider"`
	AuthType             string          `json:"auth_type"`
	Scope                string          `json:"scope"`
	ProjectIDs           []string        `json:"project_ids"`
	Status               string          `json:"status"`
	Metadata             json.RawMessage `json:"metadata"`
	CredentialsUpdatedAt *time.Time      `json:"credentials_updated_at,omitempty"`
	CreatedAt            time.Time       `json:"created_at"`
	UpdatedAt            time.Time       `json:"updated_at"`
	CreatedBy            string          `json:"created_by,omitempty"`
}

// NewIntegration is the input of Integrations.Create.
type NewIntegration struct {
	AccountID string
	Name      string
	Provider  string // e.g. github, azure_devops, salesforce
	AuthType  string // e.g. token, oauth, github_app
	// ProjectIDs limits the integration to these projects (scope
	// "projects"); empty means the whole account.
	ProjectIDs []string
	Metadata   json.RawMessage
}

// IntegrationUpdate changes an integration; nil fields are left alone.
type IntegrationUpdate struct {
	Name       *string
	AuthType   *string
	Status     *string // active, disabled or error
	ProjectIDs *[]string
	Metadata   json.RawMessage
}

// IntegrationListOptions filter and page an integration list.
type IntegrationListOptions struct {
	ListOptions
	AccountID string
	Provider  string
}

// CredentialAccess is an entry of the credential audit log.
type CredentialAccess struct {
	ID            int64     `json:"id"`
	AccountID     string    `json:"account_id"`
	IntegrationID string    `json:"integration_id"`
	Actor         string    `json:"actor,omitempty"`
	ActorRole     string    `json:"actor_role"`
	Action        string    `json:"action"`
	CreatedAt     time.Time `json:"created_at"`
}

// IntegrationsService manages integrations (owners write, members read)
// and their encrypted credentials (owners and service_role only, RPCs
// set_integration_credentials, get_integration_credentials,
// delete_integration_credentials; every access is logged).
type IntegrationsService struct{ c *Client }

func integrationScope(row map[string]any, ids []string) error {
	for _, id := range ids {
		if err := validUUID("project id", id); err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		row["scope"], row["project_ids"] = "account", []string{}
	} else {
		row["scope"], row["project_ids"] = "projects", ids
	}
	return nil
}

// Create creates an integration (owners).
func (s *IntegrationsService) Create(ctx context.Context, in NewIntegration) (*Integration, error) {
	return createRow[Integration](ctx, s.c, "create integration", "integrations", RoleOwner, func() (map[string]any, error) {
		if err := validUUID("account id", in.AccountID); err != nil {
			return nil, err
		}
		row := map[string]any{"account_id": in.AccountID, "name": in.Name, "provider": in.Provider, "auth_type": in.AuthType}
		if err := integrationScope(row, in.ProjectIDs); err != nil {
			return nil, err
		}
		return row, setObject(row, "metadata", in.Metadata)
	})
}

// Get returns an integration by id.
func (s *IntegrationsService) Get(ctx context.Context, id string) (*Integration, error) {
	return getRow[Integration](ctx, s.c, "integration", "integrations", id)
}

// GetByName returns the account's integration with that name.
func (s *IntegrationsService) GetByName(ctx context.Context, accountID, name string) (*Integration, error) {
	return getRowBy[Integration](ctx, s.c, "integration", "integrations", "account_id", accountID, "name", name)
}

// List returns a page of integrations, newest first.
func (s *IntegrationsService) List(ctx context.Context, opts IntegrationListOptions) (*Page[Integration], error) {
	return listRows(ctx, s.c, "list integrations", "integrations", &opts.ListOptions, func(fb *postgrest.FilterBuilder) (*postgrest.FilterBuilder, error) {
		fb, err := scope(fb, opts.AccountID, "", "")
		if err == nil && opts.Provider != "" {
			fb = fb.Eq("provider", opts.Provider)
		}
		return fb, err
	}, func(i *Integration) (time.Time, string) { return i.CreatedAt, i.ID })
}

// Update changes an integration (owners).
func (s *IntegrationsService) Update(ctx context.Context, id string, u IntegrationUpdate) (*Integration, error) {
	return updateRow[Integration](ctx, s.c, "update integration", "integrations", "integration", id, RoleOwner, func(row map[string]any) error {
		setField(row, "name", u.Name)
		setField(row, "auth_type", u.AuthType)
		setField(row, "status", u.Status)
		if u.ProjectIDs != nil {
			if err := integrationScope(row, *u.ProjectIDs); err != nil {
				return err
			}
		}
		return setObject(row, "metadata", u.Metadata)
	})
}

// Delete deletes an integration and its credentials (owners).
func (s *IntegrationsService) Delete(ctx context.Context, id string) error {
	return deleteRow(ctx, s.c, "integration", "integrations", id, RoleOwner)
}

// SetCredentials encrypts and stores an integration's credentials (a JSON
// object), replacing previous ones (owners and service_role).
func (s *IntegrationsService) SetCredentials(ctx context.Context, id string, credentials json.RawMessage) error {
	if err := validUUID("integration id", id); err != nil {
		return fmt.Errorf("set credentials: %w", err)
	}
	obj, err := jsonObject("credentials", credentials)
	if err != nil || obj == nil {
		return fmt.Errorf("set credentials: credentials must be a JSON object: %w", ErrValidation)
	}
	err = s.c.do(ctx, "set credentials", false, func(cl *call) error {
		return cl.rpc("set_integration_credentials", map[string]any{"integration_id": id, "credentials": obj}, false, nil)
	})
	return s.c.explainRow(ctx, err, "integrations", id, RoleOwner)
}

// Credentials decrypts and returns an integration's credentials (owners
// and service_role; workers call it with the service key). It returns nil
// when none are set. Every read is logged.
func (s *IntegrationsService) Credentials(ctx context.Context, id string) (json.RawMessage, error) {
	if err := validUUID("integration id", id); err != nil {
		return nil, fmt.Errorf("get credentials: %w", err)
	}
	raw, err := callRPC[json.RawMessage](ctx, s.c, "get credentials", "get_integration_credentials", false, map[string]any{"integration_id": id})
	if err != nil {
		return nil, s.c.explainRow(ctx, err, "integrations", id, RoleOwner)
	}
	if string(raw) == "null" || len(raw) == 0 {
		return nil, nil
	}
	return raw, nil
}

// DeleteCredentials deletes an integration's credentials; it reports
// whether there were any (owners and service_role).
func (s *IntegrationsService) DeleteCredentials(ctx context.Context, id string) (bool, error) {
	if err := validUUID("integration id", id); err != nil {
		return false, fmt.Errorf("delete credentials: %w", err)
	}
	removed, err := callRPC[bool](ctx, s.c, "delete credentials", "delete_integration_credentials", false, map[string]any{"integration_id": id})
	return removed, s.c.explainRow(ctx, err, "integrations", id, RoleOwner)
}

// AccessLog returns the newest entries of an integration's credential
// audit log (owners and service_role), newest first; the cursor continues
// with older entries.
func (s *IntegrationsService) AccessLog(ctx context.Context, integrationID string, opts *ListOptions) (*Page[CredentialAccess], error) {
	return listSerialRows(ctx, s.c, "credential access log", "credential_access_log", "integration_id", integrationID, opts,
		false, func(a *CredentialAccess) int64 { return a.ID })
}
