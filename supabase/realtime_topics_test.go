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
