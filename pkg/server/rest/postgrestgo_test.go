package rest

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	postgrest "github.com/supabase-community/postgrest-go"
)

// pgClient is a postgrest-go v0.0.11 client for one role. The library
// shares one header map per client, so each role gets its own client.
func (e *env) pgClient(token string) *postgrest.Client {
	c := postgrest.NewClient(e.http.URL, "public", nil)
	if token != "" {
		c.SetAuthToken(token)
	}
	return c
}

type book struct {
	ID     int      `json:"id"`
	Title  string   `json:"title"`
	Genres []string `json:"genres"`
	Author *struct {
		Name string `json:"name"`
	} `json:"author,omitempty"`
}

func bookIDs(bs []book) []int {
	out := make([]int, len(bs))
	for i, b := range bs {
		out[i] = b.ID
	}
	return out
}

// TestPostgrestGo drives every operator and feature postgrest-go can
// express, as anon, a member (signed-in reader), an owner (the author's
// user) and service_role. RLS decides what each sees and may change.
func TestPostgrestGo(t *testing.T) {
	e := newEnv(t)
	roles := []struct {
		name  string
		token string
		// what RLS lets the role do
		seesReviews, writesOwnBook, writesReview, writesAnyBook bool
	}{
		{"anon", e.anon, false, false, false, false},
		{"member", userJWT(uidReader), true, false, true, false},
		{"owner", userJWT(uidUrsula), true, true, true, false},
		{"service_role", e.svc, true, true, false, true},
	}
	asc := &postgrest.OrderOpts{Ascending: true}
	for i, role := range roles {
		t.Run(role.name, func(t *testing.T) {
			c := e.pgClient(role.token)
			sel := func(name string, build func(*postgrest.FilterBuilder) *postgrest.FilterBuilder, want []int) {
				t.Helper()
				var got []book
				if _, err := build(c.From("books").Select("id,title,genres", "", false)).Order("id", asc).ExecuteTo(&got); err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if fmt.Sprint(bookIDs(got)) != fmt.Sprint(want) {
					t.Errorf("%s: ids %v, want %v", name, bookIDs(got), want)
				}
			}
			type fb = *postgrest.FilterBuilder
			sel("eq", func(f fb) fb { return f.Eq("id", "3") }, []int{3})
			sel("neq", func(f fb) fb { return f.Neq("id", "3") }, []int{1, 2, 4, 5})
			sel("gt", func(f fb) fb { return f.Gt("pages", "284") }, []int{2, 3})
			sel("gte", func(f fb) fb { return f.Gte("pages", "284") }, []int{2, 3, 4})
			sel("lt", func(f fb) fb { return f.Lt("pages", "264") }, []int{1})
			sel("lte", func(f fb) fb { return f.Lte("pages", "264") }, []int{1, 5})
			sel("like", func(f fb) fb { return f.Like("title", "*Gods*") }, []int{4})
			sel("ilike", func(f fb) fb { return f.Ilike("title", "*guards*") }, []int{3})
			sel("is", func(f fb) fb { return f.Is("price", "null") }, []int{4})
			sel("in", func(f fb) fb { return f.In("isbn", []string{"978-0", "978-4", "x,y"}) }, []int{1, 5})
			sel("contains", func(f fb) fb { return f.Contains("genres", []string{"fantasy", "humour"}) }, []int{3})
			sel("containedBy", func(f fb) fb { return f.ContainedBy("genres", []string{"fantasy", "humour"}) }, []int{1, 3, 4})
			sel("containsObject", func(f fb) fb { return f.ContainsObject("data", map[string]any{"stats": map[string]int{"reads": 50}}) }, []int{2})
			sel("overlaps", func(f fb) fb { return f.Overlaps("genres", []string{"historical", "humour"}) }, []int{3, 5})
			sel("rangeLt", func(f fb) fb { return f.RangeLt("period", "[20,30)") }, []int{1, 2, 3, 5})
			sel("rangeGt", func(f fb) fb { return f.RangeGt("period", "[0,2)") }, []int{2, 3, 5})
			sel("rangeGte", func(f fb) fb { return f.RangeGte("period", "[4,100)") }, []int{3, 5})
			sel("rangeLte", func(f fb) fb { return f.RangeLte("period", "[0,5)") }, []int{1})
			sel("rangeAdjacent", func(f fb) fb { return f.RangeAdjacent("period", "[8,10)") }, []int{2, 3})
			sel("textSearch", func(f fb) fb { return f.TextSearch("search", "wizard", "", "") }, []int{1})
			sel("textSearch plain", func(f fb) fb { return f.TextSearch("search", "left hand", "english", "plain") }, []int{2})
			sel("textSearch phrase", func(f fb) fb { return f.TextSearch("search", "small gods", "english", "phrase") }, []int{4})
			sel("textSearch websearch", func(f fb) fb { return f.TextSearch("search", "guards -earthsea", "english", "websearch") }, []int{3})
			// postgrest-go has no match, imatch or isdistinct (its Filter
			// rejects them and poisons the client): TestFilters covers them.
			sel("filter fts", func(f fb) fb { return f.Filter("search", "fts", "wizard") }, []int{1})
			sel("not", func(f fb) fb { return f.Not("id", "in", "(1,2)") }, []int{3, 4, 5})
			sel("or", func(f fb) fb { return f.Or("pages.lt.200,pages.gt.400", "") }, []int{1, 3})
			sel("and nested or", func(f fb) fb { return f.And("genres.cs.{fantasy},or(price.is.null,price.lt.9)", "") }, []int{3, 4})
			sel("match", func(f fb) fb { return f.Match(map[string]string{"author_id": "2", "pages": "416"}) }, []int{3})
			sel("json path", func(f fb) fb { return f.Eq("data->>lang", "en").Gt("data->stats->reads", "60") }, []int{1})
			sel("limit", func(f fb) fb { return f.Limit(2, "") }, []int{1, 2})
			sel("range", func(f fb) fb { return f.Range(1, 3, "") }, []int{2, 3, 4})

			// Order (descending by default in postgrest-go) with nulls placement.
			var ordered []book
			if _, err := c.From("books").Select("id", "", false).Order("price", &postgrest.OrderOpts{NullsFirst: true}).ExecuteTo(&ordered); err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(bookIDs(ordered)) != "[4 2 5 1 3]" {
				t.Errorf("order desc nulls first: %v", bookIDs(ordered))
			}
			// Count and embedding.
			var embedded []book
			n, err := c.From("books").Select("id,title,author:authors!books_author_id_fkey(name)", "exact", false).
				Eq("author_id", "2").Order("id", asc).ExecuteTo(&embedded)
			if err != nil || n != 2 || len(embedded) != 2 || embedded[0].Author == nil || embedded[0].Author.Name != "Terry Pratchett" {
				t.Errorf("count and embed: %d %+v %v", n, embedded, err)
			}
			// Embedded order and limit on a foreign table.
			var authors []struct {
				Books []book `json:"books"`
			}
			if _, err := c.From("authors").Select("id,books!books_author_id_fkey(id)", "", false).Eq("id", "2").
				Order("id", &postgrest.OrderOpts{ForeignTable: "books"}).Limit(1, "books").ExecuteTo(&authors); err != nil {
				t.Fatal(err)
			}
			if len(authors) != 1 || fmt.Sprint(bookIDs(authors[0].Books)) != "[4]" {
				t.Errorf("foreign table order/limit: %+v", authors)
			}
			// Single.
			var one book
			if _, err := c.From("books").Select("id,title", "", false).Eq("id", "5").Single().ExecuteTo(&one); err != nil || one.Title != "Kindred" {
				t.Errorf("single: %+v %v", one, err)
			}
			if _, _, err := c.From("books").Select("id", "", false).Single().Execute(); err == nil || !strings.Contains(err.Error(), "PGRST116") {
				t.Errorf("single over many rows: %v", err)
			}
			// HEAD with count.
			if _, n, err := c.From("books").Select("*", "exact", true).Execute(); err != nil || n != 5 {
				t.Errorf("head count: %d %v", n, err)
			}
			// RLS on reads.
			var reviews []map[string]any
			if _, err := c.From("reviews").Select("id", "", false).ExecuteTo(&reviews); err != nil {
				t.Fatal(err)
			}
			if (len(reviews) >= 3) != role.seesReviews || (!role.seesReviews && len(reviews) != 0) {
				t.Errorf("reviews visible: %d", len(reviews))
			}

			// Writes: RLS decides.
			bookID := 100 + i
			var inserted []book
			_, err = c.From("books").Insert(map[string]any{"id": bookID, "author_id": 1, "title": "New " + role.name}, false, "", "", "").ExecuteTo(&inserted)
			if role.writesOwnBook != (err == nil) {
				t.Errorf("insert own book: err=%v", err)
			}
			if err != nil && !strings.Contains(err.Error(), "(42501)") {
				t.Errorf("insert refusal should be 42501: %v", err)
			}
			if err == nil {
				var upd []book
				if _, err := c.From("books").Update(map[string]any{"title": "Renamed"}, "", "").Eq("id", fmt.Sprint(bookID)).ExecuteTo(&upd); err != nil || len(upd) != 1 || upd[0].Title != "Renamed" {
					t.Errorf("update: %+v %v", upd, err)
				}
				var up []book
				if _, err := c.From("books").Upsert(map[string]any{"id": bookID, "author_id": 1, "title": "Upserted"}, "id", "", "").ExecuteTo(&up); err != nil || len(up) != 1 || up[0].Title != "Upserted" {
					t.Errorf("upsert: %+v %v", up, err)
				}
				var del []book
				if _, err := c.From("books").Delete("", "").Eq("id", fmt.Sprint(bookID)).ExecuteTo(&del); err != nil || len(del) != 1 {
					t.Errorf("delete: %+v %v", del, err)
				}
			}
			// Someone else's book: only service_role may change it.
			var upd []book
			_, err = c.From("books").Update(map[string]any{"pages": 417}, "", "").Eq("id", "3").ExecuteTo(&upd)
			if err != nil && role.name != "anon" {
				t.Errorf("update of another's book should be a no-op, not an error: %v", err)
			}
			if (len(upd) == 1) != role.writesAnyBook {
				t.Errorf("update another's book changed %d rows", len(upd))
			}
			_, _, err = c.From("reviews").Insert(map[string]any{"book_id": 2, "rating": 3}, false, "", "minimal", "").Execute()
			if role.writesReview != (err == nil) {
				t.Errorf("insert review: %v", err)
			}
			// RPC.
			if got := c.Rpc("add", "", map[string]int{"a": 2, "b": 3}); got != "5" {
				t.Errorf("rpc add: %q", got)
			}
			var titles []string
			if err := json.Unmarshal([]byte(c.Rpc("book_titles", "", map[string]int{"min_pages": 400})), &titles); err != nil || len(titles) != 1 {
				t.Errorf("rpc set: %v %v", titles, err)
			}
			if got := c.Rpc("bump", "", map[string]int{"v": 5}); !strings.Contains(got, `"code":"PT409"`) {
				t.Errorf("rpc PT409: %s", got)
			}
		})
	}
	// Errors keep their code in postgrest-go's flattened message.
	c := e.pgClient(e.anon)
	for _, tc := range []struct {
		run  func() error
		code string
	}{
		{func() error { _, _, err := c.From("nope").Select("*", "", false).Execute(); return err }, "PGRST205"},
		{func() error { _, _, err := c.From("books").Select("nope", "", false).Execute(); return err }, "42703"},
		{func() error {
			_, _, err := c.From("books").Select("*", "", false).Filter("id", "eq", "x").Execute()
			return err
		}, "22P02"},
	} {
		if err := tc.run(); err == nil || !strings.Contains(err.Error(), "("+tc.code+")") {
			t.Errorf("want %s, got %v", tc.code, err)
		}
	}
}
