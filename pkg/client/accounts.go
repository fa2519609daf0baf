package client

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"net/http"
	"regexp"
	"strings"
	"time"
)

// Role is a member's role in an account, ordered viewer < member < owner:
// viewers read, members also write operational data, owners also manage
// members, integrations and credentials and delete projects.
type Role string

// The account roles.
const (
	RoleViewer Role = "viewer"
	RoleMember Role = "member"
	RoleOwner  Role = "owner"
)

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleMember:
		return 2
	case RoleOwner:
		return 3
	}
	return 0
}

// Valid reports whether r is one of the three roles.
func (r Role) Valid() bool { return r.rank() > 0 }

// AtLeast reports whether r grants everything min grants.
func (r Role) AtLeast(min Role) bool { return r.rank() >= min.rank() && r.Valid() }

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if !r.Valid() {
		return "", fmt.Errorf("role %q is not viewer, member or owner: %w", s, ErrValidation)
	}
	return r, nil
}

// Account is a team. Role is the caller's role in it (empty for
// service_role callers).
type Account struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	Role      Role      `json:"role,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
	CreatedBy string    `json:"created_by,omitempty"`
}

// Member is a user's membership of an account.
type Member struct {
	UserID    string    `json:"user_id"`
	Email     string    `json:"email"`
	Role      Role      `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// AccountsService manages accounts and their members (tables accounts and
// accounts_memberships, RPCs create_account, add_account_member,
// set_account_member_role, remove_account_member, find_user_by_email,
// list_account_members).
type AccountsService struct{ c *Client }

var slugRE = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// MaxSlugLength is the longest account slug (create_account's limit).
const MaxSlugLength = 63

// Slugify derives an account slug from a name: lowercase ASCII letters and
// digits, other runs replaced by one hyphen ("Acme Corp" → "acme-corp").
// It does not shorten: a name too long for a slug gives a slug that
// CheckSlug refuses, so that every place deriving slugs (the CLI, the
// runtime creating the admin's account) refuses the same names.
func Slugify(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if b.Len() > 0 && !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.Trim(b.String(), "-")
}

// CheckSlug says why slug is not a valid account slug — 1 to 63 lowercase
// letters, digits or hyphens, not starting or ending with a hyphen, as
// create_account checks — or returns nil. The error wraps ErrValidation.
func CheckSlug(slug string) error {
	switch {
	case slug == "":
		return fmt.Errorf("invalid slug: it is empty: %w", ErrValidation)
	case len(slug) > MaxSlugLength:
		return fmt.Errorf("invalid slug %q: it has %d characters, at most %d are allowed: %w", slug, len(slug), MaxSlugLength, ErrValidation)
	case !slugRE.MatchString(slug):
		return fmt.Errorf("invalid slug %q (use 1-%d lowercase letters, digits or hyphens, not starting or ending with a hyphen): %w", slug, MaxSlugLength, ErrValidation)
	}
	return nil
}

const accountColumns = "id,name,slug,created_at,updated_at,created_by"

// Create creates an account owned by the signed-in user (RPC
// create_account) and returns it. An empty slug is derived from the name.
// Errors: ErrValidation for a bad name or slug, ErrConflict when the slug
// is taken.
func (s *AccountsService) Create(ctx context.Context, name, slug string) (*Account, error) {
	if slug == "" {
		slug = Slugify(name)
	}
	if err := CheckSlug(slug); err != nil {
		return nil, fmt.Errorf("create account: %w", err)
	}
	id, err := callRPC[string](ctx, s.c, "create account", "create_account", false, map[string]any{"name": name, "slug": slug})
	if err != nil {
		return nil, err
	}
	return s.Get(ctx, id)
}

// Get returns an account by id or slug, with the caller's role.
func (s *AccountsService) Get(ctx context.Context, idOrSlug string) (*Account, error) {
	var a Account
	err := s.c.do(ctx, "get account", true, func(cl *call) error {
		fb := cl.from("accounts").Select(accountColumns, "", false)
		if isUUID(idOrSlug) {
			fb = fb.Eq("id", idOrSlug)
		} else {
			fb = fb.Eq("slug", idOrSlug)
		}
		return cl.exec(fb.Single(), &a)
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) && errors.Is(err, ErrNotFound) {
			e.Message = fmt.Sprintf("no account %q (or you are not a member of it)", idOrSlug)
		}
		return nil, err
	}
	if role, err := s.MyRole(ctx, a.ID); err == nil {
		a.Role = role
	}
	return &a, nil
}

