package authserver

// Error codes of SAML single sign-on and of the flow state it shares with
// PKCE sign-ins, as GoTrue names them.
const (
	CodeFlowStateExpired        = "flow_state_expired"
	CodeFlowStateAlreadyUsed    = "flow_state_already_used"
	CodeBadCodeVerifier         = "bad_code_verifier"
	CodeSAMLRelayStateNotFound  = "saml_relay_state_not_found"
	CodeSAMLRelayStateExpired   = "saml_relay_state_expired"
	CodeSAMLIdPNotFound         = "saml_idp_not_found"
	CodeSAMLAssertionNoUserID   = "saml_assertion_no_user_id"
	CodeSAMLAssertionNoEmail    = "saml_assertion_no_email"
	CodeSSOProviderNotFound     = "sso_provider_not_found"
	CodeSSOProviderDisabled     = "sso_provider_disabled"
	CodeSAMLMetadataFetchFailed = "saml_metadata_fetch_failed"
	CodeSAMLIdPAlreadyExists    = "saml_idp_already_exists"
	CodeSSODomainAlreadyExists  = "sso_domain_already_exists"
	CodeSAMLEntityIDMismatch    = "saml_entity_id_mismatch"
	CodeConflict                = "conflict"
	CodeUserSSOManaged          = "user_sso_managed"
)
