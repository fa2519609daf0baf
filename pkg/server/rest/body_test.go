package rest

import "testing"

// TestCSVAndFormBodies: text/csv and form-urlencoded request bodies for
// table writes (and form bodies for calls), as PostgREST reads them.
func TestCSVAndFormBodies(t *testing.T) {
	e := newEnv(t, filmsSQL)
	csv := "id,first_name,last_name,name\n10,Grace,Hopper,\n11,NULL,\"Byron, Lord\",lord\n"
	e.do("POST", "/people?select=id,first_name,last_name,name&order=id", e.svc, csv, "Content-Type", "text/csv", "Prefer", "return=representation").
		expect(t, "csv insert", 201, `[{"id":10,"first_name":"Grace","last_name":"Hopper","name":""},{"id":11,"first_name":null,"last_name":"Byron, Lord","name":"lord"}]`)
	e.do("POST", "/people", e.svc, "id,first_name\n12\n", "Content-Type", "text/csv").expectErr(t, "ragged csv", 400, codeInvalidBody)
	e.do("POST", "/people?select=id,full_name", e.svc, "id=13&first_name=Mary&last_name=Shelley", "Content-Type", "application/x-www-form-urlencoded",
		"Prefer", "return=representation").expect(t, "form insert", 201, `[{"id":13,"full_name":"Mary Shelley"}]`)
	e.do("PATCH", "/people?id=eq.13&select=name", e.svc, "name=mary", "Content-Type", "application/x-www-form-urlencoded",
		"Prefer", "return=representation").expect(t, "form update", 200, `[{"name":"mary"}]`)
	e.do("POST", "/rpc/add", e.anon, "a=1&b=2", "Content-Type", "application/x-www-form-urlencoded").expect(t, "form call", 200, `3`)
	e.do("POST", "/rpc/add", e.anon, "a,b\n1,2\n", "Content-Type", "text/csv").expectErr(t, "csv call", 415, codeMediaType)
	e.do("POST", "/people", e.svc, "<p/>", "Content-Type", "text/xml").expectErr(t, "xml insert", 415, codeMediaType)
}

// TestParamsSingleObject: Prefer: params=single-object was removed in
// PostgREST 13; like v13+, the server ignores it (the body's keys are the
// arguments) and refuses it with handling=strict.
func TestParamsSingleObject(t *testing.T) {
	e := newEnv(t)
	e.do("POST", "/rpc/add", e.anon, `{"a":1,"b":2}`, "Prefer", "params=single-object").expect(t, "ignored", 200, `3`)
	e.do("POST", "/rpc/echo_json", e.anon, `{"x":1}`, "Prefer", "params=single-object").expect(t, "the single json parameter instead", 200, `{"x":1}`)
	e.do("POST", "/rpc/add", e.anon, `{"a":1,"b":2}`, "Prefer", "handling=strict, params=single-object").expectErr(t, "strict", 400, "PGRST122")
}
