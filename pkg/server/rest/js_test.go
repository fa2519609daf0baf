package rest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/sfp-dev/sfp/internal/jstest"
)

// jsScript drives the official @supabase/postgrest-js (from supabase-js
// 2.109.0) against the server mounted at /rest/v1/, and prints each
// result's data, error code and status as JSON.
const jsScript = `
import { PostgrestClient } from '@supabase/postgrest-js'
const url = process.env.REST_URL
const mk = (tok) => new PostgrestClient(url, { headers: { Authorization: 'Bearer ' + tok, apikey: tok } })
const anon = mk(process.env.ANON), owner = mk(process.env.OWNER), member = mk(process.env.MEMBER)
const pick = (r) => ({ data: r.data ?? null, code: r.error ? r.error.code : null, count: r.count ?? null, status: r.status })
const out = {}
out.embed = pick(await anon.from('books').select('id,title,author:authors!books_author_id_fkey(name),editor:authors!editor_id(name)').in('id', [1, 3]).order('id'))
out.nested = pick(await member.from('authors').select('name,books!books_author_id_fkey(title,reviews(rating))').eq('id', 2).order('id', { referencedTable: 'books' }))
out.inner = pick(await anon.from('authors').select('name,books!books_author_id_fkey!inner(id)').gt('books.pages', 400))
out.filters = pick(await anon.from('books').select('id').gte('pages', 264).lt('pages', 300).ilike('title', '%s%').order('id', { ascending: false }))
out.or = pick(await anon.from('books').select('id').or('id.eq.1,and(pages.gt.400,available.is.false)').order('id'))
out.not = pick(await anon.from('books').select('id').not('price', 'is', null).order('id'))
out.fts = pick(await anon.from('books').select('id').textSearch('search', "'left' & 'hand'"))
out.contains = pick(await anon.from('books').select('id').contains('genres', ['fantasy', 'humour']))
out.overlaps = pick(await anon.from('books').select('id').overlaps('genres', ['historical', 'humour']).order('id'))
out.jsonPath = pick(await anon.from('books').select('id,lang:data->>lang').eq('data->stats->reads', 50))
out.nullsFirst = pick(await anon.from('books').select('id').order('price', { ascending: true, nullsFirst: true }).limit(2))
out.range = pick(await anon.from('books').select('id', { count: 'exact' }).order('id').range(1, 2))
out.head = pick(await anon.from('books').select('*', { count: 'exact', head: true }))
out.insert = pick(await owner.from('books').insert({ id: 20, author_id: 1, title: 'JS' }).select('id,title'))
out.insertBulk = pick(await owner.from('books').insert([{ id: 21, author_id: 1, title: 'A' }, { id: 22, author_id: 1, title: 'B' }], { count: 'exact' }))
out.upsert = pick(await owner.from('books').upsert({ id: 20, author_id: 1, title: 'JS2' }).select('id,title'))
out.upsertIgnore = pick(await owner.from('books').upsert({ id: 20, author_id: 1, title: 'JS3' }, { ignoreDuplicates: true }).select('id,title'))
out.update = pick(await owner.from('books').update({ pages: 99 }).eq('id', 20).select('id,pages').single())
out.del = pick(await owner.from('books').delete().in('id', [20, 21, 22]).select('id').order('id'))
out.rpc = pick(await anon.rpc('add', { a: 1, b: 2 }))
out.rpcGet = pick(await anon.rpc('add', { a: 2, b: 3 }, { get: true }))
out.rpcSet = pick(await anon.rpc('book_titles', { min_pages: 400 }))
out.rpcTable = pick(await anon.rpc('books_by_author', { author: 2 }).select('id,title').order('id', { ascending: false }))
out.rpcVoid = pick(await owner.rpc('touch_author', { author: 1 }))
out.single = pick(await anon.from('books').select('id,title').eq('id', 5).single())
out.singleErr = pick(await anon.from('books').select('id').single())
out.maybeNone = pick(await anon.from('books').select('id').eq('id', 999).maybeSingle())
out.maybeOne = pick(await anon.from('books').select('id').eq('id', 2).maybeSingle())
out.pt409 = pick(await anon.rpc('bump', { v: 2 }))
out.unique = pick(await owner.from('books').insert({ author_id: 1, title: 'dup', isbn: '978-0' }))
out.fk = pick(await owner.from('reviews').insert({ book_id: 999, rating: 3 }))
out.rls = pick(await anon.from('books').insert({ author_id: 1, title: 'x' }))
out.rlsMember = pick(await member.from('books').insert({ author_id: 1, title: 'x' }))
out.unknownTable = pick(await anon.from('nope').select())
out.unknownColumn = pick(await anon.from('books').select('nope'))
out.badFilter = pick(await anon.from('books').select('id').filter('id', 'eqq', 1))
console.log(JSON.stringify(out))
`

