package rest

import (
	"encoding/json"
	"strconv"
	"strings"
)

// The definitions of PostgREST's OpenAPI document (v14): one object
// schema per table or view, its columns as properties (type, format,
// description from COMMENT ON with PostgREST's primary and foreign key
// notes, enum, default, maxLength), the columns that are NOT NULL as
// required. Type generators read these.

// swaggerType maps a column type as PostgREST's OpenAPI output does
// ("" for json and jsonb, which get no type).
func swaggerType(typ string) string {
	switch typ {
	case "boolean":
		return "boolean"
	case "smallint", "integer", "bigint":
		return "integer"
	case "numeric", "real", "double precision":
		return "number"
	case "json", "jsonb":
		return ""
	}
	if strings.HasSuffix(typ, "[]") {
		return "array"
	}
	return "string"
}

// swaggerFormat is the format PostgREST gives a type (OpenAPI's own for
// the integers, since v14.8).
func swaggerFormat(typ string) string {
	switch typ {
	case "smallint", "integer":
		return "int32"
	case "bigint":
		return "int64"
	}
	return typ
}

// tableDefinitions are the definitions of the tables and views of schema.
func tableDefinitions(sc *Schema, schema string) map[string]any {
	defs := map[string]any{}
	for k, t := range sc.Tables {
		if k[0] == schema {
			defs[t.Name] = tableDefinition(sc, t)
		}
	}
	return defs
}

func tableDefinition(sc *Schema, t *Table) map[string]any {
	props := map[string]any{}
	required := []string{}
	for _, c := range t.Columns {
		props[c.Name] = columnProperty(sc, t, c)
		if !c.Nullable {
			required = append(required, c.Name)
		}
	}
	def := map[string]any{"type": "object", "properties": props, "required": required}
	if t.Description != "" {
		def["description"] = t.Description
	}
	return def
}

func columnProperty(sc *Schema, t *Table, c *Column) map[string]any {
	p := map[string]any{"format": swaggerFormat(c.BaseType)}
	typ := swaggerType(c.BaseType)
	if typ != "" {
		p["type"] = typ
	}
	if typ == "array" {
		elem := strings.TrimSuffix(c.BaseType, "[]")
		items := map[string]any{"format": swaggerFormat(elem)}
		if et := swaggerType(elem); et != "" {
			items["type"] = et
		}
		p["items"] = items
	}
	if len(c.Enum) > 0 {
		p["enum"] = c.Enum
	}
	if n, ok := maxLength(c.Type); ok {
		p["maxLength"] = n
	}
	if c.Default != "" {
		if d, ok := openAPIDefault(typ, c.BaseType, c.Default); ok {
			p["default"] = d
		}
	}
	notes := []string{"Note:"}
	for _, k := range t.PK {
		if k == c.Name {
			notes = append(notes, "This is a Primary Key.<pk/>")
		}
	}
	for _, r := range sc.Rels[[2]string{t.Schema, t.Name}] {
		if r.Card == ManyToOne && len(r.Columns) == 1 && r.Columns[0][0] == c.Name {
			ft, fc := r.Foreign.Name, r.Columns[0][1]
			notes = append(notes, "This is a Foreign Key to `"+ft+"."+fc+"`.<fk table='"+ft+"' column='"+fc+"'/>")
			break
		}
	}
	desc := c.Description
	if len(notes) > 1 {
		if desc != "" {
			desc += "\n\n"
		}
		desc += strings.Join(notes, "\n")
	}
	if desc != "" {
		p["description"] = desc
	}
	return p
}

// maxLength is n of character varying(n) or character(n).
func maxLength(typ string) (int, bool) {
	for _, pre := range []string{"character varying(", "character("} {
		if rest, ok := strings.CutPrefix(typ, pre); ok {
			n, err := strconv.Atoi(strings.TrimSuffix(rest, ")"))
			return n, err == nil
		}
	}
	return 0, false
}

// openAPIDefault is a column default as PostgREST shows it: for a string
// type the literal without its cast and quotes, otherwise the expression
// when it is a JSON value (a number, true, false); none for anything
// else (nextval(…), now()).
func openAPIDefault(swType, baseType, def string) (any, bool) {
	if swType == "string" {
		if lit, ok := strings.CutSuffix(def, "::"+baseType); ok {
			def = strings.Trim(lit, "'")
		}
		return def, true
	}
	var v any
	if json.Unmarshal([]byte(def), &v) != nil {
		return nil, false
	}
	return v, true
}

// functionPath describes /rpc/name as PostgREST does: POST with the
// arguments as a body object, and GET with them as query parameters for
// a function that is not volatile (the first overload's).
func functionPath(f *Function) map[string]any {
	tags := []string{"(rpc) " + f.Name}
	props := map[string]any{}
	required := []string{}
	var query []any
	for _, p := range f.Params {
		if p.Name == "" {
			continue
		}
		prop := map[string]any{"format": swaggerFormat(p.Type)}
		qp := map[string]any{"name": p.Name, "in": "query", "required": !p.HasDefault, "format": swaggerFormat(p.Type)}
		if typ := swaggerType(p.Type); typ != "" {
			prop["type"] = typ
			qp["type"] = typ
		} else {
			qp["type"] = "string"
		}
		if typ := swaggerType(p.Type); typ == "array" {
			items := map[string]any{"type": swaggerType(strings.TrimSuffix(p.Type, "[]"))}
			prop["items"] = items
			qp["items"] = items
		}
		props[p.Name] = prop
		if !p.HasDefault {
			required = append(required, p.Name)
		}
		query = append(query, qp)
	}
	ok := map[string]any{"200": map[string]any{"description": "OK"}}
	path := map[string]any{"post": map[string]any{"tags": tags, "responses": ok, "parameters": []any{map[string]any{
		"name": "args", "in": "body", "required": true,
		"schema": map[string]any{"type": "object", "properties": props, "required": required},
	}}}}
	if f.Volatility != 'v' {
		path["get"] = map[string]any{"tags": tags, "responses": ok, "parameters": append([]any{}, query...)}
	}
	return path
}
