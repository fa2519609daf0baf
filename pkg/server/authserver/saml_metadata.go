package authserver

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"

	"github.com/jackc/pgx/v5/pgconn"
)

// validateMetadataURL accepts an absolute https URL, as GoTrue does: the
// metadata carries the keys that verify every sign-in, so it must not come
// over a channel anyone on the path could change.
func validateMetadataURL(raw string) error {
	u, err := url.ParseRequestURI(raw)
	if err != nil {
		return badRequest(CodeValidationFailed, "metadata_url is not a valid URL")
	}
	if u.Scheme != "https" {
		return badRequest(CodeValidationFailed, "metadata_url is not a HTTPS URL")
	}
	return nil
}

// fetchSAMLMetadata GETs an IdP's metadata within the configured timeout
// and size. A non-200 answer is GoTrue's 400 saml_metadata_fetch_failed;
// so is an unreachable, hanging or oversized one here (GoTrue answers those
// with a 500 once its client gives up).
func (s *Server) fetchSAMLMetadata(ctx context.Context, metadataURL string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.SAML.MetadataFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, metadataURL, nil)
	if err != nil {
		return nil, internalError(err, "Unable to create a request to metadata_url")
	}
	req.Header.Set("Accept", "application/xml;charset=UTF-8")
	req.Header.Set("Accept-Charset", "UTF-8")
	failed := func(format string, args ...any) *Error {
		return badRequest(CodeSAMLMetadataFetchFailed, format, args...)
	}
	resp, err := s.cfg.SAML.HTTPClient.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, failed("Timed out after %s fetching SAML Metadata from URL '%s'", s.cfg.SAML.MetadataFetchTimeout, metadataURL).withCause(err)
		}
		return nil, failed("Error fetching SAML Metadata from URL '%s'", metadataURL).withCause(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, failed("HTTP %d error fetching SAML Metadata from URL '%s'", resp.StatusCode, metadataURL)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxSAMLMetadataBytes+1))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, failed("Timed out after %s fetching SAML Metadata from URL '%s'", s.cfg.SAML.MetadataFetchTimeout, metadataURL).withCause(err)
		}
		return nil, failed("Error reading SAML Metadata from URL '%s'", metadataURL).withCause(err)
	}
	if len(raw) > maxSAMLMetadataBytes {
		return nil, failed("SAML Metadata from URL '%s' is larger than %d bytes", metadataURL, maxSAMLMetadataBytes)
	}
	return raw, nil
}

func ssoUniqueViolation(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "23505"
}
