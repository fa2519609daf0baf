package authserver

import "context"

// UserParams describe a user for CreateUser.
type UserParams struct {
	Email string
	// Password is hashed with bcrypt; PasswordHash is an existing bcrypt
	// hash. Give at most one; with neither, the user gets a random password
	// nobody knows.
	Password     string
	PasswordHash string
	// EmailConfirm marks the address confirmed, so the user can sign in.
	EmailConfirm bool
	UserMetadata map[string]any
	// AppMetadata is merged over {"provider":"email","providers":["email"]}.
	AppMetadata map[string]any
}

// CreateUser creates a user as POST /admin/users does (the runtime creates
// the tenant's first admin this way, before any HTTP traffic). Errors are
// *Error with GoTrue's codes, e.g. CodeEmailExists for a taken address.
func (s *Server) CreateUser(ctx context.Context, p UserParams) (*User, error) {
	ap := adminUserParams{
		Email:        p.Email,
		PasswordHash: p.PasswordHash,
		EmailConfirm: p.EmailConfirm,
		UserMetadata: p.UserMetadata,
		AppMetadata:  p.AppMetadata,
	}
	if p.Password != "" {
		ap.Password = &p.Password
	}
	return s.createUser(ctx, ap, Audience, auditForAdmin("service_role", actionUserSignedUp, nil))
}
