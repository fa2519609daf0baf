package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"iter"
	"time"

	postgrest "github.com/supabase-community/postgrest-go"
)

// Project is a repository on GitHub or Azure DevOps with its settings.
// Version is the optimistic-concurrency version, incremented by every
// update.
type Project struct {
	ID               string          `json:"id"`
	AccountID        string          `json:"account_id"`
	Identifier       string          `json:"identifier"`
	Platform         string          `json:"platform"`
	PlatformSettings json.RawMessage `json:"platform_settings"`
	RemoteURL        string          `json:"remote_url,omitempty"`
	Settings         json.RawMessage `json:"settings"`
	Description      string          `json:"description,omitempty"`
	Version          int64           `json:"version"`
	CreatedAt        time.Time       `json:"created_at"`
	UpdatedAt        time.Time       `json:"updated_at"`
	CreatedBy        string          `json:"created_by,omitempty"`
}

// The platforms a project can be on.
const (
	PlatformGitHub      = "github"
	PlatformAzureDevOps = "azure_devops"
)

// NewProject is the input of Projects.Create.
type NewProject struct {
	AccountID  string
	Identifier string // org/repo (Azure DevOps: org/project/repo)
	// Platform: github (default) or azure_devops.
	Platform         string
	RemoteURL        string
	Description      string
	PlatformSettings json.RawMessage // JSON object
	Settings         json.RawMessage // JSON object
}

// ProjectUpdate changes a project. Nil fields are left alone. Version is
// the version the change is based on: the update fails with
// ErrVersionConflict (and the current version) when the project changed
// meanwhile. Version 0 updates whatever the current version is.
type ProjectUpdate struct {
	Version          int64
	Identifier       *string
	Platform         *string
	RemoteURL        *string // "" clears it
	Description      *string // "" clears it
	PlatformSettings json.RawMessage
	Settings         json.RawMessage
}

// ProjectsService manages projects (table projects): viewers read, members
// create and update, owners delete.
type ProjectsService struct{ c *Client }

// Create registers a project.
func (s *ProjectsService) Create(ctx context.Context, in NewProject) (*Project, error) {
	return createRow[Project](ctx, s.c, "create project", "projects", RoleMember, func() (map[string]any, error) {
		if err := validUUID("account id", in.AccountID); err != nil {
			return nil, err
		}
		row := map[string]any{"account_id": in.AccountID, "identifier": in.Identifier}
		setText(row, "platform", in.Platform)
		setText(row, "remote_url", in.RemoteURL)
		setText(row, "description", in.Description)
		return row, setObjects(row, map[string]json.RawMessage{"platform_settings": in.PlatformSettings, "settings": in.Settings})
	})
}

func first[T any](rows []T, op string) (*T, error) {
	if len(rows) == 0 {
		return nil, fmt.Errorf("%s: the server returned no row", op)
	}
	return &rows[0], nil
}

// Get returns a project by id.
func (s *ProjectsService) Get(ctx context.Context, id string) (*Project, error) {
	return getRow[Project](ctx, s.c, "project", "projects", id)
}

// GetByIdentifier returns the account's project with that identifier
// (org/repo).
func (s *ProjectsService) GetByIdentifier(ctx context.Context, accountID, identifier string) (*Project, error) {
	return getRowBy[Project](ctx, s.c, "project", "projects", "account_id", accountID, "identifier", identifier)
}

// notFoundMessage replaces PostgREST's "JSON object requested, multiple (or
// no) rows returned" with what was not found.
func notFoundMessage(err error, what string) error {
	var e *Error
	if errors.As(err, &e) && errors.Is(err, ErrNotFound) && e.Code == "PGRST116" {
		e.Message = what + " not found (or not visible to you)"
	}
	return err
}

// List returns a page of the account's projects, newest first.
func (s *ProjectsService) List(ctx context.Context, accountID string, opts *ListOptions) (*Page[Project], error) {
	if err := validUUID("account id", accountID); err != nil {
		return nil, fmt.Errorf("list projects: %w", err)
	}
	return listRows(ctx, s.c, "list projects", "projects", opts, func(fb *postgrest.FilterBuilder) (*postgrest.FilterBuilder, error) {
		return fb.Eq("account_id", accountID), nil
	}, func(p *Project) (time.Time, string) { return p.CreatedAt, p.ID })
}

// All iterates every project of the account.
func (s *ProjectsService) All(ctx context.Context, accountID string, opts *ListOptions) iter.Seq2[Project, error] {
	return all(ctx, opts, func(ctx context.Context, o *ListOptions) (*Page[Project], error) {
		return s.List(ctx, accountID, o)
	})
}

// Update changes a project (members and owners) and returns it with its
// new version.
func (s *ProjectsService) Update(ctx context.Context, id string, u ProjectUpdate) (*Project, error) {
	return updateRow[Project](ctx, s.c, "update project", "projects", "project", id, RoleMember, func(row map[string]any) error {
		setField(row, "identifier", u.Identifier)
		setField(row, "platform", u.Platform)
		setClearable(row, "remote_url", u.RemoteURL)
		setClearable(row, "description", u.Description)
		if err := setObjects(row, map[string]json.RawMessage{"platform_settings": u.PlatformSettings, "settings": u.Settings}); err != nil {
			return err
		}
		// The version goes with a change; alone it changes nothing.
		if len(row) > 0 && u.Version != 0 {
			row["version"] = u.Version
		}
		return nil
	})
}

// Delete deletes a project and everything under it (owners only).
func (s *ProjectsService) Delete(ctx context.Context, id string) error {
	return deleteRow(ctx, s.c, "project", "projects", id, RoleOwner)
}

// explainRow is explain for a row whose account the caller does not know
// yet: it reads the row's account_id first.
func (c *Client) explainRow(ctx context.Context, err error, table, id string, need Role) error {
	if !errors.Is(err, ErrForbidden) {
		return err
	}
	var rows []struct {
		AccountID string `json:"account_id"`
	}
	if c.do(context.WithoutCancel(ctx), "get account", true, func(cl *call) error {
		return cl.exec(cl.from(table).Select("account_id", "", false).Eq("id", id), &rows)
	}) == nil && len(rows) == 1 {
		return c.explain(ctx, err, rows[0].AccountID, need)
	}
	return c.explain(ctx, err, "", need)
}
