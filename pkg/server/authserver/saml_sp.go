package authserver

import (
	"encoding/xml"
	"net/http"
	"time"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"
	dsig "github.com/russellhaering/goxmldsig"
)

// serviceProvider is the crewjam/saml Service Provider for one IdP (nil
// for the metadata alone), set up as GoTrue sets it up: requests signed,
// persistent NameIDs asked for, IdP-initiated responses accepted only when
// the ACS found no relay state of ours. Its clock is the server's, frozen at
// the request, so tests can move it.
func (s *Server) serviceProvider(idp *saml.EntityDescriptor, idpInitiated bool, now time.Time) *saml.ServiceProvider {
	c := s.cfg.SAML
	sp := samlsp.DefaultServiceProvider(samlsp.Options{
		URL:               *c.rootURL,
		Key:               c.PrivateKey,
		Certificate:       c.certificate,
		SignRequest:       true,
		AllowIDPInitiated: idpInitiated,
		IDPMetadata:       idp,
		HTTPClient:        c.HTTPClient,
		ReplayCache:       s.samlReplay,
		Clock:             dsig.NewFakeClockAt(now),
	})
	sp.AuthnNameIDFormat = saml.PersistentNameIDFormat
	return &sp
}

// handleSAMLMetadata is GET /sso/saml/metadata: the SP metadata an IdP is
// set up with (?download=true: as an attachment, valid for five years, as
// GoTrue serves it).
func (s *Server) handleSAMLMetadata(w http.ResponseWriter, r *http.Request) error {
	now := s.now()
	md := s.serviceProvider(nil, true, now).Metadata()
	download := r.FormValue("download") == "true"
	if download {
		md.ValidUntil = now.AddDate(5, 0, 0)
	}
	for i := range md.SPSSODescriptors {
		d := &md.SPSSODescriptors[i]
		// The IdP-initiated flow can only have the assertion signed, so
		// GoTrue does not promise signed requests.
		d.AuthnRequestsSigned = nil
		d.NameIDFormats = []saml.NameIDFormat{saml.EmailAddressNameIDFormat, saml.PersistentNameIDFormat}
		// Encrypted assertions are not accepted (GoTrue's default,
		// GOTRUE_SAML_ALLOW_ENCRYPTED_ASSERTIONS=false): only the signing
		// key is advertised.
		var keys []saml.KeyDescriptor
		for _, k := range d.KeyDescriptors {
			if k.Use == "signing" {
				keys = append(keys, k)
			}
		}
		d.KeyDescriptors = keys
	}
	raw, err := xml.Marshal(md)
	if err != nil {
		return internalError(err, "Error encoding SAML metadata")
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Cache-Control", "public, max-age=600")
	if download {
		w.Header().Set("Content-Disposition", `attachment; filename="metadata.xml"`)
	}
	w.WriteHeader(http.StatusOK)
	_, err = w.Write(raw)
	return err
}
