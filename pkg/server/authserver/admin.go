package authserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"golang.org/x/crypto/bcrypt"
)

// handleAdmin routes /admin/*, after checking the caller's admin role as
// GoTrue does for the whole group.
func (s *Server) handleAdmin(w http.ResponseWriter, r *http.Request) error {
	claims, err := s.requireAdmin(r)
	if err != nil {
		return err
	}
	path := strings.TrimSuffix(r.URL.Path, "/")
	parts := strings.Split(strings.TrimPrefix(path, "/admin"), "/")[1:] // "/admin/users/x" → [users x]
	method := r.Method
	notAllowed := func(allowed string) error {
		w.Header().Set("Allow", allowed)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return nil
	}
	switch {
	case len(parts) == 1 && parts[0] == "users":
		switch method {
		case http.MethodGet:
			return s.adminListUsers(w, r)
		case http.MethodPost:
			return s.adminCreateUser(w, r, claims)
		}
		return notAllowed("GET, POST")
	case len(parts) >= 2 && parts[0] == "users":
		if !isUUID(parts[1]) {
			return notFound(CodeValidationFailed, "user_id must be an UUID")
		}
		u, err := s.userByID(r.Context(), s.pool, strings.ToLower(parts[1]))
		if errors.Is(err, errNotFound) {
			return notFound(CodeUserNotFound, "User not found")
		}
		if err != nil {
			return internalError(err, "Database error loading user")
		}
		if len(parts) == 2 {
			switch method {
			case http.MethodGet:
				writeJSON(w, http.StatusOK, u)
				return nil
			case http.MethodPut:
				return s.adminUpdateUser(w, r, claims, u)
			case http.MethodDelete:
				return s.adminDeleteUser(w, r, claims, u)
			}
			return notAllowed("DELETE, GET, PUT")
		}
		if parts[2] == "factors" && len(parts) <= 4 {
			return s.adminFactors(w, r, claims, u, parts[3:])
		}
	case len(parts) == 1 && parts[0] == "audit" && method == http.MethodGet:
		return s.adminAudit(w, r)
	case len(parts) >= 2 && parts[0] == "sso" && parts[1] == "providers":
		if s.cfg.SAML.Enabled {
			return s.adminSSO(w, r, parts[2:])
		}
		if len(parts) == 2 && method == http.MethodGet {
			writeJSON(w, http.StatusOK, map[string]any{"items": []any{}})
			return nil
		}
		return s.samlDisabled(w, r)
	case len(parts) == 1 && parts[0] == "generate_link":
		return s.mailDisabled(w, r)
	}
	http.Error(w, "404 page not found", http.StatusNotFound)
	return nil
}

type adminUserParams struct {
	ID           string         `json:"id"`
	Aud          string         `json:"aud"`
	Role         string         `json:"role"`
	Email        string         `json:"email"`
	Phone        string         `json:"phone"`
	Password     *string        `json:"password"`
	PasswordHash string         `json:"password_hash"`
	EmailConfirm bool           `json:"email_confirm"`
	PhoneConfirm bool           `json:"phone_confirm"`
	UserMetadata map[string]any `json:"user_metadata"`
	AppMetadata  map[string]any `json:"app_metadata"`
	BanDuration  string         `json:"ban_duration"`
}

// parseBanDuration reads ban_duration: a Go duration, or "none" to lift a ban.
func parseBanDuration(v string) (*time.Duration, error) {
	if v == "" {
		return nil, nil
	}
	d := time.Duration(0)
	if v != "none" {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return nil, badRequest(CodeValidationFailed, "invalid format for ban duration: %v", err)
		}
	}
	return &d, nil
}

func (s *Server) adminCreateUser(w http.ResponseWriter, r *http.Request, claims *Claims) error {
	var p adminUserParams
	if err := readJSON(r, &p); err != nil {
		return err
	}
	aud := requestAud(r, claims)
	if p.Aud != "" {
		aud = p.Aud
	}
	u, err := s.createUser(r.Context(), p, aud, auditForAdmin(claims.Role, actionUserSignedUp, nil))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, u)
	return nil
}

