package client

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"iter"
	"strconv"
	"time"

	postgrest "github.com/supabase-community/postgrest-go"
)

// ListOptions page through a list. Lists are ordered newest first by
// (created_at, id) and paginated by keyset: Cursor is the Next of the page
// before, so rows inserted meanwhile never shift a page or repeat a row.
type ListOptions struct {
	// Limit is the page size: default 100, at most 1000.
	Limit int
	// Cursor continues after the page that returned it ("" = first page).
	Cursor string
}

// Page is one page of a list.
type Page[T any] struct {
	Items []T `json:"items"`
	// Next is the cursor of the next page; "" on the last page.
	Next string `json:"next,omitempty"`
}

// keyset is the decoded cursor: the last row's sort key.
type keyset struct {
	T  string `json:"t,omitempty"`
	ID string `json:"id,omitempty"`
	K  string `json:"k,omitempty"`
}

func encodeCursor(k keyset) string {
	b, _ := json.Marshal(k)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(c string) (keyset, error) {
	var k keyset
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err == nil {
		err = json.Unmarshal(b, &k)
	}
	if err != nil || (k.K == "" && (k.ID == "" || k.T == "")) {
		return k, fmt.Errorf("invalid page cursor %q (pass the Next of a previous page): %w", c, ErrValidation)
	}
	if k.ID != "" && !isUUID(k.ID) {
		return k, fmt.Errorf("invalid page cursor %q: %w", c, ErrValidation)
	}
	if k.T != "" {
		if _, err := time.Parse(time.RFC3339Nano, k.T); err != nil {
			return k, fmt.Errorf("invalid page cursor %q: %w", c, ErrValidation)
		}
	}
	return k, nil
}

func (o *ListOptions) limit() (int, error) {
	if o == nil || o.Limit == 0 {
		return DefaultPageSize, nil
	}
	if o.Limit < 0 || o.Limit > MaxPageSize {
		return 0, fmt.Errorf("page size %d is outside 1..%d: %w", o.Limit, MaxPageSize, ErrValidation)
	}
	return o.Limit, nil
}

func (o *ListOptions) cursor() string {
	if o == nil {
		return ""
	}
	return o.Cursor
}

// pgTime formats a timestamp the way it round-trips through PostgreSQL
// (microseconds, UTC).
func pgTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.999999Z07:00") }

var desc = &postgrest.OrderOpts{Ascending: false}

// listByCreated runs fb ordered by created_at desc, id desc, one page after
// the cursor. It asks for one row more than the page to know whether a
// next page exists, without counting.
func listByCreated[T any](cl *call, fb *postgrest.FilterBuilder, opts *ListOptions, key func(*T) (time.Time, string)) (*Page[T], error) {
	n, err := opts.limit()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cl.op, err)
	}
	if c := opts.cursor(); c != "" {
		k, err := decodeCursor(c)
		if err != nil || k.T == "" {
			return nil, fmt.Errorf("%s: invalid page cursor %q: %w", cl.op, c, ErrValidation)
		}
		fb = fb.Or(fmt.Sprintf("created_at.lt.%s,and(created_at.eq.%s,id.lt.%s)",
			quoteValue(k.T), quoteValue(k.T), k.ID), "")
	}
	fb = fb.Order("created_at", desc).Order("id", desc).Limit(n+1, "")
	var items []T
	if err := cl.exec(fb, &items); err != nil {
		return nil, err
	}
	return onePage(items, n, func(last *T) keyset {
		t, id := key(last)
		return keyset{T: pgTime(t), ID: id}
	}), nil
}

// listBySerial runs fb ordered by the table's bigint id — oldest first
// when ascending, else newest first — one page after the cursor: the
// order of append-only logs, whose ids grow with time.
func listBySerial[T any](cl *call, fb *postgrest.FilterBuilder, opts *ListOptions, ascending bool, id func(*T) int64) (*Page[T], error) {
	n, err := opts.limit()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cl.op, err)
	}
	if c := opts.cursor(); c != "" {
		var last int64
		k, err := decodeCursor(c)
		if err == nil {
			last, err = strconv.ParseInt(k.K, 10, 64)
		}
		if err != nil {
			return nil, fmt.Errorf("%s: invalid page cursor %q: %w", cl.op, c, ErrValidation)
		}
		switch after := strconv.FormatInt(last, 10); {
		case last > 0 && ascending:
			fb = fb.Gt("id", after)
		case last > 0:
			fb = fb.Lt("id", after)
		}
	}
	var items []T
	if err := cl.exec(fb.Order("id", &postgrest.OrderOpts{Ascending: ascending}).Limit(n+1, ""), &items); err != nil {
		return nil, err
	}
	return onePage(items, n, func(last *T) keyset {
		return keyset{K: strconv.FormatInt(id(last), 10)}
	}), nil
}

// onePage is the page of items fetched with one row more than a page of n:
// that extra row says a next page exists, whose cursor next makes from the
// page's last item.
func onePage[T any](items []T, n int, next func(last *T) keyset) *Page[T] {
	p := &Page[T]{Items: items}
	if len(items) > n {
		p.Items = items[:n]
		p.Next = encodeCursor(next(&p.Items[n-1]))
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	return p
}

// all iterates every item of a paginated list, fetching page after page.
func all[T any](ctx context.Context, opts *ListOptions, list func(context.Context, *ListOptions) (*Page[T], error)) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		o := ListOptions{}
		if opts != nil {
			o = *opts
		}
		for {
			p, err := list(ctx, &o)
			if err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			if p.Next == "" {
				return
			}
			o.Cursor = p.Next
		}
	}
}
