package realtimeserver

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Private channels are authorised as Supabase Realtime authorises them: by
// the row-level security policies of realtime.messages, once per join,
// under the subscriber's role and claims with realtime.topic set to the
// channel's name. Delivery then checks nothing per subscriber: whoever
// joined a private topic receives its private messages.
//
// The official server reads by inserting a broadcast and a presence row
// for the topic, switching to the subscriber's role and selecting them
// back (the SELECT policies decide what comes back); it writes by inserting
// rows under the role (the INSERT policies decide, a refusal being
// insufficient_privilege); and it rolls everything back. This server does
// the same in one transaction per join. It connects as authenticator,
// which cannot bypass row-level security, so the rows read back are
// inserted by realtime.sfp_probe_messages (SECURITY DEFINER, owned by the
// table's owner; supabase/platform/40_realtime.sql).

// privatePerms is what a subscriber may do on a private topic.
type privatePerms struct {
	readBroadcast, readPresence   bool
	writeBroadcast, writePresence bool
}

// canJoin: a private join needs a read permission (broadcast or presence).
func (p privatePerms) canJoin() bool { return p.readBroadcast || p.readPresence }

// setPolicyContextSQL sets what policies on realtime.messages read: the
// role, the JWT claims and the topic, for this transaction only.
const setPolicyContextSQL = `select set_config('role', $1, true), set_config('request.jwt.claims', $2, true), set_config('realtime.topic', $3, true)`

// authorizePrivate checks the read and write policies of realtime.messages
// for topic under the subscriber's role and claims. A database without
// realtime.messages (or its probe function) denies everything.
func (s *Server) authorizePrivate(ctx context.Context, a *authState, topic string) (privatePerms, error) {
	var p privatePerms
	tx, err := s.cfg.Pool.Begin(ctx)
	if err != nil {
		return p, fmt.Errorf("authorise private channel: %w", err)
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	var bid, pid string
	err = tx.QueryRow(ctx, `select broadcast_id::text, presence_id::text from realtime.sfp_probe_messages($1)`, topic).Scan(&bid, &pid)
	if err != nil {
		if isMissing(err) {
			s.log.Warn("private channel refused: realtime.messages is missing (platform SQL not applied?)", "error", err)
			return p, nil
		}
		return p, fmt.Errorf("authorise private channel: probe: %w", err)
	}
	if _, err := tx.Exec(ctx, setPolicyContextSQL, a.role, string(a.claims), topic); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && (pe.Code == "22023" || pe.Code == "42704" || pe.Code == "42501") {
			return p, nil // a role the server may not switch to reads nothing
		}
		return p, fmt.Errorf("authorise private channel: set role: %w", err)
	}
	rows, err := tx.Query(ctx, `select extension from realtime.messages
		where topic = $1 and ((extension = 'broadcast' and id = $2::uuid) or (extension = 'presence' and id = $3::uuid))`, topic, bid, pid)
	if err != nil {
		if isPrivilege(err) {
			return p, nil
		}
		return p, fmt.Errorf("authorise private channel: read: %w", err)
	}
	for rows.Next() {
		var ext string
		if err := rows.Scan(&ext); err != nil {
			rows.Close()
			return p, fmt.Errorf("authorise private channel: read: %w", err)
		}
		p.readBroadcast = p.readBroadcast || ext == "broadcast"
		p.readPresence = p.readPresence || ext == "presence"
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		if isPrivilege(err) {
			return p, nil
		}
		return p, fmt.Errorf("authorise private channel: read: %w", err)
	}
	if p.writeBroadcast, err = probeInsert(ctx, tx, topic, "broadcast"); err != nil {
		return p, err
	}
	if p.writePresence, err = probeInsert(ctx, tx, topic, "presence"); err != nil {
		return p, err
	}
	return p, nil
}

// probeInsert tries, in a savepoint, to insert a message of extension for
// topic under the transaction's role: the INSERT policies decide.
func probeInsert(ctx context.Context, tx pgx.Tx, topic, extension string) (bool, error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return false, fmt.Errorf("authorise private channel: savepoint: %w", err)
	}
	_, err = sp.Exec(ctx, `insert into realtime.messages (topic, extension, private) values ($1, $2, true)`, topic, extension)
	if err != nil {
		_ = sp.Rollback(ctx)
		if isPrivilege(err) {
			return false, nil
		}
		return false, fmt.Errorf("authorise private channel: write %s: %w", extension, err)
	}
	if err := sp.Rollback(ctx); err != nil {
		return false, fmt.Errorf("authorise private channel: savepoint: %w", err)
	}
	return true, nil
}

// isPrivilege reports insufficient_privilege: a policy or grant refused.
func isPrivilege(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "42501"
}

// isMissing reports an undefined table, function or schema.
func isMissing(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "42P01" || pe.Code == "42883" || pe.Code == "3F000")
}

// isPgError reports an error the database answered (as opposed to a
// connection failure).
func isPgError(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe)
}
