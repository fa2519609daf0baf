package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	postgrest "github.com/supabase-community/postgrest-go"
)

// Task is a unit of background work on a resource (resource type and id),
// run by a worker that reports its progress.
type Task struct {
	ID           string          `json:"id"`
	AccountID    string          `json:"account_id"`
	ProjectID    string          `json:"project_id,omitempty"`
	ResourceType string          `json:"resource_type"`
	ResourceID   string          `json:"resource_id"`
	Kind         string          `json:"kind"`
	Status       string          `json:"status"`
	Progress     int             `json:"progress"`
	Message      string          `json:"message,omitempty"`
	Input        json.RawMessage `json:"input"`
	Output       json.RawMessage `json:"output,omitempty"`
	Error        json.RawMessage `json:"error,omitempty"`
	Worker       string          `json:"worker,omitempty"`
	StartedAt    *time.Time      `json:"started_at,omitempty"`
	FinishedAt   *time.Time      `json:"finished_at,omitempty"`
	CreatedAt    time.Time       `json:"created_at"`
	UpdatedAt    time.Time       `json:"updated_at"`
	CreatedBy    string          `json:"created_by,omitempty"`
}

// TaskEvent is an entry of a task's append-only log. The database appends
// "created", "status", "progress" and "message" events itself.
type TaskEvent struct {
	ID        int64           `json:"id"`
	TaskID    string          `json:"task_id"`
	Event     string          `json:"event"`
	Status    string          `json:"status,omitempty"`
	Progress  *int            `json:"progress,omitempty"`
	Message   string          `json:"message,omitempty"`
	Data      json.RawMessage `json:"data,omitempty"`
	CreatedAt time.Time       `json:"created_at"`
	CreatedBy string          `json:"created_by,omitempty"`
}

// NewTask is the input of Tasks.Create.
type NewTask struct {
	// AccountID, or ProjectID (whose account is used).
	AccountID    string
	ProjectID    string
	ResourceType string // e.g. deployment, build, environment
	ResourceID   string
	Kind         string // e.g. deploy, validate
	Input        json.RawMessage
	// Status: queued (default) or running (a worker creating its own task).
	Status string
	Worker string
}

// TaskReport is a worker's report: the fields set are changed.
type TaskReport struct {
	Status   string
	Progress *int
	Message  *string
	Output   json.RawMessage // any JSON
	Error    json.RawMessage // any JSON
	Worker   string
}

// TaskListOptions filter and page a task list.
type TaskListOptions struct {
	ListOptions
	AccountID    string
	ProjectID    string
	ResourceType string
	ResourceID   string
	Status       string
}

// TasksService reads tasks and their events, and is the worker's side:
// Create, Start, Advance, Succeed, Fail and Report (tables task_executions
// and task_events). Workers use the service_role key.
type TasksService struct{ c *Client }

// Create creates a task.
func (s *TasksService) Create(ctx context.Context, in NewTask) (*Task, error) {
	return createRow[Task](ctx, s.c, "create task", "task_executions", RoleMember, func() (map[string]any, error) {
		account := in.AccountID
		if in.ProjectID != "" {
			p, err := s.c.Projects.Get(ctx, in.ProjectID)
			if err != nil {
				return nil, err
			}
			account = p.AccountID
		}
		if err := validUUID("account id", account); err != nil {
			return nil, fmt.Errorf("an account or project is required: %w", err)
		}
		if err := validUUID("resource id", in.ResourceID); err != nil {
			return nil, err
		}
		row := map[string]any{"account_id": account, "resource_type": in.ResourceType, "resource_id": in.ResourceID, "kind": in.Kind}
		setText(row, "project_id", in.ProjectID)
		if err := setStatus(row, in.Status); err != nil {
			return nil, err
		}
		setText(row, "worker", in.Worker)
		return row, setObject(row, "input", in.Input)
	})
}

// Get returns a task by id.
func (s *TasksService) Get(ctx context.Context, id string) (*Task, error) {
	return getRow[Task](ctx, s.c, "task", "task_executions", id)
}

// List returns a page of tasks, newest first, optionally of one resource.
func (s *TasksService) List(ctx context.Context, opts TaskListOptions) (*Page[Task], error) {
	return listRows(ctx, s.c, "list tasks", "task_executions", &opts.ListOptions, func(fb *postgrest.FilterBuilder) (*postgrest.FilterBuilder, error) {
		fb, err := scope(fb, opts.AccountID, opts.ProjectID, opts.Status)
		if err != nil {
			return nil, err
		}
		if opts.ResourceType != "" {
			fb = fb.Eq("resource_type", opts.ResourceType)
		}
		return filterUUID(fb, "resource_id", opts.ResourceID)
	}, func(t *Task) (time.Time, string) { return t.CreatedAt, t.ID })
}

