// Package rest is a PostgREST-compatible REST server (PostgREST v12–v14 wire
// behaviour) for the embedded runtime.
//
// Every request runs in one transaction on a connection logged in as
// authenticator, which switches to the role of the request's JWT and sets
// request.jwt.claims, request.method, request.path, request.headers,
// request.cookies and search_path as PostgREST does, so row-level security
// decides what each caller sees. The SQL is generated from the parsed query
// string and the schema cache; request values only ever travel as query
// parameters, and Postgres builds the JSON.
//
// A request goes through PostgREST's stages, each in its own files:
//
//   - parse: Server.parseRequest builds an immutable apiRequest (request.go,
//     with query/ for the query-string grammar, prefer.go, media.go,
//     payload.go);
//   - plan: planRead, planMutate and planCall build plain-data plans from
//     the request and the schema cache, without I/O (plan_*.go; the resource
//     tree they share is plan_tree.go and plan_params.go), so a rule about
//     writes or calls is a plan test;
//   - SQL: readSQL, mutateSQL and callSQL render a plan (sqlgen_*.go);
//   - transaction: the settings statement (settings.go) and the plan's
//     statement run through pgexec, the wire-level executor (pipelines,
//     prepared statements, shared read connections), in exec.go;
//   - response: respond.go maps the plan and the result to status,
//     Content-Range, Location, Preference-Applied and body.
package rest