// createUser is the admin API's user creation, shared with CreateUser.
// Like GoTrue it does not apply the password strength rules: admins choose.
func (s *Server) createUser(ctx context.Context, p adminUserParams, aud string, audit auditEntry) (*User, error) {
	if p.Email == "" && p.Phone == "" {
		return nil, badRequest(CodeValidationFailed, "Cannot create a user without either an email or phone")
	}
	if p.Phone != "" {
		return nil, unprocessable(CodePhoneProviderDisabled, "Phone users are not supported by the embedded runtime")
	}
	email, err := validateEmail(p.Email)
	if err != nil {
		return nil, err
	}
	dup, err := s.duplicateEmail(ctx, s.pool, email, aud, "")
	if err != nil {
		return nil, internalError(err, "Database error checking email")
	}
	if dup != "" {
		return nil, unprocessable(CodeEmailExists, "A user with this email address has already been registered")
	}
	if p.Password != nil && p.PasswordHash != "" {
		return nil, badRequest(CodeValidationFailed, "Only a password or a password hash should be provided")
	}
	hash := p.PasswordHash
	if hash != "" {
		if err := validBcryptHash(hash); err != nil {
			return nil, badRequest(CodeValidationFailed, "Invalid password_hash: %v", err)
		}
	} else {
		password := randomPassword()
		if p.Password != nil && *p.Password != "" {
			password = *p.Password
		}
		if len(password) > maxPasswordLength {
			return nil, badRequest(CodeValidationFailed, "%s", bcrypt.ErrPasswordTooLong.Error())
		}
		if hash, err = s.hashPassword(password); err != nil {
			return nil, internalError(err, "Error creating user")
		}
	}
	id := newUUID()
	if p.ID != "" {
		if !isUUID(p.ID) {
			return nil, badRequest(CodeValidationFailed, "ID must conform to the uuid v4 format")
		}
		if p.ID == nilInstance {
			return nil, badRequest(CodeValidationFailed, "ID cannot be a nil uuid")
		}
		id = strings.ToLower(p.ID)
	}
	ban, err := parseBanDuration(p.BanDuration)
	if err != nil {
		return nil, err
	}
	now := s.now()
	role := Audience
	if p.Role != "" {
		role = strings.TrimSpace(p.Role)
	}
	u := &User{
		ID: id, Aud: aud, Role: role, Email: email,
		AppMetadata:  mergeMetadata(map[string]any{"provider": "email", "providers": []string{"email"}}, p.AppMetadata),
		UserMetadata: mergeMetadata(nil, p.UserMetadata),
		CreatedAt:    now, UpdatedAt: now,
		passwordHash: hash,
	}
	if p.EmailConfirm {
		// confirmed_at (generated) is left out of this answer, as GoTrue
		// does not reload the user it just created.
		u.EmailConfirmedAt = &now
		u.UserMetadata["email_verified"] = true
	}
	if ban != nil && *ban > 0 {
		until := now.Add(*ban)
		u.BannedUntil = &until
	}
	identityData := map[string]any{"sub": id, "email": email, "email_verified": false, "phone_verified": false}
	audit.traits = map[string]any{"user_id": id, "user_email": email, "user_phone": "", "provider": "email"}
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, sqlInsertUser, u.ID, u.Aud, u.Role, u.Email, hash, u.EmailConfirmedAt,
			"", nil, mustJSON(u.AppMetadata), mustJSON(u.UserMetadata), now, u.BannedUntil); err != nil {
			return internalError(err, "Database error creating new user")
		}
		identity, err := s.insertEmailIdentity(ctx, tx, u, identityData, now)
		if err != nil {
			return err
		}
		u.Identities = []Identity{*identity}
		b := &pgx.Batch{}
		if err := s.queueAudit(b, audit, now); err != nil {
			return err
		}
		return sendBatch(ctx, tx, b)
	})
	if err != nil {
		return nil, err
	}
	return u, nil
}

