package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"
)

// Document is a JSON document addressed by (account, collection, key),
// versioned for optimistic concurrency.
type Document struct {
	AccountID  string          `json:"account_id"`
	Collection string          `json:"collection"`
	Key        string          `json:"key"`
	Data       json.RawMessage `json:"data"`
	Version    int64           `json:"version"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
	CreatedBy  string          `json:"created_by,omitempty"`
}

// Collection summarises a collection of an account.
type Collection struct {
	Collection    string    `json:"collection"`
	DocumentCount int64     `json:"document_count"`
	LastUpdatedAt time.Time `json:"last_updated_at"`
}

// PutOptions make a Put conditional.
type PutOptions struct {
	// IfVersion replaces the document only if its stored version is this
	// one; a mismatch is ErrVersionConflict with the current version.
	IfVersion int64
	// CreateOnly creates the document only if it does not exist yet;
	// otherwise ErrVersionConflict.
	CreateOnly bool
}

// DeleteOptions make a Delete conditional.
type DeleteOptions struct {
	// IfVersion deletes only if the stored version is this one.
	IfVersion int64
}

// DocumentListOptions page through a collection in key order.
type DocumentListOptions struct {
	ListOptions
	// Prefix keeps only keys starting with it.
	Prefix string
}

// DocumentsService stores JSON documents (RPCs doc_put, doc_get, doc_list,
// doc_delete, doc_collections). Viewers read, members write.
type DocumentsService struct{ c *Client }

func docArgs(accountID, collection, key string) (map[string]any, error) {
	if err := validUUID("account id", accountID); err != nil {
		return nil, err
	}
	if collection == "" {
		return nil, fmt.Errorf("a collection name is required: %w", ErrValidation)
	}
	args := map[string]any{"account_id": accountID, "collection": collection}
	if key != "" {
		args["key"] = key
	}
	return args, nil
}

// Put creates or replaces a document and returns it with its new version.
func (s *DocumentsService) Put(ctx context.Context, accountID, collection, key string, data json.RawMessage, opts *PutOptions) (*Document, error) {
	args, err := docArgs(accountID, collection, key)
	if err != nil {
		return nil, fmt.Errorf("put document: %w", err)
	}
	if len(data) == 0 || !json.Valid(data) {
		return nil, fmt.Errorf("put document: data is not valid JSON: %w", ErrValidation)
	}
	args["data"] = data
	if opts != nil {
		switch {
		case opts.CreateOnly && opts.IfVersion != 0:
			return nil, fmt.Errorf("put document: CreateOnly and IfVersion exclude each other: %w", ErrValidation)
		case opts.CreateOnly:
			args["expected_version"] = 0
		case opts.IfVersion < 0:
			return nil, fmt.Errorf("put document: IfVersion %d is negative: %w", opts.IfVersion, ErrValidation)
		case opts.IfVersion > 0:
			args["expected_version"] = opts.IfVersion
		}
	}
	d, err := callRPC[Document](ctx, s.c, "put document", "doc_put", false, args)
	if err != nil {
		return nil, s.c.explain(ctx, err, accountID, RoleMember)
	}
	return &d, nil
}

// Get returns a document; ErrNotFound when it does not exist.
func (s *DocumentsService) Get(ctx context.Context, accountID, collection, key string) (*Document, error) {
	args, err := docArgs(accountID, collection, key)
	if err != nil {
		return nil, fmt.Errorf("get document: %w", err)
	}
	ds, err := callRPC[[]Document](ctx, s.c, "get document", "doc_get", true, args)
	if err != nil {
		return nil, s.c.explain(ctx, err, accountID, RoleViewer)
	}
	if len(ds) == 0 {
		return nil, &Error{Op: "get document", StatusCode: http.StatusNotFound, Code: "PGRST116",
			Message: fmt.Sprintf("document %s/%s not found", collection, key), Details: "The result contains 0 rows"}
	}
	return &ds[0], nil
}

// List returns a page of a collection's documents in key order (bytewise).
func (s *DocumentsService) List(ctx context.Context, accountID, collection string, opts *DocumentListOptions) (*Page[Document], error) {
	args, err := docArgs(accountID, collection, "")
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	if opts == nil {
		opts = &DocumentListOptions{}
	}
	n, err := opts.limit()
	if err != nil {
		return nil, fmt.Errorf("list documents: %w", err)
	}
	if c := opts.Cursor; c != "" {
		k, err := decodeCursor(c)
		if err != nil || k.K == "" {
			return nil, fmt.Errorf("list documents: invalid page cursor %q: %w", c, ErrValidation)
		}
		args["after"] = k.K
	}
	if opts.Prefix != "" {
		args["prefix"] = opts.Prefix
	}
	// One more than the page tells whether another page follows; the
	// function caps "limit" at 1000.
	ask := min(n+1, MaxPageSize)
	args["limit"] = ask
	ds, err := callRPC[[]Document](ctx, s.c, "list documents", "doc_list", true, args)
	if err != nil {
		return nil, s.c.explain(ctx, err, accountID, RoleViewer)
	}
	p := &Page[Document]{Items: ds}
	if len(ds) > n || (len(ds) == n && ask == n) {
		p.Items = ds[:n]
		p.Next = encodeCursor(keyset{K: ds[n-1].Key})
	}
	if p.Items == nil {
		p.Items = []Document{}
	}
	return p, nil
}

// Delete deletes a document; it reports whether one was deleted.
func (s *DocumentsService) Delete(ctx context.Context, accountID, collection, key string, opts *DeleteOptions) (bool, error) {
	args, err := docArgs(accountID, collection, key)
	if err != nil {
		return false, fmt.Errorf("delete document: %w", err)
	}
	if opts != nil && opts.IfVersion != 0 {
		if opts.IfVersion < 0 {
			return false, fmt.Errorf("delete document: IfVersion %d is negative: %w", opts.IfVersion, ErrValidation)
		}
		args["expected_version"] = opts.IfVersion
	}
	deleted, err := callRPC[bool](ctx, s.c, "delete document", "doc_delete", false, args)
	if err != nil {
		return false, s.c.explain(ctx, err, accountID, RoleMember)
	}
	return deleted, nil
}

// Collections lists the account's collections that hold documents.
func (s *DocumentsService) Collections(ctx context.Context, accountID string) ([]Collection, error) {
	if err := validUUID("account id", accountID); err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	cs, err := callRPC[[]Collection](ctx, s.c, "list collections", "doc_collections", true, map[string]any{"account_id": accountID})
	if err != nil {
		return nil, s.c.explain(ctx, err, accountID, RoleViewer)
	}
	if cs == nil {
		cs = []Collection{}
	}
	return cs, nil
}
