package authserver

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/assent-auth/assent/acr"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/store"
)

// initOIDC builds the OpenID Connect provider. Its signing key is created
// on the first start and kept, sealed, in the store.
func (s *Server) initOIDC() error {
	p, err := oidcprovider.New(context.Background(), oidcprovider.Config{
		Issuer:     s.issuer,
		Store:      s.store,
		Profiles:   s.profiles,
		Keys:       s.cfg.Keys,
		Clients:    s.cfg.OIDCClients,
		ResumePath: "/oidc/resume",
		Logger:     s.log,
		Now:        s.now,
	})
	if err != nil {
		return err
	}
	s.oidc = p
	return nil
}

// oidcRoutes mounts the provider's endpoints under the issuer and the
// page that resumes an authorization request after sign-in. The token,
// userinfo, introspection and revocation endpoints are called cross-origin
// by browser apps without cookies, and a relying party may POST its
// authorization request from its own origin (it only starts a flow), so
// cross-origin protection skips them.
func (s *Server) oidcRoutes(mux *http.ServeMux, cop *http.CrossOriginProtection) {
	h := s.oidc.Handler()
	for _, p := range s.oidc.Paths() {
		if p == "/authorize" {
			mux.Handle(p, s.bindAuthorizeBrowser(h)) // oidc_binding.go
			continue
		}
		mux.Handle(p, h)
	}
	for _, p := range []string{"/authorize", "/oauth/token", "/oauth/introspect", "/userinfo", "/revoke"} {
		cop.AddInsecureBypassPattern(p)
	}
	mux.HandleFunc("GET /oidc/resume", s.handleOIDCResume)
	mux.HandleFunc(oidcprovider.EndSessionPath, s.handleEndSession)
	s.consentRoutes(mux)
	s.checkoutRoutes(mux)
	cop.AddInsecureBypassPattern(oidcprovider.EndSessionPath)
}

// handleOIDCResume continues an authorization request: it completes it
// when the browser's session is good enough, sends the user to sign in
// (and back here) when it is not, or ends it with an error at the client.
func (s *Server) handleOIDCResume(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	var auth *oidcprovider.Authentication
	sess, err := s.session(r)
	switch {
	case err == nil:
		auth = &oidcprovider.Authentication{Subject: sess.UserID, AuthTime: sess.AuthTime, AMR: sess.AMR, Session: sess.IDHash,
			Browser: s.authorizeBrowser(r)}
	case !errors.Is(err, errNoSession):
		s.log.ErrorContext(r.Context(), "load session failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	d, err := s.oidc.Resume(r.Context(), id, auth)
	if errors.Is(err, oidcprovider.ErrUnknownRequest) {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "resume authorization failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch d.Outcome {
	case oidcprovider.SignIn:
		back := "/oidc/resume?id=" + url.QueryEscape(id)
		to := "/signin?return_to=" + url.QueryEscape(back)
		if d.Want > acr.SingleFactor {
			to += "&acr=" + url.QueryEscape(d.Want.String())
		}
		http.Redirect(w, r, to, http.StatusSeeOther)
	case oidcprovider.Consent:
		s.renderConsent(w, r, id, d)
	case oidcprovider.Payment:
		s.checkoutPayment(w, r, id, d, auth) // oidc_payment.go
	case oidcprovider.Completed:
		if auth != nil && s.askBeforeAuthorizing(w, r, auth.Subject, d.Scopes) { // progressive profiling (profiles.go)
			return
		}
		s.audit(r, store.AuditEvent{Kind: "oidc.authorized", Actor: auth.Subject, Subject: auth.Subject, Outcome: "ok",
			Details: map[string]string{"client_id": d.ClientID, "acr": d.ACR}})
		http.Redirect(w, r, d.Target, http.StatusSeeOther)
	case oidcprovider.Failed:
		actor := "anonymous"
		if auth != nil {
			actor = auth.Subject
		}
		s.audit(r, store.AuditEvent{Kind: "oidc.denied", Actor: actor, Outcome: "denied",
			Details: map[string]string{"client_id": d.ClientID, "error": d.Error}})
		http.Redirect(w, r, d.Target, http.StatusSeeOther)
	}
}
