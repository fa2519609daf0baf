package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	postgrest "github.com/supabase-community/postgrest-go"
)

// The row operations every service shares: PostgREST's insert, get, update
// and delete of one row by id, each with the errors a caller can act on
// (a refused write explained by the caller's role, a missing row named).

// insertRow inserts row into table and returns it as the database stored
// it; a refusal is explained by the caller's role in the row's account
// (need is the role the write takes).
func insertRow[T any](ctx context.Context, c *Client, op, table string, row map[string]any, need Role) (*T, error) {
	accountID, _ := row["account_id"].(string)
	var rows []T
	err := c.do(ctx, op, false, func(cl *call) error {
		return cl.exec(cl.from(table).Insert(row, false, "", "representation", ""), &rows)
	})
	if err != nil {
		return nil, c.explain(ctx, err, accountID, need)
	}
	return first(rows, op)
}

// createRow is a service's Create: build turns the caller's input into the
// row (refusing bad input, or failing to read what the row depends on),
// and the row is inserted (insertRow). op prefixes build's error.
func createRow[T any](ctx context.Context, c *Client, op, table string, need Role, build func() (map[string]any, error)) (*T, error) {
	row, err := build()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return insertRow[T](ctx, c, op, table, row, need)
}

// createProjectRow is createRow for something created in a project by its
// members: the row starts as projectRow, and fill sets the rest.
func createProjectRow[T any](ctx context.Context, c *Client, op, table, projectID string, fill func(row map[string]any) error) (*T, error) {
	return createRow[T](ctx, c, op, table, RoleMember, func() (map[string]any, error) {
		row, err := c.projectRow(ctx, projectID)
		if err != nil {
			return nil, err
		}
		return row, fill(row)
	})
}

// getRow returns the row of table with that id; noun names it in errors
// ("get build: …", "build … not found").
func getRow[T any](ctx context.Context, c *Client, noun, table, id string) (*T, error) {
	if err := validUUID(noun+" id", id); err != nil {
		return nil, fmt.Errorf("get %s: %w", noun, err)
	}
	var v T
	err := c.do(ctx, "get "+noun, true, func(cl *call) error {
		return cl.exec(cl.from(table).Select("*", "", false).Eq("id", id).Single(), &v)
	})
	if err != nil {
		return nil, notFoundMessage(err, noun+" "+id)
	}
	return &v, nil
}

// getRowBy returns the row of table whose key column holds key among the
// rows of one parent: parentCol (a foreign key, "project_id") equals
// parentID. noun names the row in errors ("get release: …", "release
// 2026.12 not found").
func getRowBy[T any](ctx context.Context, c *Client, noun, table, parentCol, parentID, keyCol, key string) (*T, error) {
	if err := validUUID(columnNoun(parentCol), parentID); err != nil {
		return nil, fmt.Errorf("get %s: %w", noun, err)
	}
	var v T
	err := c.do(ctx, "get "+noun, true, func(cl *call) error {
		return cl.exec(cl.from(table).Select("*", "", false).Eq(parentCol, parentID).Eq(keyCol, key).Single(), &v)
	})
	if err != nil {
		return nil, notFoundMessage(err, noun+" "+key)
	}
	return &v, nil
}

// updateRow changes the row of table with that id (noun names the id in
// errors, "build id") and returns it. build sets the columns to change
// from the caller's input; op prefixes its error. An empty row is refused
// before any request, and no row changed is explained (missing,
// invisible, or not the caller's to change).
func updateRow[T any](ctx context.Context, c *Client, op, table, noun, id string, need Role, build func(row map[string]any) error) (*T, error) {
	if err := validUUID(noun+" id", id); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	row := map[string]any{}
	if err := build(row); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	if len(row) == 0 {
		return nil, fmt.Errorf("%s: nothing to change: %w", op, ErrValidation)
	}
	var rows []T
	err := c.do(ctx, op, false, func(cl *call) error {
		return cl.exec(cl.from(table).Update(row, "representation", "").Eq("id", id), &rows)
	})
	if err != nil {
		return nil, c.explainRow(ctx, err, table, id, need)
	}
	if len(rows) == 0 {
		return nil, c.noRows(ctx, op, table, id, "", need)
	}
	return &rows[0], nil
}

// listRows reads one page of table, newest first (listByCreated), in one
// call: filter narrows the query to what the caller's options ask for,
// refusing bad options with an error that op prefixes ("list builds: …").
func listRows[T any](ctx context.Context, c *Client, op, table string, opts *ListOptions,
	filter func(*postgrest.FilterBuilder) (*postgrest.FilterBuilder, error), key func(*T) (time.Time, string)) (*Page[T], error) {
	var p *Page[T]
	err := c.do(ctx, op, true, func(cl *call) error {
		fb, err := filter(cl.from(table).Select("*", "", false))
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		p, err = listByCreated(cl, fb, opts, key)
		return err
	})
	return p, err
}