// List returns a page of the accounts the caller belongs to (every account
// for service_role), newest first, with the caller's role.
func (s *AccountsService) List(ctx context.Context, opts *ListOptions) (*Page[Account], error) {
	var p *Page[Account]
	err := s.c.do(ctx, "list accounts", true, func(cl *call) error {
		var err error
		p, err = listByCreated(cl, cl.from("accounts").Select(accountColumns, "", false), opts,
			func(a *Account) (time.Time, string) { return a.CreatedAt, a.ID })
		return err
	})
	if err != nil {
		return nil, err
	}
	roles, err := s.myRoles(ctx)
	if err != nil {
		return nil, err
	}
	for i := range p.Items {
		p.Items[i].Role = roles[p.Items[i].ID]
	}
	return p, nil
}

// All iterates every account List would return, page by page.
func (s *AccountsService) All(ctx context.Context) iter.Seq2[Account, error] {
	return all(ctx, nil, s.List)
}

// userID is the signed-in user's id, or "" without a session.
func (c *Client) userID(ctx context.Context) (string, error) {
	sess, err := c.sess.current(ctx)
	if err != nil || sess == nil {
		return "", err
	}
	return sess.User.ID, nil
}

// myRoles maps account id to the caller's role.
func (s *AccountsService) myRoles(ctx context.Context) (map[string]Role, error) {
	uid, err := s.c.userID(ctx)
	if err != nil || uid == "" {
		return map[string]Role{}, err
	}
	var rows []struct {
		AccountID string `json:"account_id"`
		Role      Role   `json:"account_role"`
	}
	err = s.c.do(ctx, "list memberships", true, func(cl *call) error {
		return cl.exec(cl.from("accounts_memberships").Select("account_id,account_role", "", false).
			Eq("user_id", uid).Limit(MaxPageSize, ""), &rows)
	})
	if err != nil {
		return nil, err
	}
	m := make(map[string]Role, len(rows))
	for _, r := range rows {
		m[r.AccountID] = r.Role
	}
	return m, nil
}

// MyRole returns the signed-in user's role in the account, or "" when it
// is not a member (or the client has no session).
func (s *AccountsService) MyRole(ctx context.Context, accountID string) (Role, error) {
	uid, err := s.c.userID(ctx)
	if err != nil || uid == "" {
		return "", err
	}
	if err := validUUID("account id", accountID); err != nil {
		return "", err
	}
	var rows []struct {
		Role Role `json:"account_role"`
	}
	err = s.c.do(ctx, "get role", true, func(cl *call) error {
		return cl.exec(cl.from("accounts_memberships").Select("account_role", "", false).
			Eq("account_id", accountID).Eq("user_id", uid), &rows)
	})
	if err != nil || len(rows) == 0 {
		return "", err
	}
	return rows[0].Role, nil
}

// Rename changes an account's name (owners).
func (s *AccountsService) Rename(ctx context.Context, accountID, name string) (*Account, error) {
	if err := validUUID("account id", accountID); err != nil {
		return nil, err
	}
	var rows []Account
	err := s.c.do(ctx, "rename account", false, func(cl *call) error {
		return cl.exec(cl.from("accounts").Update(map[string]any{"name": name}, "representation", "").
			Eq("id", accountID), &rows)
	})
	if err != nil {
		return nil, s.c.explain(ctx, err, accountID, RoleOwner)
	}
	if len(rows) == 0 {
		return nil, s.c.noRows(ctx, "rename account", "accounts", accountID, accountID, RoleOwner)
	}
	rows[0].Role, _ = s.MyRole(ctx, accountID)
	return &rows[0], nil
}

