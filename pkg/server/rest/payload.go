package rest

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"

	"github.com/sfp-dev/sfp/pkg/server/rest/query"
)

// errBodyTooLarge is returned by readBody past MaxBodyBytes.
var errBodyTooLarge = errors.New("request body too large")

func readBody(r *http.Request, max int64) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	if r.ContentLength > max {
		return nil, errBodyTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, errBodyTooLarge
	}
	return b, nil
}

// payload is a validated JSON body of a write.
type payload struct {
	raw    []byte   // always a JSON array of objects
	keys   []string // keys of the objects (all objects have the same keys)
	single bool     // the body was one object
	rows   int
}

var errInvalidJSON = newErr(400, codeInvalidBody, "Empty or invalid json")

// parsePayload checks the body is a JSON object or an array of objects
// with the same keys, as PostgREST requires without columns=.
func parsePayload(body []byte, checkKeys bool) (*payload, *apiError) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 {
		return nil, errInvalidJSON
	}
	p := &payload{}
	switch trimmed[0] {
	case '{':
		var obj map[string]json.RawMessage
		if json.Unmarshal(trimmed, &obj) != nil {
			return nil, errInvalidJSON
		}
		p.single = true
		p.rows = 1
		for k := range obj {
			p.keys = append(p.keys, k)
		}
		sort.Strings(p.keys)
		raw := make([]byte, 0, len(trimmed)+2)
		raw = append(raw, '[')
		raw = append(raw, trimmed...)
		p.raw = append(raw, ']')
	case '[':
		var arr []map[string]json.RawMessage
		if json.Unmarshal(trimmed, &arr) != nil {
			return nil, errInvalidJSON
		}
		for _, o := range arr {
			if o == nil {
				return nil, errInvalidJSON
			}
		}
		p.rows = len(arr)
		p.raw = trimmed
		if len(arr) > 0 {
			for k := range arr[0] {
				p.keys = append(p.keys, k)
			}
			sort.Strings(p.keys)
			if checkKeys {
				for _, o := range arr[1:] {
					if len(o) != len(p.keys) {
						return nil, newErr(400, codeInvalidBody, "All object keys must match")
					}
					for _, k := range p.keys {
						if _, ok := o[k]; !ok {
							return nil, newErr(400, codeInvalidBody, "All object keys must match")
						}
					}
				}
			}
		}
	default:
		return nil, errInvalidJSON
	}
	return p, nil
}

// callArgs are the arguments of a call, as the request gives them.
type callArgs struct {
	// names are the argument names: the body's keys, sorted, or the
	// query parameters in the order they first appear.
	names []string
	// values are the query parameters' values by name (GET and HEAD),
	// several for a variadic parameter.
	values map[string][]string
	// body is the JSON body of a POST, "{}" when empty; object is set
	// when it is a JSON object (named arguments).
	body   []byte
	object bool
}

// queryArgs collects the arguments of GET /rpc/fn.
func queryArgs(ps []query.Param) *callArgs {
	a := &callArgs{values: map[string][]string{}}
	for _, p := range ps {
		if _, ok := a.values[p.Name]; !ok {
			a.names = append(a.names, p.Name)
		}
		a.values[p.Name] = append(a.values[p.Name], p.Value)
	}
	return a
}

// bodyArgs checks the JSON body of POST /rpc/fn: an object of named
// arguments, or any JSON value for a function taking one unnamed json or
// jsonb parameter.
func bodyArgs(raw []byte) (*callArgs, *apiError) {
	body := bytes.TrimSpace(raw)
	if len(body) == 0 {
		body = []byte("{}")
	}
	a := &callArgs{body: body}
	if body[0] != '{' {
		if !json.Valid(body) {
			return nil, errInvalidJSON
		}
		return a, nil
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(body, &obj) != nil {
		return nil, errInvalidJSON
	}
	a.object = true
	for k := range obj {
		a.names = append(a.names, k)
	}
	sort.Strings(a.names)
	return a, nil
}

// csvToJSON turns a CSV body (a header line of column names, then rows)
// into a JSON array of objects, as PostgREST reads one: every value a
// string, an empty field the empty string, NULL the null value.
func csvToJSON(body []byte) ([]byte, *apiError) {
	rd := csv.NewReader(bytes.NewReader(body))
	recs, err := rd.ReadAll()
	if err != nil {
		return nil, newErr(400, codeInvalidBody, "Error in CSV body").withDetails(err.Error())
	}
	if len(recs) == 0 {
		return nil, newErr(400, codeInvalidBody, "Error in CSV body").withDetails("no header line")
	}
	header := recs[0]
	out := []byte{'['}
	for i, rec := range recs[1:] {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '{')
		for j, v := range rec {
			if j > 0 {
				out = append(out, ',')
			}
			out = appendJSONString(out, header[j])
			out = append(out, ':')
			if v == "NULL" {
				out = append(out, "null"...)
			} else {
				out = appendJSONString(out, v)
			}
		}
		out = append(out, '}')
	}
	return append(out, ']'), nil
}

// formToJSON turns a form-urlencoded body into a JSON object of strings
// (the first value of a repeated name).
func formToJSON(body []byte) ([]byte, *apiError) {
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, newErr(400, codeInvalidBody, "Error in form body").withDetails(err.Error())
	}
	keys := slices.Sorted(maps.Keys(vals))
	out := []byte{'{'}
	for i, k := range keys {
		if i > 0 {
			out = append(out, ',')
		}
		out = appendJSONString(out, k)
		out = append(out, ':')
		out = appendJSONString(out, vals[k][0])
	}
	return append(out, '}'), nil
}
