package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	postgrest "github.com/supabase-community/postgrest-go"
)

// Statuses of builds, deployments and tasks. Queued and running are open;
// succeeded, failed and cancelled are final.
const (
	StatusQueued    = "queued"
	StatusRunning   = "running"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusCancelled = "cancelled"
)

// IsFinal reports whether a status is final.
func IsFinal(status string) bool {
	return status == StatusSucceeded || status == StatusFailed || status == StatusCancelled
}

func validStatus(s string) error {
	switch s {
	case StatusQueued, StatusRunning, StatusSucceeded, StatusFailed, StatusCancelled:
		return nil
	}
	return fmt.Errorf("status %q is not queued, running, succeeded, failed or cancelled: %w", s, ErrValidation)
}

// Build is a CI build of a project.
type Build struct {
	ID          string          `json:"id"`
	AccountID   string          `json:"account_id"`
	ProjectID   string          `json:"project_id"`
	BuildNumber string          `json:"build_number"`
	Status      string          `json:"status"`
	Branch      string          `json:"branch,omitempty"`
	CommitSHA   string          `json:"commit_sha,omitempty"`
	Version     string          `json:"version,omitempty"`
	URL         string          `json:"url,omitempty"`
	Metadata    json.RawMessage `json:"metadata"`
	StartedAt   *time.Time      `json:"started_at,omitempty"`
	FinishedAt  *time.Time      `json:"finished_at,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	CreatedBy   string          `json:"created_by,omitempty"`
}

// NewBuild is the input of Builds.Create.
type NewBuild struct {
	ProjectID   string
	BuildNumber string
	// Status: default queued; builds may be recorded in any status.
	Status                     string
	Branch, CommitSHA, Version string
	URL                        string
	Metadata                   json.RawMessage
	StartedAt, FinishedAt      *time.Time
}

// BuildUpdate changes a build; nil fields are left alone.
type BuildUpdate struct {
	Status                *string
	Version, URL          *string
	Metadata              json.RawMessage
	StartedAt, FinishedAt *time.Time
}

// BuildListOptions filter and page a build list.
type BuildListOptions struct {
	ListOptions
	AccountID string
	ProjectID string
	Status    string
}

// BuildsService records and reads builds (table builds).
type BuildsService struct{ c *Client }

// Create records a build.
func (s *BuildsService) Create(ctx context.Context, in NewBuild) (*Build, error) {
	return createProjectRow[Build](ctx, s.c, "create build", "builds", in.ProjectID, func(row map[string]any) error {
		row["build_number"] = in.BuildNumber
		if err := setStatus(row, in.Status); err != nil {
			return err
		}
		for k, v := range map[string]string{"branch": in.Branch, "commit_sha": in.CommitSHA, "version": in.Version, "url": in.URL} {
			if v != "" {
				row[k] = v
			}
		}
		setField(row, "started_at", in.StartedAt)
		setField(row, "finished_at", in.FinishedAt)
		return setObject(row, "metadata", in.Metadata)
	})
}

// Get returns a build by id.
func (s *BuildsService) Get(ctx context.Context, id string) (*Build, error) {
	return getRow[Build](ctx, s.c, "build", "builds", id)
}

// scope adds the account, project and status filters lists share.
func scope(fb *postgrest.FilterBuilder, account, project, status string) (*postgrest.FilterBuilder, error) {
	fb, err := filterUUID(fb, "account_id", account)
	if err == nil {
		fb, err = filterUUID(fb, "project_id", project)
	}
	if err != nil || status == "" {
		return fb, err
	}
	if err := validStatus(status); err != nil {
		return nil, err
	}
	return fb.Eq("status", status), nil
}

// List returns a page of builds, newest first.
func (s *BuildsService) List(ctx context.Context, opts BuildListOptions) (*Page[Build], error) {
	return listRows(ctx, s.c, "list builds", "builds", &opts.ListOptions, func(fb *postgrest.FilterBuilder) (*postgrest.FilterBuilder, error) {
		return scope(fb, opts.AccountID, opts.ProjectID, opts.Status)
	}, func(b *Build) (time.Time, string) { return b.CreatedAt, b.ID })
}

// Update changes a build (members, owners, service_role).
func (s *BuildsService) Update(ctx context.Context, id string, u BuildUpdate) (*Build, error) {
	return updateRow[Build](ctx, s.c, "update build", "builds", "build", id, RoleMember, func(row map[string]any) error {
		if u.Status != nil {
			if err := validStatus(*u.Status); err != nil {
				return err
			}
			row["status"] = *u.Status
		}
		setClearable(row, "version", u.Version)
		setClearable(row, "url", u.URL)
		setField(row, "started_at", u.StartedAt)
		setField(row, "finished_at", u.FinishedAt)
		return setObject(row, "metadata", u.Metadata)
	})
}
