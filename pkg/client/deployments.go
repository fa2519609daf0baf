package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	postgrest "github.com/supabase-community/postgrest-go"
)

// Deployment is a deployment of a release or build to an environment.
type Deployment struct {
	ID            string          `json:"id"`
	AccountID     string          `json:"account_id"`
	ProjectID     string          `json:"project_id"`
	EnvironmentID string          `json:"environment_id"`
	ReleaseID     string          `json:"release_id,omitempty"`
	BuildID       string          `json:"build_id,omitempty"`
	Status        string          `json:"status"`
	Progress      int             `json:"progress"`
	Message       string          `json:"message,omitempty"`
	Details       json.RawMessage `json:"details"`
	StartedAt     *time.Time      `json:"started_at,omitempty"`
	FinishedAt    *time.Time      `json:"finished_at,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	CreatedBy     string          `json:"created_by,omitempty"`
}

// NewDeployment is the input of Deployments.Create.
type NewDeployment struct {
	EnvironmentID string
	ReleaseID     string // optional, same project
	BuildID       string // optional, same project
	Message       string
	Details       json.RawMessage
}

// DeploymentListOptions filter and page a deployment list.
type DeploymentListOptions struct {
	ListOptions
	AccountID     string
	ProjectID     string
	EnvironmentID string
	Status        string
}

// Progress is a progress report on a deployment or task: the fields set
// are changed, the others left alone.
type Progress struct {
	// Status moves the row through queued -> running -> succeeded | failed
	// | cancelled; other transitions are ErrValidation.
	Status   string
	Progress *int // 0-100
	Message  *string
	// Details replaces a deployment's details (JSON object).
	Details json.RawMessage
}

// set sets the row's columns the report changes.
func (p Progress) set(row map[string]any) error {
	if err := setStatus(row, p.Status); err != nil {
		return err
	}
	if p.Progress != nil {
		if *p.Progress < 0 || *p.Progress > 100 {
			return fmt.Errorf("progress %d is outside 0..100: %w", *p.Progress, ErrValidation)
		}
		row["progress"] = *p.Progress
	}
	setClearable(row, "message", p.Message)
	return nil
}

// DeploymentsService creates and follows deployments (table deployments).
// Workers with the service_role key report progress with Report, Start,
// Advance, Succeed and Fail.
type DeploymentsService struct{ c *Client }

// Create creates a queued deployment to an environment.
func (s *DeploymentsService) Create(ctx context.Context, in NewDeployment) (*Deployment, error) {
	return createRow[Deployment](ctx, s.c, "create deployment", "deployments", RoleMember, func() (map[string]any, error) {
		env, err := s.c.Environments.Get(ctx, in.EnvironmentID)
		if err != nil {
			return nil, err
		}
		row := map[string]any{"account_id": env.AccountID, "project_id": env.ProjectID, "environment_id": env.ID}
		err = setUUID(row, "release_id", in.ReleaseID)
		if err == nil {
			err = setUUID(row, "build_id", in.BuildID)
		}
		if err != nil {
			return nil, err
		}
		setText(row, "message", in.Message)
		return row, setObject(row, "details", in.Details)
	})
}

// Get returns a deployment by id.
func (s *DeploymentsService) Get(ctx context.Context, id string) (*Deployment, error) {
	return getRow[Deployment](ctx, s.c, "deployment", "deployments", id)
}

// List returns a page of deployments, newest first.
func (s *DeploymentsService) List(ctx context.Context, opts DeploymentListOptions) (*Page[Deployment], error) {
	return listRows(ctx, s.c, "list deployments", "deployments", &opts.ListOptions, func(fb *postgrest.FilterBuilder) (*postgrest.FilterBuilder, error) {
		fb, err := scope(fb, opts.AccountID, opts.ProjectID, opts.Status)
		if err != nil {
			return nil, err
		}
		return filterUUID(fb, "environment_id", opts.EnvironmentID)
	}, func(d *Deployment) (time.Time, string) { return d.CreatedAt, d.ID })
}

// Report records progress on a deployment (PATCH deployments) and returns
// the updated row.
func (s *DeploymentsService) Report(ctx context.Context, id string, p Progress) (*Deployment, error) {
	return updateRow[Deployment](ctx, s.c, "report deployment progress", "deployments", "deployment", id, RoleMember, func(row map[string]any) error {
		if err := p.set(row); err != nil {
			return err
		}
		if err := setObject(row, "details", p.Details); err != nil {
			return err
		}
		if len(row) == 0 {
			return fmt.Errorf("nothing to report: %w", ErrValidation)
		}
		return nil
	})
}

// Start moves a queued deployment to running.
func (s *DeploymentsService) Start(ctx context.Context, id, message string) (*Deployment, error) {
	return s.Report(ctx, id, Progress{Status: StatusRunning, Message: optString(message)})
}

// Advance sets a running deployment's progress and message.
func (s *DeploymentsService) Advance(ctx context.Context, id string, progress int, message string) (*Deployment, error) {
	return s.Report(ctx, id, Progress{Progress: &progress, Message: optString(message)})
}

// Succeed finishes a running deployment successfully (progress becomes
// 100).
func (s *DeploymentsService) Succeed(ctx context.Context, id, message string) (*Deployment, error) {
	return s.Report(ctx, id, Progress{Status: StatusSucceeded, Message: optString(message)})
}

// Fail finishes a running deployment as failed.
func (s *DeploymentsService) Fail(ctx context.Context, id, message string) (*Deployment, error) {
	return s.Report(ctx, id, Progress{Status: StatusFailed, Message: optString(message)})
}

// Cancel cancels a queued or running deployment.
func (s *DeploymentsService) Cancel(ctx context.Context, id, message string) (*Deployment, error) {
	return s.Report(ctx, id, Progress{Status: StatusCancelled, Message: optString(message)})
}

func optString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
