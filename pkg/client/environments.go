package client

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"math"
	"time"

	postgrest "github.com/supabase-community/postgrest-go"
)

// Environment is a deployment target of a project (an org, a sandbox).
type Environment struct {
	ID          string          `json:"id"`
	AccountID   string          `json:"account_id"`
	ProjectID   string          `json:"project_id"`
	Name        string          `json:"name"`
	Category    string          `json:"category"`
	Branch      string          `json:"branch,omitempty"`
	Active      bool            `json:"active"`
	Metadata    json.RawMessage `json:"metadata"`
	Tags        []string        `json:"tags"`
	Description string          `json:"description,omitempty"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	CreatedBy   string          `json:"created_by,omitempty"`
}

// NewEnvironment is the input of Environments.Create.
type NewEnvironment struct {
	ProjectID string
	Name      string
	// Category, e.g. development (default), test, staging, production.
	Category    string
	Branch      string
	Description string
	// Inactive creates the environment inactive (it cannot be locked).
	Inactive bool
	Metadata json.RawMessage // JSON object
	Tags     []string
}

// EnvironmentUpdate changes an environment; nil fields are left alone.
type EnvironmentUpdate struct {
	Name        *string
	Category    *string
	Branch      *string // "" clears it
	Description *string // "" clears it
	Active      *bool
	Metadata    json.RawMessage
	Tags        *[]string
}

// EnvironmentsService manages environments (viewers read, members write)
// and their lease queue (RPCs request_environment, release_environment,
// extend_environment, environment_queue).
type EnvironmentsService struct{ c *Client }

// Create creates an environment in a project.
func (s *EnvironmentsService) Create(ctx context.Context, in NewEnvironment) (*Environment, error) {
	return createProjectRow[Environment](ctx, s.c, "create environment", "environments", in.ProjectID, func(row map[string]any) error {
		row["name"], row["active"] = in.Name, !in.Inactive
		setText(row, "category", in.Category)
		setText(row, "branch", in.Branch)
		setText(row, "description", in.Description)
		if in.Tags != nil {
			row["tags"] = in.Tags
		}
		return setObject(row, "metadata", in.Metadata)
	})
}

// Get returns an environment by id.
func (s *EnvironmentsService) Get(ctx context.Context, id string) (*Environment, error) {
	return getRow[Environment](ctx, s.c, "environment", "environments", id)
}

// GetByName returns the project's environment with that name.
func (s *EnvironmentsService) GetByName(ctx context.Context, projectID, name string) (*Environment, error) {
	return getRowBy[Environment](ctx, s.c, "environment", "environments", "project_id", projectID, "name", name)
}

// List returns a page of the project's environments, newest first.
func (s *EnvironmentsService) List(ctx context.Context, projectID string, opts *ListOptions) (*Page[Environment], error) {
	if err := validUUID("project id", projectID); err != nil {
		return nil, fmt.Errorf("list environments: %w", err)
	}
	return listRows(ctx, s.c, "list environments", "environments", opts, func(fb *postgrest.FilterBuilder) (*postgrest.FilterBuilder, error) {
		return fb.Eq("project_id", projectID), nil
	}, func(e *Environment) (time.Time, string) { return e.CreatedAt, e.ID })
}

// All iterates every environment of the project.
func (s *EnvironmentsService) All(ctx context.Context, projectID string) iter.Seq2[Environment, error] {
	return all(ctx, nil, func(ctx context.Context, o *ListOptions) (*Page[Environment], error) {
		return s.List(ctx, projectID, o)
	})
}

// Update changes an environment (members and owners).
func (s *EnvironmentsService) Update(ctx context.Context, id string, u EnvironmentUpdate) (*Environment, error) {
	return updateRow[Environment](ctx, s.c, "update environment", "environments", "environment", id, RoleMember, func(row map[string]any) error {
		setField(row, "name", u.Name)
		setField(row, "category", u.Category)
		setClearable(row, "branch", u.Branch)
		setClearable(row, "description", u.Description)
		setField(row, "active", u.Active)
		if u.Tags != nil {
			tags := *u.Tags
			if tags == nil {
				tags = []string{}
			}
			row["tags"] = tags
		}
		return setObject(row, "metadata", u.Metadata)
	})
}

// Delete deletes an environment (members and owners).
func (s *EnvironmentsService) Delete(ctx context.Context, id string) error {
	return deleteRow(ctx, s.c, "environment", "environments", id, RoleMember)
}

// Lease is a ticket of an environment's lease queue.
type Lease struct {
	Ticket        string `json:"ticket"`
	EnvironmentID string `json:"environment_id"`
	// Status: queued, active, released, expired or cancelled.
	Status string `json:"status"`
	// QueuePosition: 0 holds the environment, n >= 1 is n-th in line, nil
	// once finished.
	QueuePosition *int `json:"queue_position"`
	// Lease is the lease length as PostgreSQL prints it (e.g. 02:00:00).
	Lease       string     `json:"lease"`
	Reason      string     `json:"reason,omitempty"`
	RequestedAt time.Time  `json:"requested_at"`
	GrantedAt   *time.Time `json:"granted_at,omitempty"`
	ExpiresAt   *time.Time `json:"expires_at,omitempty"`
	ReleasedAt  *time.Time `json:"released_at,omitempty"`
}

// Active reports whether the ticket holds the environment now.
func (l *Lease) Active() bool { return l.Status == "active" }

// Finished reports whether the ticket is over (released, expired or
// cancelled).
func (l *Lease) Finished() bool {
	return l.Status == "released" || l.Status == "expired" || l.Status == "cancelled"
}

// interval formats a duration as a PostgreSQL interval, rounded up to the
// second.
func interval(d time.Duration) (string, error) {
	if d <= 0 || d > 30*24*time.Hour {
		return "", fmt.Errorf("lease %s must be positive and at most 30 days: %w", d, ErrValidation)
	}
	return fmt.Sprintf("%d seconds", int64(math.Ceil(d.Seconds()))), nil
}

// Lock queues a ticket for the environment (RPC request_environment) and
// returns it: active when granted at once, else queued with its position.
// Wait for it with WaitForLease.
func (s *EnvironmentsService) Lock(ctx context.Context, environmentID string, lease time.Duration, reason string) (*Lease, error) {
	if err := validUUID("environment id", environmentID); err != nil {
		return nil, fmt.Errorf("lock environment: %w", err)
	}
	iv, err := interval(lease)
	if err != nil {
		return nil, fmt.Errorf("lock environment: %w", err)
	}
	return s.leaseCall(ctx, "lock environment", "request_environment",
		map[string]any{"environment_id": environmentID, "lease": iv, "reason": nullIfEmpty(reason)}, "environments", environmentID)
}

// leaseCall calls the lease RPC fn with args and returns the ticket it
// answers; a refusal is explained by the caller's role on the row of table
// with that id (the environment, or the ticket in environment_allocations).
func (s *EnvironmentsService) leaseCall(ctx context.Context, op, fn string, args map[string]any, table, id string) (*Lease, error) {
	l, err := callRPC[Lease](ctx, s.c, op, fn, false, args)
	if err != nil {
		return nil, s.c.explainRow(ctx, err, table, id, RoleMember)
	}
	return &l, nil
}

// Unlock gives a ticket back (RPC release_environment): an active one is
// released and the next in line promoted, a queued one cancelled.
func (s *EnvironmentsService) Unlock(ctx context.Context, ticket string) (*Lease, error) {
	if err := validUUID("ticket", ticket); err != nil {
		return nil, fmt.Errorf("unlock environment: %w", err)
	}
	return s.leaseCall(ctx, "unlock environment", "release_environment", map[string]any{"ticket": ticket}, "environment_allocations", ticket)
}

// Extend lengthens a ticket's lease (RPC extend_environment).
func (s *EnvironmentsService) Extend(ctx context.Context, ticket string, by time.Duration) (*Lease, error) {
	if err := validUUID("ticket", ticket); err != nil {
		return nil, fmt.Errorf("extend lease: %w", err)
	}
	iv, err := interval(by)
	if err != nil {
		return nil, fmt.Errorf("extend lease: %w", err)
	}
	return s.leaseCall(ctx, "extend lease", "extend_environment", map[string]any{"ticket": ticket, "lease": iv}, "environment_allocations", ticket)
}

// Queue returns the environment's holder and queue in order (RPC
// environment_queue), after applying expiry.
func (s *EnvironmentsService) Queue(ctx context.Context, environmentID string) ([]Lease, error) {
	if err := validUUID("environment id", environmentID); err != nil {
		return nil, fmt.Errorf("environment queue: %w", err)
	}
	ls, err := callRPC[[]Lease](ctx, s.c, "environment queue", "environment_queue", false, map[string]any{"environment_id": environmentID})
	if ls == nil && err == nil {
		ls = []Lease{}
	}
	return ls, err
}

// Ticket returns a ticket's current state (table environment_allocations).
// Its queue position is not computed (use Queue); QueuePosition is 0 for
// an active ticket and nil otherwise.
func (s *EnvironmentsService) Ticket(ctx context.Context, ticket string) (*Lease, error) {
	if err := validUUID("ticket", ticket); err != nil {
		return nil, fmt.Errorf("get ticket: %w", err)
	}
	var row allocationRow
	err := s.c.do(ctx, "get ticket", true, func(cl *call) error {
		return cl.exec(cl.from("environment_allocations").Select("*", "", false).Eq("id", ticket).Single(), &row)
	})
	if err != nil {
		return nil, notFoundMessage(err, "ticket "+ticket)
	}
	l := row.lease()
	return &l, nil
}

// allocationRow is a row of environment_allocations: a Lease whose ticket
// is the row's id and whose queue position is not stored.
type allocationRow struct {
	ID string `json:"id"`
	Lease
}

func (r allocationRow) lease() Lease {
	l := r.Lease
	l.Ticket, l.QueuePosition = r.ID, nil
	if r.Status == "active" {
		zero := 0
		l.QueuePosition = &zero
	}
	return l
}