// Events returns a page of a task's events in order; the cursor continues
// after the last event of the previous page.
func (s *TasksService) Events(ctx context.Context, taskID string, opts *ListOptions) (*Page[TaskEvent], error) {
	return listSerialRows(ctx, s.c, "list task events", "task_events", "task_id", taskID, opts,
		true, func(e *TaskEvent) int64 { return e.ID })
}

// AppendEvent appends an event of the caller's choosing (e.g. "log") to a
// task's log.
func (s *TasksService) AppendEvent(ctx context.Context, taskID, event, message string, data json.RawMessage) (*TaskEvent, error) {
	return createRow[TaskEvent](ctx, s.c, "append task event", "task_events", RoleMember, func() (map[string]any, error) {
		t, err := s.Get(ctx, taskID)
		if err != nil {
			return nil, err
		}
		row := map[string]any{"account_id": t.AccountID, "task_id": t.ID, "event": event, "status": t.Status, "progress": t.Progress}
		setText(row, "message", message)
		return row, setJSON(row, "data", data)
	})
}

// Report updates a task (PATCH task_executions); the database appends the
// matching event. It returns the updated task.
func (s *TasksService) Report(ctx context.Context, id string, r TaskReport) (*Task, error) {
	return s.report(ctx, "report task progress", id, r, "")
}

func (s *TasksService) report(ctx context.Context, op, id string, r TaskReport, onlyIfStatus string) (*Task, error) {
	if err := validUUID("task id", id); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	row := map[string]any{}
	if err := (Progress{Status: r.Status, Progress: r.Progress, Message: r.Message}).set(row); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	for name, raw := range map[string]json.RawMessage{"output": r.Output, "error": r.Error} {
		if err := setJSON(row, name, raw); err != nil {
			return nil, fmt.Errorf("%s: %w", op, err)
		}
	}
	setText(row, "worker", r.Worker)
	if len(row) == 0 {
		return nil, fmt.Errorf("%s: nothing to report: %w", op, ErrValidation)
	}
	var rows []Task
	err := s.c.do(ctx, op, false, func(cl *call) error {
		fb := cl.from("task_executions").Update(row, "representation", "").Eq("id", id)
		if onlyIfStatus != "" {
			fb = fb.Eq("status", onlyIfStatus)
		}
		return cl.exec(fb, &rows)
	})
	if err != nil {
		return nil, s.c.explainRow(ctx, err, "task_executions", id, RoleMember)
	}
	if len(rows) == 0 {
		if onlyIfStatus != "" {
			if t, gerr := s.Get(ctx, id); gerr == nil && t.Status != onlyIfStatus {
				return nil, &Error{Op: op, StatusCode: http.StatusConflict, Code: "PT409",
					Message: fmt.Sprintf("task %s is %s, not %s", id, t.Status, onlyIfStatus),
					Hint:    "another worker may have claimed it"}
			}
		}
		return nil, s.c.noRows(ctx, op, "task_executions", id, "", RoleMember)
	}
	return &rows[0], nil
}

// Start claims a queued task for a worker: it becomes running. A task that
// is no longer queued (another worker claimed it) is ErrConflict.
func (s *TasksService) Start(ctx context.Context, id, worker string) (*Task, error) {
	return s.report(ctx, "start task", id, TaskReport{Status: StatusRunning, Worker: worker}, StatusQueued)
}

// Advance sets a running task's progress and message.
func (s *TasksService) Advance(ctx context.Context, id string, progress int, message string) (*Task, error) {
	return s.Report(ctx, id, TaskReport{Progress: &progress, Message: optString(message)})
}

// Succeed finishes a running task with its output (progress becomes 100).
func (s *TasksService) Succeed(ctx context.Context, id string, output json.RawMessage) (*Task, error) {
	return s.Report(ctx, id, TaskReport{Status: StatusSucceeded, Output: output})
}

// Fail finishes a running task as failed with a message and an error
// document.
func (s *TasksService) Fail(ctx context.Context, id, message string, errDoc json.RawMessage) (*Task, error) {
	return s.Report(ctx, id, TaskReport{Status: StatusFailed, Message: optString(message), Error: errDoc})
}

// Cancel cancels a queued or running task.
func (s *TasksService) Cancel(ctx context.Context, id string) (*Task, error) {
	return s.Report(ctx, id, TaskReport{Status: StatusCancelled})
}