// listSerialRows reads one page of the rows of table that belong to one
// parent (parentCol, a foreign key, equals parentID), in the order of
// their serial id (listBySerial).
func listSerialRows[T any](ctx context.Context, c *Client, op, table, parentCol, parentID string, opts *ListOptions,
	ascending bool, id func(*T) int64) (*Page[T], error) {
	if err := validUUID(columnNoun(parentCol), parentID); err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	var p *Page[T]
	err := c.do(ctx, op, true, func(cl *call) error {
		var err error
		p, err = listBySerial(cl, cl.from(table).Select("*", "", false).Eq(parentCol, parentID), opts, ascending, id)
		return err
	})
	return p, err
}

// deleteRow deletes the row of table with that id, which needs the role
// need in its account.
func deleteRow(ctx context.Context, c *Client, noun, table, id string, need Role) error {
	op := "delete " + noun
	if err := validUUID(noun+" id", id); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	var rows []struct {
		ID string `json:"id"`
	}
	err := c.do(ctx, op, false, func(cl *call) error {
		return cl.exec(cl.from(table).Delete("representation", "").Eq("id", id), &rows)
	})
	if err != nil {
		return c.explainRow(ctx, err, table, id, need)
	}
	if len(rows) == 0 {
		return c.noRows(ctx, op, table, id, "", need)
	}
	return nil
}

// setObject sets row[name] to raw when raw is given, after checking it is
// a JSON object.
func setObject(row map[string]any, name string, raw json.RawMessage) error {
	obj, err := jsonObject(name, raw)
	if err != nil {
		return err
	}
	if obj != nil {
		row[name] = obj
	}
	return nil
}

// setObjects is setObject for each column of objs.
func setObjects(row map[string]any, objs map[string]json.RawMessage) error {
	for name, raw := range objs {
		if err := setObject(row, name, raw); err != nil {
			return err
		}
	}
	return nil
}

// setJSON sets row[name] to raw, any JSON value, unless raw is empty;
// raw that is not JSON is ErrValidation.
func setJSON(row map[string]any, name string, raw json.RawMessage) error {
	if len(raw) == 0 {
		return nil
	}
	if !json.Valid(raw) {
		return fmt.Errorf("%s is not valid JSON: %w", name, ErrValidation)
	}
	row[name] = raw
	return nil
}

// The row builders of create and update: a create sets only what the
// caller gave, so the column's default stays otherwise; an update sets only
// the fields that are not nil, and an empty text clears a nullable column.

// setText sets row[name] to v unless v is empty.
func setText(row map[string]any, name, v string) {
	if v != "" {
		row[name] = v
	}
}

// setField sets row[name] to *v when v is not nil.
func setField[T any](row map[string]any, name string, v *T) {
	if v != nil {
		row[name] = *v
	}
}

// setClearable sets row[name] to *v when v is not nil, NULL when *v is
// empty.
func setClearable(row map[string]any, name string, v *string) {
	if v != nil {
		row[name] = nullIfEmpty(*v)
	}
}

// setStatus sets row["status"] to status unless it is empty, after
// checking it is one of the statuses.
func setStatus(row map[string]any, status string) error {
	if status == "" {
		return nil
	}
	if err := validStatus(status); err != nil {
		return err
	}
	row["status"] = status
	return nil
}

// setUUID sets row[col] to id unless id is empty, after checking it is a
// UUID.
func setUUID(row map[string]any, col, id string) error {
	if id == "" {
		return nil
	}
	if err := validUUID(columnNoun(col), id); err != nil {
		return err
	}
	row[col] = id
	return nil
}

// filterUUID narrows fb to the rows whose col is id, unless id is empty,
// after checking it is a UUID.
func filterUUID(fb *postgrest.FilterBuilder, col, id string) (*postgrest.FilterBuilder, error) {
	if id == "" {
		return fb, nil
	}
	if err := validUUID(columnNoun(col), id); err != nil {
		return nil, err
	}
	return fb.Eq(col, id), nil
}

// columnNoun names a column in errors: "release_id" is "release id".
func columnNoun(col string) string { return strings.ReplaceAll(col, "_", " ") }

// nullIfEmpty is s, or NULL for an empty s.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// projectRow starts the row of something created in a project: it reads
// the project (which proves the caller sees it) and sets the row's
// account_id and project_id from it.
func (c *Client) projectRow(ctx context.Context, projectID string) (map[string]any, error) {
	p, err := c.Projects.Get(ctx, projectID)
	if err != nil {
		return nil, err
	}
	return map[string]any{"account_id": p.AccountID, "project_id": p.ID}, nil
}
