package authserver

import (
	"cmp"
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/store"
)

// consentRoutes serves the consent page's answer and the list of
// applications the user consented to, where consent is withdrawn.
func (s *Server) consentRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /oidc/consent", s.handleConsent)
	mux.HandleFunc("GET /security/apps", s.handleApps)
	mux.HandleFunc("GET /clients/{client}/logo", s.handleClientLogo)
	mux.HandleFunc("POST /security/apps/revoke", s.handleRevokeApp)
}

// oidcClientOf returns the client of the authorization request a sign-in
// will resume (its return_to is the resume page), so the risk policy's
// per-client overrides apply; empty for any other sign-in. It reads only
// a form already parsed, never the body.
func (s *Server) oidcClientOf(r *http.Request) string {
	rt := r.PostForm.Get("return_to")
	if rt == "" {
		rt = r.URL.Query().Get("return_to")
	}
	id := flowRequest(rt) // form_action.go
	if id == "" {
		return ""
	}
	c, err := s.oidc.RequestClient(r.Context(), id)
	if err != nil {
		return ""
	}
	return c
}

type scopeView struct{ Name, Label string }

type consentPage struct {
	RequestID string
	Intro     string
	Scopes    []scopeView
	// Logo is the path of the client's logo; empty for none.
	Logo string
}

// renderConsent asks the user whether the third-party client may have
// the scopes it requested.
func (s *Server) renderConsent(w http.ResponseWriter, r *http.Request, id string, d oidcprovider.Decision) {
	pg := s.newPage(w, r)
	name, logo := s.clientShown(r.Context(), d.ClientID)
	data := consentPage{RequestID: id, Intro: strings.ReplaceAll(pg.T("consent.intro"), "{client}", name), Logo: logo}
	for _, sc := range d.Scopes {
		label := pg.T("consent.scope." + sc)
		if label == "consent.scope."+sc {
			label = sc
		}
		data.Scopes = append(data.Scopes, scopeView{Name: sc, Label: label})
	}
	pg.Data = data
	pg.flow = id
	s.render(w, r, http.StatusOK, "consent", pg)
}

// answeringSession returns the session of a browser answering a page of
// an authorization request (consent, payment). Without one the answer is
// a bad request: the page was only ever shown to a signed-in user.
func (s *Server) answeringSession(w http.ResponseWriter, r *http.Request) (store.Session, bool) {
	sess, err := s.session(r)
	if err != nil {
		if !errors.Is(err, errNoSession) {
			s.log.ErrorContext(r.Context(), "load session failed", "err", err)
		}
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return store.Session{}, false
	}
	return sess, true
}

// handleConsent takes the user's answer on the consent page. Only the
// browser that started the request can answer it; any other gets the page
// an unknown request gets.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	sess, ok := s.answeringSession(w, r)
	if !ok {
		return
	}
	id := r.PostForm.Get("id")
	decision := r.PostForm.Get("decision")
	if decision != "allow" && decision != "deny" {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	auth := oidcprovider.Authentication{Subject: sess.UserID, AuthTime: sess.AuthTime, AMR: sess.AMR, Session: sess.IDHash,
		Browser: s.authorizeBrowser(r)}
	d, err := s.oidc.Consent(r.Context(), id, auth, decision == "allow")
	if errors.Is(err, oidcprovider.ErrUnknownRequest) {
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "consent failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	outcome := "ok"
	if decision == "deny" {
		outcome = "denied"
	}
	s.audit(r, store.AuditEvent{Kind: "oidc.consent", Actor: sess.UserID, Subject: sess.UserID, Outcome: outcome,
		Details: map[string]string{"client_id": d.ClientID}})
	w.Header().Set("Cache-Control", "no-store")
	switch d.Outcome {
	case oidcprovider.Completed:
		// Back to the resume page, which checks the session again.
		http.Redirect(w, r, d.Target, http.StatusSeeOther)
	case oidcprovider.Failed:
		s.audit(r, store.AuditEvent{Kind: "oidc.denied", Actor: sess.UserID, Outcome: "denied",
			Details: map[string]string{"client_id": d.ClientID, "error": d.Error}})
		http.Redirect(w, r, d.Target, http.StatusSeeOther)
	}
}

type grantView struct {
	ClientID string
	// Name is the client's display name, or its id; Logo the path of its
	// logo, or empty.
	Name      string
	Logo      string
	Scopes    []string
	GrantedAt time.Time
}

type appsPage struct{ Grants []grantView }

// clientName is the name a client is shown to users by: its display name,
// or its id when it has none (or is gone). html/template escapes it.
func (s *Server) clientName(ctx context.Context, id string) string {
	name, _ := s.clientShown(ctx, id)
	return name
}

// clientShown is clientName and the path of the client's logo (empty for
// none).
func (s *Server) clientShown(ctx context.Context, id string) (name, logo string) {
	c, err := s.oidc.Client(ctx, id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) {
			s.log.ErrorContext(ctx, "load client failed", "err", err)
		}
		return id, ""
	}
	return cmp.Or(c.Name, id), logoPath(c)
}

// logoPath is where the client's logo is served, or empty when it has
// none.
func logoPath(c store.OIDCClient) string {
	if len(c.Logo) == 0 {
		return ""
	}
	return "/clients/" + url.PathEscape(c.ID) + "/logo"
}

// handleClientLogo serves a client's logo: public (the consent page shows
// it before anyone signs in), cached for an hour, and only ever as the
// PNG or JPEG it was checked to be when registered.
func (s *Server) handleClientLogo(w http.ResponseWriter, r *http.Request) {
	c, err := s.oidc.Client(r.Context(), r.PathValue("client"))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.ErrorContext(r.Context(), "load client failed", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	typ, terr := oidcprovider.LogoType(c.Logo)
	if err != nil || terr != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", typ)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Write(c.Logo)
}

// handleApps lists the third-party applications the user consented to.
func (s *Server) handleApps(w http.ResponseWriter, r *http.Request) {
	_, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	gs, err := s.oidc.Grants(r.Context(), ident.ID)
	if err != nil {
		s.log.ErrorContext(r.Context(), "list consents failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	pg := s.newPage(w, r)
	if r.URL.Query().Get("done") == "revoked" {
		pg.Notice = pg.T("apps.revoked")
	}
	var data appsPage
	for _, g := range gs {
		name, logo := s.clientShown(r.Context(), g.ClientID)
		data.Grants = append(data.Grants, grantView{ClientID: g.ClientID, Name: name, Logo: logo, Scopes: g.Scopes, GrantedAt: g.GrantedAt})
	}
	pg.User = ident
	pg.Data = data
	s.render(w, r, http.StatusOK, "apps", pg)
}

// handleRevokeApp withdraws the user's consent to a client and revokes
// the refresh tokens it holds for the user.
func (s *Server) handleRevokeApp(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	_, ident, ok := s.signedIn(w, r)
	if !ok {
		return
	}
	clientID := r.PostForm.Get("client_id")
	n, err := s.oidc.RevokeGrant(r.Context(), ident.ID, clientID)
	if errors.Is(err, store.ErrNotFound) {
		s.renderError(w, r, http.StatusNotFound, "error.bad_request")
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "revoke consent failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.audit(r, store.AuditEvent{Kind: "oidc.consent_revoked", Actor: ident.ID, Subject: ident.ID, Outcome: "ok",
		Details: map[string]string{"client_id": clientID, "revoked": strconv.Itoa(n)}})
	http.Redirect(w, r, "/security/apps?done=revoked", http.StatusSeeOther)
}