// Delete deletes an account and all its data (owners).
func (s *AccountsService) Delete(ctx context.Context, accountID string) error {
	if err := validUUID("account id", accountID); err != nil {
		return err
	}
	var rows []struct{ ID string }
	err := s.c.do(ctx, "delete account", false, func(cl *call) error {
		return cl.exec(cl.from("accounts").Delete("representation", "").Eq("id", accountID), &rows)
	})
	if err != nil {
		return s.c.explain(ctx, err, accountID, RoleOwner)
	}
	if len(rows) == 0 {
		return s.c.noRows(ctx, "delete account", "accounts", accountID, accountID, RoleOwner)
	}
	return nil
}

// Members lists the account's members with their email and role, owners
// first (RPC list_account_members).
func (s *AccountsService) Members(ctx context.Context, accountID string) ([]Member, error) {
	if err := validUUID("account id", accountID); err != nil {
		return nil, err
	}
	var rows []struct {
		UserID    string    `json:"user_id"`
		Email     string    `json:"email"`
		Role      Role      `json:"account_role"`
		CreatedAt time.Time `json:"created_at"`
	}
	err := s.c.do(ctx, "list members", true, func(cl *call) error {
		return cl.rpc("list_account_members", map[string]any{"account_id": accountID}, false, &rows)
	})
	if err != nil {
		return nil, s.c.explain(ctx, err, accountID, RoleViewer)
	}
	out := make([]Member, len(rows))
	for i, r := range rows {
		out[i] = Member{UserID: r.UserID, Email: r.Email, Role: r.Role, CreatedAt: r.CreatedAt}
	}
	return out, nil
}

// FindUserByEmail returns the id of the user with that email (owners of
// the account only; RPC find_user_by_email). ErrNotFound when there is no
// such user.
func (s *AccountsService) FindUserByEmail(ctx context.Context, accountID, email string) (string, error) {
	if err := validUUID("account id", accountID); err != nil {
		return "", err
	}
	id, err := callRPC[*string](ctx, s.c, "find user", "find_user_by_email", true, map[string]any{"account_id": accountID, "email": email})
	if err != nil {
		return "", s.c.explain(ctx, err, accountID, RoleOwner)
	}
	if id == nil || *id == "" {
		return "", &Error{Op: "find user", StatusCode: http.StatusNotFound, Code: "PT404",
			Message: fmt.Sprintf("no user with email %s", email),
			Hint:    "the user signs up (or an administrator creates the user) first"}
	}
	return *id, nil
}

type membershipRow struct {
	AccountID string    `json:"account_id"`
	UserID    string    `json:"user_id"`
	Role      Role      `json:"account_role"`
	CreatedAt time.Time `json:"created_at"`
}

// resolveUser accepts a user id or an email. An email is looked up among
// the account's members first (any member may list them), then with
// find_user_by_email (owners only), so members can name themselves.
func (s *AccountsService) resolveUser(ctx context.Context, accountID, user string) (string, string, error) {
	if isUUID(user) {
		return user, "", nil
	}
	if ms, err := s.Members(ctx, accountID); err == nil {
		for _, m := range ms {
			if strings.EqualFold(m.Email, strings.TrimSpace(user)) {
				return m.UserID, m.Email, nil
			}
		}
	}
	id, err := s.FindUserByEmail(ctx, accountID, user)
	return id, user, err
}

// AddMember adds a user (id or email) to the account with a role, or
// changes the role of an existing member (owners; RPC add_account_member).
func (s *AccountsService) AddMember(ctx context.Context, accountID, user string, role Role) (*Member, error) {
	return s.memberCall(ctx, "add member", "add_account_member", accountID, user, role)
}

// SetMemberRole changes a member's role (owners; RPC
// set_account_member_role). Demoting the last owner is ErrValidation.
func (s *AccountsService) SetMemberRole(ctx context.Context, accountID, user string, role Role) (*Member, error) {
	return s.memberCall(ctx, "set role", "set_account_member_role", accountID, user, role)
}

