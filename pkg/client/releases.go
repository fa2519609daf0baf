package client

import (
	"context"
	"encoding/json"
	"time"

	postgrest "github.com/supabase-community/postgrest-go"
)

// Release is a release definition: what to deploy and how.
type Release struct {
	ID          string          `json:"id"`
	AccountID   string          `json:"account_id"`
	ProjectID   string          `json:"project_id"`
	Name        string          `json:"name"`
	Description string          `json:"description,omitempty"`
	Definition  json.RawMessage `json:"definition"`
	Active      bool            `json:"active"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	CreatedBy   string          `json:"created_by,omitempty"`
}

// NewRelease is the input of Releases.Create.
type NewRelease struct {
	ProjectID   string
	Name        string
	Description string
	Definition  json.RawMessage // JSON object
	Inactive    bool
}

// ReleaseListOptions filter and page a release list.
type ReleaseListOptions struct {
	ListOptions
	AccountID string
	ProjectID string
}

// ReleasesService manages release definitions (table releases).
type ReleasesService struct{ c *Client }

// Create creates a release definition.
func (s *ReleasesService) Create(ctx context.Context, in NewRelease) (*Release, error) {
	return createProjectRow[Release](ctx, s.c, "create release", "releases", in.ProjectID, func(row map[string]any) error {
		row["name"], row["active"] = in.Name, !in.Inactive
		setText(row, "description", in.Description)
		return setObject(row, "definition", in.Definition)
	})
}

// Get returns a release definition by id.
func (s *ReleasesService) Get(ctx context.Context, id string) (*Release, error) {
	return getRow[Release](ctx, s.c, "release", "releases", id)
}

// GetByName returns the project's release definition with that name.
func (s *ReleasesService) GetByName(ctx context.Context, projectID, name string) (*Release, error) {
	return getRowBy[Release](ctx, s.c, "release", "releases", "project_id", projectID, "name", name)
}

// List returns a page of release definitions, newest first.
func (s *ReleasesService) List(ctx context.Context, opts ReleaseListOptions) (*Page[Release], error) {
	return listRows(ctx, s.c, "list releases", "releases", &opts.ListOptions, func(fb *postgrest.FilterBuilder) (*postgrest.FilterBuilder, error) {
		return scope(fb, opts.AccountID, opts.ProjectID, "")
	}, func(r *Release) (time.Time, string) { return r.CreatedAt, r.ID })
}

// Delete deletes a release definition (members and owners); deployments
// of it keep existing with no release.
func (s *ReleasesService) Delete(ctx context.Context, id string) error {
	return deleteRow(ctx, s.c, "release", "releases", id, RoleMember)
}
