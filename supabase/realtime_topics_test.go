package supabase_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

// The private Realtime topics of tasks and deployments: realtime.messages'
// SELECT policy (what Realtime checks when a client joins a private
// channel, with realtime.topic set to the channel's topic) admits viewers,
// members and owners of the owning account, and nobody else.
func TestRealtimeTopicPolicy(t *testing.T) {
	t.Parallel()
	db := newFixtureDB(t)
	topics := map[string]string{
		"task":       "task:" + accA.Task,
		"deployment": "deployment:" + accA.Deployment,
	}
	for _, topic := range topics {
		if _, err := db.Admin(t).Exec(context.Background(),
			`insert into realtime.messages (topic, extension, private) values ($1, 'broadcast', true)`, topic); err != nil {
			t.Fatal(err)
		}
	}
	canRead := func(uid, topic string) bool {
		var n int
		err := asRole(t, db, user(uid), func(ctx context.Context, tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `select set_config('realtime.topic', $1, true)`, topic); err != nil {
				return err
			}
			return tx.QueryRow(ctx, `select count(*) from realtime.messages where topic = $1`, topic).Scan(&n)
		})
		if err != nil {
			t.Fatalf("%s reads %s: %v", uid, topic, err)
		}
		return n > 0
	}
	for kind, topic := range topics {
		for who, uid := range map[string]string{"owner": accA.Owner, "member": accA.Member, "viewer": accA.Viewer} {
			if !canRead(uid, topic) {
				t.Errorf("%s of the account may not join the %s topic", who, kind)
			}
		}
		for who, uid := range map[string]string{"other account's owner": accB.Owner, "outsider": outsider} {
			if canRead(uid, topic) {
				t.Errorf("%s may join the %s topic of account A", who, kind)
			}
		}
	}
}

// Under docker compose the migrations run before the realtime container
// creates realtime.messages and its functions: task and deployment
// updates must still work (the trigger skips broadcasting), and the policy
// can be created later, once the table exists.
func TestRealtimeTopicsBeforeRealtime(t *testing.T) {
	t.Parallel()
	db := newFixtureDB(t)
	admin := db.Admin(t)
	ctx := context.Background()
	if _, err := admin.Exec(ctx, `drop function realtime.broadcast_changes(text, text, text, text, text, record, record, text);
		drop table realtime.messages cascade`); err != nil {
		t.Fatal(err)
	}
	mustQuery(t, db, user(accA.Member), nil, `update public.deployments set status = 'running', progress = 10 where id = $1`, accA.Deployment)
	var created bool
	adminScan(t, db, &created, `select sfp_private.ensure_realtime_topic_policy()`)
	if created {
		t.Fatal("the policy was reported created without realtime.messages")
	}
	if _, err := admin.Exec(ctx, `create table realtime.messages (topic text not null, extension text not null, payload jsonb,
		event text, private boolean default false, updated_at timestamp not null default now(),
		inserted_at timestamp not null default now(), id uuid not null default gen_random_uuid());
		alter table realtime.messages enable row level security;
		grant select on realtime.messages to authenticated`); err != nil {
		t.Fatal(err)
	}
	adminScan(t, db, &created, `select sfp_private.ensure_realtime_topic_policy()`)
	var policies int
	adminScan(t, db, &policies, `select count(*) from pg_policies where schemaname = 'realtime' and tablename = 'messages' and policyname = 'sfp_watch_resource_topics'`)
	if !created || policies != 1 {
		t.Fatalf("ensure_realtime_topic_policy = %v, %d policies", created, policies)
	}
}