func (s *Server) adminUpdateUser(w http.ResponseWriter, r *http.Request, claims *Claims, u *User) error {
	var p adminUserParams
	if err := readJSON(r, &p); err != nil {
		return err
	}
	ctx := r.Context()
	var err error
	if p.Email != "" {
		if p.Email, err = validateEmail(p.Email); err != nil {
			return err
		}
	}
	if p.Phone != "" {
		return unprocessable(CodePhoneProviderDisabled, "Phone users are not supported by the embedded runtime")
	}
	ban, err := parseBanDuration(p.BanDuration)
	if err != nil {
		return err
	}
	var newHash string
	if p.Password != nil {
		if err := s.checkPasswordStrength(*p.Password); err != nil {
			return err
		}
		if newHash, err = s.hashPassword(*p.Password); err != nil {
			return internalError(err, "Error updating user")
		}
	}
	if p.Email != "" && p.Email != u.Email {
		// GoTrue lets the unique index refuse this (a 500); a clear 422 is
		// kinder and changes nothing for clients.
		dup, err := s.duplicateEmail(ctx, s.pool, p.Email, u.Aud, u.ID)
		if err != nil {
			return internalError(err, "Database error checking email")
		}
		if dup != "" {
			return unprocessable(CodeEmailExists, "A user with this email address has already been registered")
		}
	}
	now := s.now()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		exec := func(sql string, args ...any) error {
			if _, err := tx.Exec(ctx, sql, args...); err != nil {
				return internalError(err, "Error updating user")
			}
			return nil
		}
		if p.Role != "" {
			u.Role = strings.TrimSpace(p.Role)
			if err := exec(`update auth.users set role = $2, updated_at = $3 where id = $1`, u.ID, u.Role, now); err != nil {
				return err
			}
		}
		if p.EmailConfirm {
			u.EmailConfirmedAt = &now
			u.UserMetadata = mergeMetadata(u.UserMetadata, map[string]any{"email_verified": true})
			if err := s.saveConfirmed(ctx, tx, u, now); err != nil {
				return err
			}
		}
		if p.Password != nil {
			if err := s.updatePassword(ctx, tx, u, newHash, "", now); err != nil {
				return err
			}
		}
		if p.Email != "" {
			if err := s.setEmail(ctx, tx, u, p.Email, p.EmailConfirm, now); err != nil {
				return err
			}
		}
		if p.AppMetadata != nil {
			u.AppMetadata = mergeMetadata(u.AppMetadata, p.AppMetadata)
			if err := exec(`update auth.users set raw_app_meta_data = $2, updated_at = $3 where id = $1`, u.ID, mustJSON(u.AppMetadata), now); err != nil {
				return err
			}
		}
		if p.UserMetadata != nil {
			u.UserMetadata = mergeMetadata(u.UserMetadata, p.UserMetadata)
			if err := exec(`update auth.users set raw_user_meta_data = $2, updated_at = $3 where id = $1`, u.ID, mustJSON(u.UserMetadata), now); err != nil {
				return err
			}
		}
		if ban != nil {
			u.BannedUntil = nil
			if *ban > 0 {
				until := now.Add(*ban)
				u.BannedUntil = &until
			}
			if err := exec(`update auth.users set banned_until = $2, updated_at = $3 where id = $1`, u.ID, u.BannedUntil, now); err != nil {
				return err
			}
		}
		b := &pgx.Batch{}
		if err := s.queueAudit(b, auditForAdmin(claims.Role, actionUserModified,
			map[string]any{"user_id": u.ID, "user_email": u.Email, "user_phone": u.Phone}), now); err != nil {
			return err
		}
		return sendBatch(ctx, tx, b)
	})
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status < 500 {
			return err
		}
		return internalError(err, "Error updating user")
	}
	u.UpdatedAt = now
	writeJSON(w, http.StatusOK, u)
	return nil
}