// memberCall gives user (id or email) role in the account through the
// owners' RPC fn, which takes the account, the user id and the role and
// answers the membership.
func (s *AccountsService) memberCall(ctx context.Context, op, fn, accountID, user string, role Role) (*Member, error) {
	if err := validUUID("account id", accountID); err != nil {
		return nil, err
	}
	if !role.Valid() {
		return nil, fmt.Errorf("%s: role %q is not viewer, member or owner: %w", op, role, ErrValidation)
	}
	uid, email, err := s.resolveUser(ctx, accountID, user)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	row, err := callRPC[membershipRow](ctx, s.c, op, fn, false, map[string]any{"account_id": accountID, "user_id": uid, "account_role": role})
	if err != nil {
		return nil, s.c.explain(ctx, err, accountID, RoleOwner)
	}
	return &Member{UserID: row.UserID, Email: email, Role: row.Role, CreatedAt: row.CreatedAt}, nil
}

// RemoveMember removes a member (owners; anyone may remove themselves; RPC
// remove_account_member). ErrNotFound when the user was not a member.
func (s *AccountsService) RemoveMember(ctx context.Context, accountID, user string) error {
	if err := validUUID("account id", accountID); err != nil {
		return err
	}
	uid, _, err := s.resolveUser(ctx, accountID, user)
	if err != nil {
		return fmt.Errorf("remove member: %w", err)
	}
	removed, err := callRPC[bool](ctx, s.c, "remove member", "remove_account_member", false, map[string]any{"account_id": accountID, "user_id": uid})
	if err != nil {
		return s.c.explain(ctx, err, accountID, RoleOwner)
	}
	if !removed {
		return &Error{Op: "remove member", StatusCode: http.StatusNotFound, Code: "PT404",
			Message: fmt.Sprintf("%s is not a member of the account", user)}
	}
	return nil
}

// explain adds to a refusal by role which role the operation needs and the
// caller's role in the account, so "permission denied" becomes actionable.
func (c *Client) explain(ctx context.Context, err error, accountID string, need Role) error {
	var e *Error
	if !errors.As(err, &e) || !errors.Is(err, ErrForbidden) || e.RequiredRole != "" {
		return err
	}
	e.RequiredRole = string(need)
	e.Account = accountID
	if accountID != "" && isUUID(accountID) {
		if role, rerr := c.Accounts.MyRole(context.WithoutCancel(ctx), accountID); rerr == nil {
			e.CallerRole = string(role)
		}
		var rows []struct {
			Slug string `json:"slug"`
		}
		if c.do(context.WithoutCancel(ctx), "get account", true, func(cl *call) error {
			return cl.exec(cl.from("accounts").Select("slug", "", false).Eq("id", accountID), &rows)
		}) == nil && len(rows) == 1 {
			e.Account = rows[0].Slug
		}
	}
	return err
}

// noRows explains an update or delete that matched no row: row-level
// security hides rows the caller cannot see and silently skips rows it may
// see but not change. If the row is visible, the caller lacks the role
// (ErrForbidden, with the role needed); otherwise it does not exist
// (ErrNotFound).
func (c *Client) noRows(ctx context.Context, op, table, id, accountID string, need Role) error {
	var rows []struct {
		ID        string `json:"id"`
		AccountID string `json:"account_id"`
	}
	cols := "id,account_id"
	if table == "accounts" {
		cols = "id"
	}
	visErr := c.do(ctx, op, true, func(cl *call) error {
		return cl.exec(cl.from(table).Select(cols, "", false).Eq("id", id), &rows)
	})
	if visErr != nil {
		return visErr
	}
	if len(rows) == 0 {
		return &Error{Op: op, StatusCode: http.StatusNotFound, Code: "PGRST116",
			Message: fmt.Sprintf("%s %s not found (or not visible to you)", singular(table), id),
			Details: "The result contains 0 rows"}
	}
	if accountID == "" {
		accountID = rows[0].AccountID
	}
	e := &Error{Op: op, StatusCode: http.StatusForbidden, Code: "42501",
		Message: "permission denied: your role lets you read this " + singular(table) + " but not change it"}
	return c.explain(ctx, e, accountID, need)
}

func singular(table string) string {
	switch table {
	case "task_executions":
		return "task"
	case "environment_allocations":
		return "ticket"
	}
	return strings.TrimSuffix(table, "s")
}
