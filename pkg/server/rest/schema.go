package rest

// Column is a column of a table or view in the schema cache.
type Column struct {
	Name     string
	Type     string // format_type, e.g. "integer", "text[]", "character varying(20)"
	BaseType string // the type without modifiers, used for json_to_recordset
	Nullable bool
	Default  string // SQL expression, "" when none
	Position int
	// Description is the column's COMMENT ON; Enum the labels of its
	// enum type (for the OpenAPI document).
	Description string
	Enum        []string
}

// Table is a table, view, materialized view or foreign table.
type Table struct {
	Schema     string
	Name       string
	IsView     bool
	Insertable bool
	Updatable  bool
	Deletable  bool
	Columns    []*Column
	colIndex   map[string]*Column
	PK         []string
	// Description is the table's COMMENT ON.
	Description string
	// Open is set for the result of a function returning an anonymous
	// record type: any column name is accepted and Postgres checks it.
	Open bool
	// Computed are the table's computed fields: functions of one
	// argument, the table's row type, returning one value. PostgreSQL
	// resolves q."name" to such a function when no column has the name,
	// so a column shadows a computed field of the same name.
	Computed map[string]*Function
}

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column { return t.colIndex[name] }

// Cardinality of a relationship, seen from its origin.
type Cardinality int

const (
	ManyToOne Cardinality = iota
	OneToMany
	OneToOne
	// ManyToMany goes through a junction table (Relationship.Junction).
	ManyToMany
)

// cardinalityName is the cardinality as PostgREST's errors spell it.
var cardinalityName = map[Cardinality]string{ManyToOne: "many-to-one", OneToMany: "one-to-many", OneToOne: "one-to-one", ManyToMany: "many-to-many"}

// Relationship is a foreign key seen from one side, or two foreign keys of
// a junction table (Card ManyToMany, Junction set, Constraint and Columns
// empty). Columns pairs are (origin column, target column).
type Relationship struct {
	Table       *Table // origin
	Foreign     *Table // target
	Constraint  string
	Columns     [][2]string
	Card        Cardinality
	IsSelf      bool
	ForeignView bool
	Junction    *Junction
	// Function is set for a computed relationship: a function taking the
	// origin's row and returning the target's rows (Constraint and
	// Columns empty), embedded by its name.
	Function *Function
}

// Junction is the table between the two sides of a many-to-many
// relationship, as PostgREST detects it: a table with foreign keys to both
// sides whose columns all belong to its primary key.
type Junction struct {
	Table *Table
	// Constraint1 references the origin, Constraint2 the target.
	Constraint1, Constraint2 string
	// Source pairs are (origin column, junction column); Target pairs are
	// (target column, junction column).
	Source, Target [][2]string
}

// FuncParam is a named argument of a function.
type FuncParam struct {
	Name       string
	Type       string
	HasDefault bool
	Variadic   bool
}

// Function is a routine callable through /rpc.
type Function struct {
	Schema     string
	Name       string
	Params     []FuncParam
	Volatility byte // 'i', 's' or 'v'
	ReturnsSet bool
	// ReturnType is the return type name (format_type).
	ReturnType string
	// Composite is true when the function returns a row type (a table's,
	// a composite type's, or OUT/TABLE parameters).
	Composite bool
	// RetTable is the table whose row type the function returns, if any.
	RetTable *Table
	Void     bool
}

// Schema is an immutable snapshot of the schema cache. The server swaps
// whole snapshots atomically on reload, so a request keeps the snapshot it
// started with.
type Schema struct {
	Tables    map[[2]string]*Table
	Rels      map[[2]string][]*Relationship // by origin (schema, name)
	Functions map[[2]string][]*Function
}

// Table looks a table up by schema and name.
func (s *Schema) Table(schema, name string) *Table { return s.Tables[[2]string{schema, name}] }
