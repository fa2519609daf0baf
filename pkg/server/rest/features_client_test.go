package rest

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
	postgrest "github.com/supabase-community/postgrest-go"

	"github.com/sfp-dev/sfp/internal/jstest"
)

// featuresJSScript drives supabase-js (createClient, through the kong.yml
// gateway) over the films fixture: many-to-many embeds, a self-reference
// hinted by its foreign key's name, computed fields, aggregates and
// to-many spreads.
const featuresJSScript = `
import { createClient } from '@supabase/supabase-js'
class NoWebSocket { constructor() { throw new Error('realtime is not used by this test') } }
const sb = createClient(process.env.SUPABASE_URL, process.env.SUPABASE_ANON_KEY, {
  auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  realtime: { transport: NoWebSocket },
})
const pick = (r) => ({ data: r.data ?? null, code: r.error ? r.error.code : null, status: r.status })
const out = {}
out.m2m = pick(await sb.from('films').select('title, actors(first_name)').order('id').order('id', { referencedTable: 'actors' }).limit(2))
out.m2mReverse = pick(await sb.from('actors').select('last_name, films(title)').eq('id', 2))
out.m2mInner = pick(await sb.from('films').select('id, actors!inner(id)').eq('actors.last_name', 'Hauer'))
out.m2mNotNull = pick(await sb.from('films').select('id, actors()').not('actors', 'is', null).order('id'))
out.m2mComposite = pick(await sb.from('directors').select('last_name, films(id)').eq('last_name', 'Mann'))
out.twoJunctions = pick(await sb.from('teams').select('players(name)'))
out.junctionHint = pick(await sb.from('teams').select('players!team_tryouts(name)'))
out.selfByName = pick(await sb.from('cities').select('name, cities!cities_sister_fk(name)').eq('id', 1))
out.computed = pick(await sb.from('people').select('id, full_name').eq('full_name', 'Alan Turing'))
out.computedOrder = pick(await sb.from('people').select('full_name').order('full_name', { ascending: false }))
out.aggregate = pick(await sb.from('orders').select('status, total:amount.sum(), count()').order('status'))
out.aggregateEmbed = pick(await sb.from('customers').select('name, orders(amount.max())').eq('id', 1))
out.spreadToMany = pick(await sb.from('countries').select('name, ...cities(names:name)').order('id').order('id', { referencedTable: 'cities' }))
console.log(JSON.stringify(out))
`

// TestFeaturesSupabaseJS runs featuresJSScript through the gateway, with
// aggregates turned on the way a Supabase project turns them on: a
// setting on the authenticator role.
func TestFeaturesSupabaseJS(t *testing.T) {
	e := newEnv(t, filmsSQL, roleSettingSQL("pgrst.db_aggregates_enabled", "true"))
	if err := e.srv.ReloadConfig(context.Background()); err != nil {
		t.Fatal(err)
	}
	base := withGateway(t, e)
	raw := jstest.Run(t, featuresJSScript, map[string]string{"SUPABASE_URL": base, "SUPABASE_ANON_KEY": e.anon})
	var got map[string]any
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatalf("script output: %v\n%s", err, raw)
	}
	want := map[string]string{
		"m2m": `{"data":[{"title":"Alien","actors":[{"first_name":"Sigourney"}]},
			{"title":"Blade Runner","actors":[{"first_name":"Harrison"},{"first_name":"Rutger"}]}],"code":null,"status":200}`,
		"m2mReverse":     `{"data":[{"last_name":"Ford","films":[{"title":"Blade Runner"}]}],"code":null,"status":200}`,
		"m2mInner":       `{"data":[{"id":2,"actors":[{"id":3}]}],"code":null,"status":200}`,
		"m2mNotNull":     `{"data":[{"id":1},{"id":2},{"id":3}],"code":null,"status":200}`,
		"m2mComposite":   `{"data":[{"last_name":"Mann","films":[{"id":3}]}],"code":null,"status":200}`,
		"twoJunctions":   `{"data":null,"code":"PGRST201","status":300}`,
		"junctionHint":   `{"data":[{"players":[{"name":"Bob"}]}],"code":null,"status":200}`,
		"selfByName":     `{"data":[{"name":"Paris","cities":[{"name":"Rome"},{"name":"Lyon"}]}],"code":null,"status":200}`,
		"computed":       `{"data":[{"id":2,"full_name":"Alan Turing"}],"code":null,"status":200}`,
		"computedOrder":  `{"data":[{"full_name":"Alan Turing"},{"full_name":"Ada Lovelace"}],"code":null,"status":200}`,
		"aggregate":      `{"data":[{"status":"open","total":105.25,"count":2},{"status":"paid","total":38.25,"count":3}],"code":null,"status":200}`,
		"aggregateEmbed": `{"data":[{"name":"Acme","orders":[{"max":20.00}]}],"code":null,"status":200}`,
		"spreadToMany": `{"data":[{"name":"France","names":["Paris","Lyon"]},{"name":"Italy","names":["Rome"]},{"name":"Nowhere","names":[]}],
			"code":null,"status":200}`,
	}
	for k, w := range want {
		if d := cmp.Diff(mustJSON(t, w), got[k]); d != "" {
			t.Errorf("%s (-want +got):\n%s", k, d)
		}
	}
}

// TestFeaturesPostgrestGo: the same features through the gateway with
// postgrest-go.
func TestFeaturesPostgrestGo(t *testing.T) {
	e := newEnvWith(t, func(c *Config) { c.AggregatesEnabled = true }, filmsSQL)
	base := withGateway(t, e)
	c := postgrest.NewClient(base+"/rest/v1", "public", map[string]string{"apikey": e.anon})
	c.SetAuthToken(e.anon)
	asc := &postgrest.OrderOpts{Ascending: true}
	check := func(what string, fb *postgrest.FilterBuilder, want string) {
		t.Helper()
		body, _, err := fb.Execute()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if d := cmp.Diff(mustJSON(t, want), mustJSON(t, string(body))); d != "" {
			t.Errorf("%s (-want +got):\n%s", what, d)
		}
	}
	check("many-to-many", c.From("films").Select("title,actors(last_name)", "", false).Eq("id", "3"),
		`[{"title":"Heat","actors":[{"last_name":"Pacino"}]}]`)
	check("many-to-many, top-level filtering", c.From("actors").Select("id,films()", "", false).Is("films", "null"),
		`[{"id":5}]`)
	check("self-reference by its foreign key's name", c.From("emp").Select("name,emp!emp_boss_id_fkey(name)", "", false).Eq("id", "2"),
		`[{"name":"Ann","emp":[{"name":"Cid"}]}]`)
	check("computed field", c.From("people").Select("initials", "", false).Order("id", asc),
		`[{"initials":"AL"},{"initials":"AT"}]`)
	check("aggregates grouped", c.From("orders").Select("customer_id,amount.sum(),count()", "", false).Order("customer_id", asc),
		`[{"customer_id":1,"sum":30.50,"count":2},{"customer_id":2,"sum":13.00,"count":2},{"customer_id":3,"sum":100.00,"count":1}]`)
	check("spread to-many", c.From("films").Select("id,...directors(last_name)", "", false).Eq("id", "1"),
		`[{"id":1,"last_name":["Scott"]}]`)
	// postgrest-go reports errors from status 400 on; the 300 comes back
	// as the body.
	body, _, _ := c.From("teams").Select("players(name)", "", false).Execute()
	var m map[string]any
	if json.Unmarshal(body, &m) != nil || m["code"] != codeAmbiguousRel {
		t.Errorf("two junctions: %s", body)
	}
}