// setEmail changes u's address and its email identity (creating one when u
// has none), as the admin API does: no confirmation round.
func (s *Server) setEmail(ctx context.Context, tx pgx.Tx, u *User, email string, verified bool, now time.Time) error {
	var identity *Identity
	for i := range u.Identities {
		if u.Identities[i].Provider == "email" && u.Identities[i].ID == u.ID {
			identity = &u.Identities[i]
		}
	}
	if identity == nil {
		created, err := s.insertEmailIdentity(ctx, tx, &User{ID: u.ID, Email: email},
			map[string]any{"sub": u.ID, "email": email, "email_verified": verified, "phone_verified": false}, now)
		if err != nil {
			return err
		}
		u.Identities = append(u.Identities, *created)
	} else {
		identity.IdentityData = mergeMetadata(identity.IdentityData, map[string]any{"email": email, "email_verified": verified})
		identity.Email, identity.UpdatedAt = email, now
		if _, err := tx.Exec(ctx, `update auth.identities set identity_data = $2, updated_at = $3 where id = $1`,
			identity.IdentityID, mustJSON(identity.IdentityData), now); err != nil {
			return internalError(err, "Error updating user")
		}
	}
	u.Email = email
	if _, err := tx.Exec(ctx, `update auth.users set email = $2, updated_at = $3 where id = $1`, u.ID, email, now); err != nil {
		return internalError(err, "Error updating user")
	}
	return nil
}

// adminDeleteUser deletes a user (sessions, tokens and identities go with
// it), or with {"should_soft_delete": true} obfuscates it as GoTrue does.
func (s *Server) adminDeleteUser(w http.ResponseWriter, r *http.Request, claims *Claims, u *User) error {
	var p struct {
		ShouldSoftDelete bool `json:"should_soft_delete"`
	}
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if len(body) != 0 {
		r.Body = http.NoBody
		if err := unmarshalBody(body, &p); err != nil {
			return err
		}
	}
	ctx := r.Context()
	now := s.now()
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		if err := s.queueAudit(b, auditForAdmin(claims.Role, actionUserDeleted,
			map[string]any{"user_id": u.ID, "user_email": u.Email, "user_phone": u.Phone}), now); err != nil {
			return err
		}
		switch {
		case !p.ShouldSoftDelete:
			b.Queue(`delete from auth.users where id = $1`, u.ID)
		case u.DeletedAt == nil:
			b.Queue(`update auth.users set email = $2, phone = $3, email_change = $4, phone_change = $5,
				encrypted_password = null, confirmation_token = '', recovery_token = '',
				email_change_token_current = '', email_change_token_new = '', phone_change_token = '',
				deleted_at = $6, raw_user_meta_data = '{}', raw_app_meta_data = '{}', updated_at = $6
				where id = $1`,
				u.ID, obfuscate(u.ID, u.Email), obfuscatedPhone(u.ID, u.Phone), obfuscate(u.ID, u.EmailChange),
				obfuscatedPhone(u.ID, u.PhoneChange), now)
			for _, id := range u.Identities {
				b.Queue(`update auth.identities set identity_data = '{}', provider_id = $2, updated_at = $3 where id = $1`,
					id.IdentityID, obfuscate(id.UserID, id.Provider+":"+id.ID), now)
			}
			b.Queue(sqlLogoutUser, u.ID)
		}
		return sendBatch(ctx, tx, b)
	})
	if err != nil {
		return internalError(err, "Database error deleting user")
	}
	writeJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// obfuscate is GoTrue's soft-delete replacement for a value: an unguessable
