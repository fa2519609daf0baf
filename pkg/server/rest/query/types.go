// Package query parses PostgREST's query-string grammar: select (with
// aliases, casts, JSON paths and embedded resources), horizontal filters,
// logic trees (and/or/not), order, limit/offset, columns and on_conflict.
//
// The parser only builds a syntax tree. It knows nothing about the schema:
// resolving names against the schema cache and generating SQL happen in the
// rest package, so nothing parsed here ever reaches SQL text except through
// identifier quoting or query parameters.
package query

import "fmt"

// JSONOp is one arrow of a JSON path: ->key, ->>key, ->0, ->>-1.
type JSONOp struct {
	// Text is true for ->> (the result is text), false for -> (json).
	Text bool
	// Key is the object key, or the decimal index when Index is true.
	Key string
	// Index is true when the operand is an array index.
	Index bool
}

// Field is a column name with an optional JSON path.
type Field struct {
	Name     string
	JSONPath []JSONOp
}

// SelectItem is one element of select=: a column (Embed == nil) or an
// embedded resource.
type SelectItem struct {
	Field         Field
	Alias         string
	Cast          string
	Aggregate     string // count, sum, avg, max, min (PostgREST disables these by default)
	AggregateCast string
	// Embed is set for an embedded resource: rel(...), alias:rel!hint!inner(...), ...rel(...).
	Embed *Embed
}

// Embed is an embedded resource in select=.
type Embed struct {
	Name   string
	Alias  string
	Hint   string
	Join   string // "", "inner" or "left"
	Spread bool
	Select []SelectItem
}

// OpExpr is the right-hand side of a filter: [not.]op[(any|all)][(fts config)].value
type OpExpr struct {
	Not bool
	// Op is the operator: eq neq gt gte lt lte like ilike match imatch in is
	// isdistinct fts plfts phfts wfts cs cd ov sl sr nxr nxl adj.
	Op string
	// Quant is "any" or "all" for eq(any) etc.; empty otherwise.
	Quant string
	// Value is the single value (also the is value: null, not_null, true, false, unknown).
	Value string
	// List holds the values of in.(…).
	List []string
	// Lang is the text search configuration of fts(lang).
	Lang string
}

// Filter is one horizontal filter, possibly on an embedded resource (Path).
type Filter struct {
	Path  []string
	Field Field
	Expr  OpExpr
}

// LogicTree is an and/or expression of filters; a leaf has Filter set.
type LogicTree struct {
	Not      bool
	Or       bool
	Children []LogicTree
	Filter   *Filter
}

// Logic is an and=/or= parameter, possibly on an embedded resource.
type Logic struct {
	Path []string
	Tree LogicTree
}

// OrderTerm is one term of order=.
type OrderTerm struct {
	// Relation is set for a related order: order=rel(col).desc
	Relation string
	Field    Field
	Desc     bool
	HasDir   bool
	// Nulls is "", "first" or "last".
	Nulls string
}

// Order is an order= parameter, possibly on an embedded resource.
type Order struct {
	Path  []string
	Terms []OrderTerm
}

// Range is the limit/offset of one level (the root has an empty path).
type Range struct {
	Path   []string
	Offset int64
	// Limit is -1 when absent.
	Limit int64
}

// Param is a query parameter passed to a function on GET /rpc/fn.
type Param struct {
	Name  string
	Value string
}

// Params is a parsed query string.
type Params struct {
	// Select is nil when select= is absent (which means *).
	Select     []SelectItem
	Filters    []Filter
	Logic      []Logic
	Order      []Order
	Ranges     []Range
	Columns    []string // nil when absent
	OnConflict []string // nil when absent
	// RPCArgs are the parameters that are not filters, on GET/HEAD /rpc/fn.
	RPCArgs []Param
	// FilterFields are the names of the root-level filtered fields.
	FilterFields []string
}

// Error is a query-string syntax error (PostgREST's PGRST100).
type Error struct {
	// Message names what failed to parse, the input and the position.
	Message string
	// Details says what was unexpected and what was expected.
	Details string
}

func (e *Error) Error() string { return e.Message + ": " + e.Details }

// RangeError is a bad limit/offset (PostgREST's PGRST103, status 416).
type RangeError struct{ Details string }

func (e *RangeError) Error() string { return "requested range not satisfiable: " + e.Details }

func errorf(what, input string, pos int, format string, args ...any) *Error {
	return &Error{
		Message: fmt.Sprintf("%q (line 1, column %d)", "failed to parse "+what+" ("+input+")", pos+1),
		Details: fmt.Sprintf(format, args...),
	}
}
