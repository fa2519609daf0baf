package authserver

// Error codes of the external-provider flows, as GoTrue names them (those
// of the flow state they share with SSO are in sso_errors.go).
const (
	CodeProviderEmailNeedsVerification    = "provider_email_needs_verification"
	CodeOAuthProviderNotSupported         = "oauth_provider_not_supported"
	CodeUnexpectedAudience                = "unexpected_audience"
	CodeSingleIdentityNotDeletable        = "single_identity_not_deletable"
	CodeEmailConflictIdentityNotDeletable = "email_conflict_identity_not_deletable"
	CodeIdentityAlreadyExists             = "identity_already_exists"
	CodeIdentityNotFound                  = "identity_not_found"
	CodeManualLinkingDisabled             = "manual_linking_disabled"
)

// Audit actions of identities.
const (
	actionIdentityLinked   = "identity_linked"
	actionIdentityUnlinked = "identity_unlinked"
)

func init() {
	auditLogTypes[actionIdentityLinked] = "user"
	auditLogTypes[actionIdentityUnlinked] = "user"
}