// digest that still keeps unique columns unique.
func obfuscate(userID, value string) string {
	sum := sha256.Sum256([]byte(userID + value))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

func obfuscatedPhone(userID, phone string) any {
	if phone == "" {
		return nil // users.phone is unique; NULL stays NULL
	}
	return obfuscate(userID, phone)[:15]
}

func unmarshalBody(body []byte, v any) error {
	if err := json.Unmarshal(body, v); err != nil {
		return badRequest(CodeBadJSON, "Could not parse request body as JSON: %v", err)
	}
	return nil
}

// pagination is a page of an admin list: page numbers start at 1.
type pagination struct {
	page, perPage, count uint64
}

func parsePagination(r *http.Request) (*pagination, error) {
	q := r.URL.Query()
	p := &pagination{page: 1, perPage: 50}
	var err error
	if v := q.Get("page"); v != "" {
		if p.page, err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, badRequest(CodeValidationFailed, "Bad Pagination Parameters: %v", err)
		}
	}
	if v := q.Get("per_page"); v != "" {
		if p.perPage, err = strconv.ParseUint(v, 10, 64); err != nil {
			return nil, badRequest(CodeValidationFailed, "Bad Pagination Parameters: %v", err)
		}
		if p.perPage == 0 {
			return nil, badRequest(CodeValidationFailed, "Bad Pagination Parameters: per_page must be at least 1")
		}
	}
	return p, nil
}

func (p *pagination) offset() uint64 {
	if p.page < 1 {
		return 0
	}
	return (p.page - 1) * p.perPage
}

// setHeaders adds X-Total-Count and Link (next, when there is one, and
// last), with URLs as the request saw them, as GoTrue does.
func (p *pagination) setHeaders(w http.ResponseWriter, r *http.Request) {
	total := p.count / p.perPage
	if p.count%p.perPage > 0 {
		total++
	}
	u := url.URL{Path: r.URL.Path}
	q := r.URL.Query()
	link := ""
	if total > p.page {
		q.Set("page", strconv.FormatUint(p.page+1, 10))
		u.RawQuery = q.Encode()
		link += "<" + u.String() + ">; rel=\"next\", "
	}
	q.Set("page", strconv.FormatUint(total, 10))
	u.RawQuery = q.Encode()
	link += "<" + u.String() + ">; rel=\"last\""
	w.Header().Add("Link", link)
	w.Header().Add("X-Total-Count", strconv.FormatUint(p.count, 10))
}

const (
	sqlListUsersWhere = ` from auth.users u where u.instance_id = '` + nilInstance + `' and u.aud = $1
		and ($2 = '' or u.email like '%' || $2 || '%' or u.raw_user_meta_data->>'full_name' ilike '%' || $2 || '%')`
	sqlListUsersDesc = `select ` + userColumns + sqlListUsersWhere + ` order by u.created_at desc, u.id desc limit $3 offset $4`
	sqlListUsersAsc  = `select ` + userColumns + sqlListUsersWhere + ` order by u.created_at asc, u.id asc limit $3 offset $4`
	sqlCountUsers    = `select count(*)` + sqlListUsersWhere
)