// TestPostgrestJS checks the official JS client gets the results, error
// codes and statuses the real PostgREST gives.
func TestPostgrestJS(t *testing.T) {
	e := newEnv(t)
	mux := http.NewServeMux()
	mux.Handle("/rest/v1/", http.StripPrefix("/rest/v1", e.srv))
	hs := httptest.NewServer(mux)
	defer hs.Close()
	raw := jstest.Run(t, jsScript, map[string]string{
		"REST_URL": hs.URL + "/rest/v1",
		"ANON":     e.anon,
		"OWNER":    userJWT(uidUrsula),
		"MEMBER":   userJWT(uidReader),
	})
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("script output: %v\n%s", err, raw)
	}
	want := map[string]string{
		"embed": `{"data":[{"id":1,"title":"A Wizard of Earthsea","author":{"name":"Ursula K. Le Guin"},"editor":{"name":"Terry Pratchett"}},
			{"id":3,"title":"Guards! Guards!","author":{"name":"Terry Pratchett"},"editor":{"name":"Ursula K. Le Guin"}}],"code":null,"count":null,"status":200}`,
		"nested":        `{"data":[{"name":"Terry Pratchett","books":[{"title":"Guards! Guards!","reviews":[{"rating":5}]},{"title":"Small Gods","reviews":[]}]}],"code":null,"count":null,"status":200}`,
		"inner":         `{"data":[{"name":"Terry Pratchett","books":[{"id":3}]}],"code":null,"count":null,"status":200}`,
		"filters":       `{"data":[{"id":4},{"id":2}],"code":null,"count":null,"status":200}`,
		"or":            `{"data":[{"id":1},{"id":3}],"code":null,"count":null,"status":200}`,
		"not":           `{"data":[{"id":1},{"id":2},{"id":3},{"id":5}],"code":null,"count":null,"status":200}`,
		"fts":           `{"data":[{"id":2}],"code":null,"count":null,"status":200}`,
		"contains":      `{"data":[{"id":3}],"code":null,"count":null,"status":200}`,
		"overlaps":      `{"data":[{"id":3},{"id":5}],"code":null,"count":null,"status":200}`,
		"jsonPath":      `{"data":[{"id":2,"lang":"en"}],"code":null,"count":null,"status":200}`,
		"nullsFirst":    `{"data":[{"id":4},{"id":3}],"code":null,"count":null,"status":200}`,
		"range":         `{"data":[{"id":2},{"id":3}],"code":null,"count":5,"status":206}`,
		"head":          `{"data":null,"code":null,"count":5,"status":200}`,
		"insert":        `{"data":[{"id":20,"title":"JS"}],"code":null,"count":null,"status":201}`,
		"insertBulk":    `{"data":null,"code":null,"count":2,"status":201}`,
		"upsert":        `{"data":[{"id":20,"title":"JS2"}],"code":null,"count":null,"status":200}`,
		"upsertIgnore":  `{"data":[],"code":null,"count":null,"status":201}`,
		"update":        `{"data":{"id":20,"pages":99},"code":null,"count":null,"status":200}`,
		"del":           `{"data":[{"id":20},{"id":21},{"id":22}],"code":null,"count":null,"status":200}`,
		"rpc":           `{"data":3,"code":null,"count":null,"status":200}`,
		"rpcGet":        `{"data":5,"code":null,"count":null,"status":200}`,
		"rpcSet":        `{"data":["Guards! Guards!"],"code":null,"count":null,"status":200}`,
		"rpcTable":      `{"data":[{"id":4,"title":"Small Gods"},{"id":3,"title":"Guards! Guards!"}],"code":null,"count":null,"status":200}`,
		"rpcVoid":       `{"data":null,"code":null,"count":null,"status":204}`,
		"single":        `{"data":{"id":5,"title":"Kindred"},"code":null,"count":null,"status":200}`,
		"singleErr":     `{"data":null,"code":"PGRST116","count":null,"status":406}`,
		"maybeNone":     `{"data":null,"code":null,"count":null,"status":200}`,
		"maybeOne":      `{"data":{"id":2},"code":null,"count":null,"status":200}`,
		"pt409":         `{"data":null,"code":"PT409","count":null,"status":409}`,
		"unique":        `{"data":null,"code":"23505","count":null,"status":409}`,
		"fk":            `{"data":null,"code":"23503","count":null,"status":409}`,
		"rls":           `{"data":null,"code":"42501","count":null,"status":401}`,
		"rlsMember":     `{"data":null,"code":"42501","count":null,"status":403}`,
		"unknownTable":  `{"data":null,"code":"PGRST205","count":null,"status":404}`,
		"unknownColumn": `{"data":null,"code":"42703","count":null,"status":400}`,
		"badFilter":     `{"data":null,"code":"PGRST100","count":null,"status":400}`,
	}
	for k, w := range want {
		if d := cmp.Diff(mustJSON(t, w), got[k]); d != "" {
			t.Errorf("%s (-want +got):\n%s", k, d)
		}
	}
}
