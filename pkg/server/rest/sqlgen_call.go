package rest

import "strings"

// callSQL renders a call: the function's rows in pgrst_source (a scalar
// as the column pgrst_scalar), then the response over them.
func callSQL(p *callPlan) *sqlBuf {
	s := &sqlBuf{}
	s.w("WITH pgrst_source AS (SELECT ")
	if p.scalar {
		s.w(`pgrst_call."pgrst_scalar"`)
	} else {
		s.w("pgrst_call.*")
	}
	s.w(" FROM ")
	if p.mode == argsNamed && len(p.args) > 0 {
		// The named arguments, typed, as the row pgrst_body.
		s.w("(SELECT ")
		s.argBytes(p.payload)
		s.w("::json AS json_data) pgrst_payload, LATERAL (SELECT ")
		typed := make([]string, 0, len(p.args))
		for i, a := range p.args {
			if i > 0 {
				s.w(", ")
			}
			s.w(quoteIdent(a.name))
			typed = append(typed, quoteIdent(a.name)+" "+a.typ)
		}
		s.w(" FROM json_to_record(pgrst_payload.json_data) AS _(", strings.Join(typed, ", "), ") LIMIT 1) pgrst_body, LATERAL ")
	}
	if p.scalar {
		s.w("(SELECT ")
		s.callExpr(p)
		s.w(` AS "pgrst_scalar") pgrst_call`)
	} else {
		s.callExpr(p)
		s.w(" pgrst_call")
	}
	s.w(")")
	s.outerSQL(outerSpec{
		root:       p.tree,
		body:       p.body,
		stripNulls: p.stripNulls,
		countAll:   p.count,
		scalar:     p.scalar,
	})
	return s
}

// callExpr writes the function call with its arguments.
func (s *sqlBuf) callExpr(p *callPlan) {
	f := p.function
	s.w(qualified(f.Schema, f.Name), "(")
	switch p.mode {
	case argsWholeBody:
		s.argBytes(p.payload)
		s.w("::", f.Params[0].Type)
	case argsQuery:
		for i, a := range p.args {
			if i > 0 {
				s.w(", ")
			}
			if a.variadic {
				s.w("VARIADIC ")
			}
			s.w(quoteIdent(a.name), " := ")
			if a.variadic {
				s.arg(pgArrayLiteral(a.values))
			} else {
				s.arg(a.values[0])
			}
			s.w("::", a.typ)
		}
	default:
		for i, a := range p.args {
			if i > 0 {
				s.w(", ")
			}
			if a.variadic {
				s.w("VARIADIC ")
			}
			s.w(quoteIdent(a.name), ` := "pgrst_body".`, quoteIdent(a.name))
		}
	}
	s.w(")")
}