// adminListUsers is GET /admin/users?page&per_page&filter&sort=created_at
// [asc|desc]. As in GoTrue, listed users carry no identities (null).
func (s *Server) adminListUsers(w http.ResponseWriter, r *http.Request) error {
	query := sqlListUsersDesc
	for _, v := range r.URL.Query()["sort"] {
		field, dir, _ := strings.Cut(v, " ")
		if field != "created_at" {
			return badRequest(CodeValidationFailed, "Bad Sort Parameters: bad field for sort '%v'", field)
		}
		switch strings.ToUpper(dir) {
		case "", "DESC":
			query = sqlListUsersDesc
		case "ASC":
			query = sqlListUsersAsc
		default:
			return badRequest(CodeValidationFailed, "Bad Sort Parameters: bad direction for sort '%v', only 'asc' and 'desc' allowed", dir)
		}
	}
	pg, err := parsePagination(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	aud := requestAud(r, nil)
	filter := r.URL.Query().Get("filter")
	rows, err := s.queryPage(ctx, pg, sqlCountUsers, query, "Database error finding users", aud, filter)
	if err != nil {
		return err
	}
	defer rows.Close()
	users := []*User{}
	for rows.Next() {
		u, err := scanUser(rows, false)
		if err != nil {
			return internalError(err, "Database error finding users")
		}
		users = append(users, u)
	}
	if err := rows.Err(); err != nil {
		return internalError(err, "Database error finding users")
	}
	pg.setHeaders(w, r)
	writeJSON(w, http.StatusOK, struct {
		Users []*User `json:"users"`
		Aud   string  `json:"aud"`
	}{users, aud})
	return nil
}

// queryPage counts the rows of a paged admin list into pg (countSQL with
// args), then queries its page (listSQL with args, the limit and the
// offset). msg is the error answer when the database fails.
func (s *Server) queryPage(ctx context.Context, pg *pagination, countSQL, listSQL, msg string, args ...any) (pgx.Rows, error) {
	if err := s.pool.QueryRow(ctx, countSQL, args...).Scan(&pg.count); err != nil {
		return nil, internalError(err, "%s", msg)
	}
	rows, err := s.pool.Query(ctx, listSQL, append(args, clampInt64(pg.perPage), clampInt64(pg.offset()))...)
	if err != nil {
		return nil, internalError(err, "%s", msg)
	}
	return rows, nil
}

func clampInt64(v uint64) int64 {
	if v > 1<<62 {
		return 1 << 62
	}
	return int64(v)
}

// auditEntryJSON is an audit log row as GET /admin/audit answers it.
type auditEntryJSON struct {
	ID        string         `json:"id"`
	Payload   map[string]any `json:"payload"`
	CreatedAt time.Time      `json:"created_at"`
	IPAddress string         `json:"ip_address"`
}

const (
	sqlAuditWhere = ` from auth.audit_log_entries where instance_id = '` + nilInstance + `' and (
		$1 = '' or
		($1 = 'author' and (payload->>'actor_username' ilike '%' || $2 || '%' or payload->>'actor_name' ilike '%' || $2 || '%')) or
		($1 = 'action' and payload->>'action' ilike '%' || $2 || '%') or
		($1 = 'type' and payload->>'log_type' ilike '%' || $2 || '%'))`
	sqlAuditList  = `select id::text, payload, created_at, ip_address` + sqlAuditWhere + ` order by created_at desc limit $3 offset $4`
	sqlAuditCount = `select count(*)` + sqlAuditWhere
)

// adminAudit is GET /admin/audit?page&per_page&query=author:x|action:x|type:x.
func (s *Server) adminAudit(w http.ResponseWriter, r *http.Request) error {
	pg, err := parsePagination(r)
	if err != nil {
		return err
	}
	var col, val string
	if q := r.URL.Query().Get("query"); q != "" {
		c, v, ok := strings.Cut(q, ":")
		if !ok || (c != "author" && c != "action" && c != "type") {
			return badRequest(CodeValidationFailed, "Invalid query scope: %s", q)
		}
		col, val = c, v
	}
	ctx := r.Context()
	rows, err := s.queryPage(ctx, pg, sqlAuditCount, sqlAuditList, "Error searching for audit logs", col, val)
	if err != nil {
		return err
	}
	defer rows.Close()
	out := []auditEntryJSON{}
	for rows.Next() {
		var e auditEntryJSON
		var payload []byte
		var at *time.Time
		if err := rows.Scan(&e.ID, &payload, &at, &e.IPAddress); err != nil {
			return internalError(err, "Error searching for audit logs")
		}
		if e.Payload, err = decodeJSONMap(payload); err != nil {
			return internalError(err, "Error searching for audit logs")
		}
		e.CreatedAt = utc(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return internalError(err, "Error searching for audit logs")
	}
	pg.setHeaders(w, r)
	writeJSON(w, http.StatusOK, out)
	return nil
}
