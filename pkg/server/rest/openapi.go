package rest

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// root answers GET / with an OpenAPI 2.0 description of what is exposed:
// the paths, and the tables' definitions as PostgREST gives them
// (openapi_defs.go).
func (rc *reqCtx) root() *apiError {
	if !rc.req.readMethod() {
		return newErr(405, codeMethod, "Unsupported HTTP method: "+rc.req.method)
	}
	paths := map[string]any{"/": map[string]any{"get": map[string]any{"tags": []string{"Introspection"}, "summary": "OpenAPI description (this document)"}}}
	for k, t := range rc.snap.Tables {
		if k[0] != rc.req.schema {
			continue
		}
		ops := map[string]any{"get": map[string]any{"tags": []string{t.Name}, "responses": map[string]any{
			"200": map[string]any{"description": "OK", "schema": map[string]any{"type": "array", "items": map[string]any{"$ref": "#/definitions/" + t.Name}}},
			"206": map[string]any{"description": "Partial Content"},
		}}}
		if t.Insertable {
			ops["post"] = map[string]any{"tags": []string{t.Name}}
		}
		if t.Updatable {
			ops["patch"] = map[string]any{"tags": []string{t.Name}}
		}
		if t.Deletable {
			ops["delete"] = map[string]any{"tags": []string{t.Name}}
		}
		paths["/"+t.Name] = ops
	}
	for k, fs := range rc.snap.Functions {
		if k[0] == rc.req.schema {
			paths["/rpc/"+k[1]] = functionPath(fs[0])
		}
	}
	doc := map[string]any{
		"swagger":     "2.0",
		"info":        map[string]any{"title": "sfp embedded REST (PostgREST-compatible)", "version": "13"},
		"basePath":    "/",
		"schemes":     []string{"http"},
		"consumes":    []string{"application/json"},
		"produces":    []string{"application/json"},
		"paths":       paths,
		"definitions": tableDefinitions(rc.snap.Schema, rc.req.schema),
	}
	b, _ := json.Marshal(doc)
	h := rc.w.Header()
	h.Set("Content-Type", "application/openapi+json; charset=utf-8")
	h.Set("Content-Length", fmt.Sprint(len(b)))
	rc.w.WriteHeader(200)
	if rc.req.method == http.MethodGet {
		_, _ = rc.w.Write(b)
	}
	return nil
}
