package authserver

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/store"
)

// Sign-in and sign-up through an upstream OpenID Connect provider
// ("continue with ..."). Assent is the relying party here, with go-oidc
// and x/oauth2: the authorization code flow with PKCE (S256), state and
// nonce, the ID token verified against the upstream's published keys. The
// upstream account is tied to a local user by a link (a keyed hash of
// issuer and subject). A new upstream account signs up; its e-mail counts
// as verified only when the upstream says email_verified. An upstream
// account whose e-mail belongs to an existing local user is linked only
// after the user also signs in locally in the same browser.

// UpstreamConfig is one upstream OpenID provider.
type UpstreamConfig struct {
	// ID names the provider in URLs: /signin/upstream/ID/callback is the
	// redirect URI to register upstream.
	ID string `yaml:"id"`
	// Name is the button's text: "Continue with Name".
	Name         string `yaml:"name"`
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// Scopes to request besides openid (default: email profile).
	Scopes []string `yaml:"scopes"`
	// Claims maps profile attributes (and "name", the display name) to the
	// upstream's claims they are filled from at sign-up, e.g.
	// given_name: given_name.
	Claims map[string]string `yaml:"claims"`
}

var upstreamIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// Validate reports every problem with u, each prefixed with where.
func (u UpstreamConfig) Validate(where string, schema *profiles.Schema) []error {
	var errs []error
	bad := func(f, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s.%s: %s", where, f, fmt.Sprintf(format, a...)))
	}
	if !upstreamIDPattern.MatchString(u.ID) {
		bad("id", "%q must be 1 to 32 lower-case letters, digits, _ or -", u.ID)
	}
	if strings.TrimSpace(u.Name) == "" {
		bad("name", "required (the button says Continue with NAME)")
	}
	if p, err := url.Parse(u.Issuer); err != nil || p.Host == "" || (p.Scheme != "https" && !(p.Scheme == "http" && isLoopbackHost(p.Hostname()))) {
		bad("issuer", "%q must be an https URL (http only on loopback)", u.Issuer)
	}
	if u.ClientID == "" {
		bad("client_id", "required")
	}
	if u.ClientSecret == "" {
		bad("client_secret", "required")
	}
	for attr, claim := range u.Claims {
		if _, ok := schema.Attribute(attr); !ok && attr != "name" {
			bad("claims", "%q is not a profile attribute (or name)", attr)
		}
		if claim == "" {
			bad("claims", "%q maps to no claim", attr)
		}
	}
	return errs
}

func isLoopbackHost(h string) bool {
	return h == "localhost" || h == "127.0.0.1" || h == "::1"
}

// upstreams holds the configured providers and their discovered metadata.
type upstreams struct {
	mu     sync.Mutex
	byID   map[string]UpstreamConfig
	order  []UpstreamConfig
	loaded map[string]*gooidc.Provider
}

// upstreamButton is a "Continue with" button of the sign-in page.
type upstreamButton struct {
	ID, Name string
}

func (s *Server) initUpstreams() error {
	s.ups = &upstreams{byID: map[string]UpstreamConfig{}, loaded: map[string]*gooidc.Provider{}}
	var errs []error
	for i, u := range s.cfg.Upstreams {
		errs = append(errs, u.Validate(fmt.Sprintf("upstreams[%d]", i), s.profiles.Schema())...)
		if _, dup := s.ups.byID[u.ID]; dup {
			errs = append(errs, fmt.Errorf("upstreams[%d].id: %q is used twice", i, u.ID))
		}
		s.ups.byID[u.ID] = u
		s.ups.order = append(s.ups.order, u)
	}
	return errors.Join(errs...)
}

func (s *Server) upstreamButtons() []upstreamButton {
	if s.ups == nil {
		return nil
	}
	out := make([]upstreamButton, 0, len(s.ups.order))
	for _, u := range s.ups.order {
		out = append(out, upstreamButton{ID: u.ID, Name: u.Name})
	}
	return out
}

func (s *Server) upstreamRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /signin/upstream/{id}", s.handleUpstreamStart)
	mux.HandleFunc("GET /signin/upstream/{id}/callback", s.handleUpstreamCallback)
	mux.HandleFunc("GET /signin/upstream-link", s.handleUpstreamLinkPage)
	mux.HandleFunc("POST /signin/upstream-link", s.handleUpstreamLink)
	mux.HandleFunc("POST /security/links/{id}/unlink", s.handleUnlink)
}

// provider discovers the upstream once and keeps its metadata and keys
// (go-oidc refreshes the keys when it meets an unknown key id).
func (s *Server) upstreamProvider(ctx context.Context, u UpstreamConfig) (*gooidc.Provider, error) {
	s.ups.mu.Lock()
	p := s.ups.loaded[u.ID]
	s.ups.mu.Unlock()
	if p != nil {
		return p, nil
	}
	// The provider keeps this context for fetching keys later: it must not
	// end with the request.
	p, err := gooidc.NewProvider(gooidc.ClientContext(context.WithoutCancel(ctx), s.upstreamHTTP()), u.Issuer)
	if err != nil {
		return nil, err
	}
	s.ups.mu.Lock()
	s.ups.loaded[u.ID] = p
	s.ups.mu.Unlock()
	return p, nil
}

// upstreamHTTP is the client for upstream calls: bounded in time.
func (s *Server) upstreamHTTP() *http.Client { return &http.Client{Timeout: 10 * time.Second} }

func (s *Server) oauthConfig(u UpstreamConfig, p *gooidc.Provider) oauth2.Config {
	scopes := u.Scopes
	if len(scopes) == 0 {
		scopes = []string{"email", "profile"}
	}
	if !slices.Contains(scopes, gooidc.ScopeOpenID) {
		scopes = append([]string{gooidc.ScopeOpenID}, scopes...)
	}
	return oauth2.Config{ClientID: u.ClientID, ClientSecret: u.ClientSecret, Endpoint: p.Endpoint(), Scopes: scopes,
		RedirectURL: strings.TrimSuffix(s.issuer.String(), "/") + "/signin/upstream/" + u.ID + "/callback"}
}

// upstreamFlow is the sealed state between the start and the callback.
type upstreamFlow struct {
	Provider string `json:"p"`
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	ReturnTo string `json:"r,omitempty"`
}

// pendingLink is an upstream account waiting for the user to prove the
// local account it is to be linked to.
type pendingLink struct {
	Provider string    `json:"p"`
	Issuer   string    `json:"i"`
	Subject  string    `json:"s"`
	Since    time.Time `json:"t"`
	ReturnTo string    `json:"r,omitempty"`
}

const (
	upstreamCookie = "assent_upstream"
	linkCookie     = "assent_link"
)

func (s *Server) handleUpstreamStart(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	u, ok := s.ups.byID[r.PathValue("id")]
	if !ok {
		s.renderError(w, r, http.StatusNotFound, "error.bad_request")
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	p, err := s.upstreamProvider(ctx, u)
	if err != nil {
		s.log.ErrorContext(r.Context(), "upstream discovery failed", "provider", u.ID, "err", err)
		s.renderError(w, r, http.StatusBadGateway, "upstream.unavailable")
		return
	}
	f := upstreamFlow{Provider: u.ID, State: randomToken(24), Nonce: randomToken(24), Verifier: oauth2.GenerateVerifier(),
		ReturnTo: safeReturnTo(r.PostFormValue("return_to"))}
	if err := s.putFlow(w, r, upstreamCookie, f); err != nil {
		s.log.ErrorContext(r.Context(), "upstream flow state failed", "err", err)
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	cfg := s.oauthConfig(u, p)
	http.Redirect(w, r, cfg.AuthCodeURL(f.State, gooidc.Nonce(f.Nonce), oauth2.S256ChallengeOption(f.Verifier)), http.StatusSeeOther)
}

// upstreamFailed records a failed upstream sign-in and shows one message.
func (s *Server) upstreamFailed(w http.ResponseWriter, r *http.Request, provider, reason string, err error) {
	s.log.WarnContext(r.Context(), "upstream sign-in failed", "provider", provider, "reason", reason, "err", err)
	s.audit(r, store.AuditEvent{Kind: "signin.upstream_failed", Actor: "anonymous", Outcome: "failed",
		Details: map[string]string{"provider": provider, "reason": reason}})
	s.renderError(w, r, http.StatusBadRequest, "upstream.failed")
}

func (s *Server) handleUpstreamCallback(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	u, ok := s.ups.byID[id]
	if !ok {
		s.renderError(w, r, http.StatusNotFound, "error.bad_request")
		return
	}
	var f upstreamFlow
	if err := s.takeFlow(w, r, upstreamCookie, &f); err != nil || f.Provider != id {
		s.upstreamFailed(w, r, id, "no_flow", err)
		return
	}
	q := r.URL.Query()
	if subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(f.State)) != 1 {
		s.upstreamFailed(w, r, id, "state", nil)
		return
	}
	if e := q.Get("error"); e != "" {
		s.upstreamFailed(w, r, id, "upstream_error", errors.New(truncate(e, 64)))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	p, err := s.upstreamProvider(ctx, u)
	if err != nil {
		s.upstreamFailed(w, r, id, "discovery", err)
		return
	}
	cfg := s.oauthConfig(u, p)
	tok, err := cfg.Exchange(gooidc.ClientContext(ctx, s.upstreamHTTP()), q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		s.upstreamFailed(w, r, id, "exchange", err)
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.Verifier(&gooidc.Config{ClientID: u.ClientID}).Verify(ctx, raw)
	if err != nil {
		s.upstreamFailed(w, r, id, "id_token", err)
		return
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		s.upstreamFailed(w, r, id, "nonce", nil)
		return
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		s.upstreamFailed(w, r, id, "claims", err)
		return
	}
	// Many providers put the e-mail and profile in userinfo only: ask it,
	// and take its claims only for the same subject.
	if _, ok := claims["email"]; !ok {
		ui, err := p.UserInfo(gooidc.ClientContext(ctx, s.upstreamHTTP()), oauth2.StaticTokenSource(tok))
		if err != nil {
			s.upstreamFailed(w, r, id, "userinfo", err)
			return
		}
		var extra map[string]any
		if ui.Subject != idt.Subject || ui.Claims(&extra) != nil {
			s.upstreamFailed(w, r, id, "userinfo_subject", nil)
			return
		}
		for k, v := range extra {
			if _, ok := claims[k]; !ok {
				claims[k] = v
			}
		}
	}
	// The answer ends the upstream form's redirect chain (see continueLocally).
	c := &localRedirects{ResponseWriter: w}
	s.upstreamSignIn(c, r, u, idt.Issuer, idt.Subject, claims, f.ReturnTo)
	if c.location != "" {
		s.continueLocally(w, r, c.location)
	}
}

// upstreamSignIn signs in the user linked to the upstream account, signs
// up a new one, or asks to prove the existing account first.
func (s *Server) upstreamSignIn(w http.ResponseWriter, r *http.Request, u UpstreamConfig, issuer, subject string, claims map[string]any, returnTo string) {
	details := map[string]string{"via": "upstream", "provider": u.ID}
	ident, err := s.profiles.LinkedUser(r.Context(), issuer, subject)
	switch {
	case err == nil:
		if ident.Locked || ident.TemporarilyLocked(s.now()) {
			s.audit(r, store.AuditEvent{Kind: "signin.failed", Actor: ident.ID, Subject: ident.ID, Outcome: "denied",
				Details: map[string]string{"reason": "locked", "provider": u.ID}})
			s.renderError(w, r, http.StatusForbidden, "upstream.locked")
			return
		}
		// A linked account is one factor like any other: the risk engine
		// weighs it, and the account's second factor is asked for when it
		// challenges.
		s.afterOneFactor(w, r, ident, "fed", returnTo, details)
		return
	case !errors.Is(err, profiles.ErrNotFound):
		s.log.ErrorContext(r.Context(), "upstream link lookup failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	email, _ := claims["email"].(string)
	if email == "" {
		s.upstreamFailed(w, r, u.ID, "no_email", nil)
		return
	}
	verified := claimTrue(claims["email_verified"])
	if _, err := s.profiles.GetByEmail(r.Context(), email); err == nil {
		s.askToLink(w, r, u, issuer, subject, returnTo)
		return
	}
	name, _ := claims[u.Claims["name"]].(string)
	if u.Claims["name"] == "" {
		name, _ = claims["name"].(string)
	}
	nu, err := s.profiles.Create(r.Context(), profiles.NewUser{Email: email, Name: truncate(name, 200), EmailVerified: verified})
	if errors.Is(err, profiles.ErrEmailTaken) { // signed up meanwhile
		s.askToLink(w, r, u, issuer, subject, returnTo)
		return
	}
	var ve *profiles.ValidationError
	if errors.As(err, &ve) {
		s.upstreamFailed(w, r, u.ID, "bad_"+ve.Field, nil)
		return
	}
	if err != nil {
		s.log.ErrorContext(r.Context(), "upstream sign-up failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	if err := s.profiles.Link(r.Context(), nu.ID, u.ID, issuer, subject, !verified); err != nil {
		// Another request linked this upstream account first: leave no
		// half-made account behind.
		if derr := s.profiles.Delete(r.Context(), nu.ID); derr != nil {
			s.log.ErrorContext(r.Context(), "remove unlinked sign-up failed", "err", derr)
		}
		s.upstreamFailed(w, r, u.ID, "link", err)
		return
	}
	s.fillFromUpstream(r, nu.ID, u, claims)
	s.audit(r, store.AuditEvent{Kind: "user.created", Actor: nu.ID, Subject: nu.ID, Outcome: "ok",
		Details: map[string]string{"via": "upstream", "provider": u.ID, "email_verified": boolString(verified)}})
	if !verified {
		s.sendVerification(r, nu)
	}
	if ident, err := s.profiles.Get(r.Context(), nu.ID); err == nil {
		nu = ident
	}
	s.completeSignIn(w, r, nu, []string{"fed"}, returnTo, details)
}

// fillFromUpstream stores the mapped claims as profile attributes; values
// the schema refuses are left out (and logged), never guessed.
func (s *Server) fillFromUpstream(r *http.Request, userID string, u UpstreamConfig, claims map[string]any) {
	values := map[string][]string{}
	for attr, claim := range u.Claims {
		if attr == "name" {
			continue
		}
		switch v := claims[claim].(type) {
		case string:
			values[attr] = []string{v}
		case []any:
			var l []string
			for _, x := range v {
				if s, ok := x.(string); ok {
					l = append(l, s)
				}
			}
			values[attr] = l
		}
	}
	for len(values) > 0 {
		_, err := s.profiles.SetAttributes(r.Context(), userID, values, profiles.Collection{Channel: profiles.ChannelSignUp, ClientID: u.ID})
		var ves profiles.ValidationErrors
		if !errors.As(err, &ves) {
			if err != nil {
				s.log.ErrorContext(r.Context(), "store upstream attributes failed", "err", err)
			}
			return
		}
		before := len(values)
		for _, ve := range ves {
			s.log.WarnContext(r.Context(), "upstream claim refused", "provider", u.ID, "field", ve.Field, "code", ve.Code)
			delete(values, strings.TrimPrefix(ve.Field, "attributes."))
		}
		if len(values) == before {
			return
		}
	}
}

func claimTrue(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return b == "true"
	}
	return false
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// askToLink keeps the upstream account in a sealed cookie and asks the user
// to sign in to the existing account; the link is made only then.
func (s *Server) askToLink(w http.ResponseWriter, r *http.Request, u UpstreamConfig, issuer, subject, returnTo string) {
	pl := pendingLink{Provider: u.ID, Issuer: issuer, Subject: subject, Since: s.now().UTC(), ReturnTo: returnTo}
	if err := s.putFlow(w, r, linkCookie, pl); err != nil {
		s.log.ErrorContext(r.Context(), "pending link state failed", "err", err)
		s.renderError(w, r, http.StatusBadRequest, "error.bad_request")
		return
	}
	s.audit(r, store.AuditEvent{Kind: "signin.upstream_link_pending", Actor: "anonymous", Outcome: "challenged",
		Details: map[string]string{"provider": u.ID}})
	s.endSession(w, r) // the local account must be proven now, in this browser
	p := s.newPage(w, r)
	p.ReturnTo = "/signin/upstream-link"
	p.Notice = fmt.Sprintf(p.T("upstream.link_first"), u.Name)
	s.render(w, r, http.StatusOK, "signin", p)
}

// handleUpstreamLinkPage asks the freshly signed-in user to confirm the
// link.
func (s *Server) handleUpstreamLinkPage(w http.ResponseWriter, r *http.Request) {
	ident, pl, ok := s.linkState(w, r)
	if !ok {
		return
	}
	p := s.newPage(w, r)
	p.User = ident
	p.Notice = fmt.Sprintf(p.T("upstream.link_confirm"), s.ups.byID[pl.Provider].Name)
	p.flow = flowRequest(pl.ReturnTo) // form_action.go
	s.render(w, r, http.StatusOK, "upstream_link", p)
}

func (s *Server) handleUpstreamLink(w http.ResponseWriter, r *http.Request) {
	if !s.parseForm(w, r) {
		return
	}
	ident, pl, ok := s.linkState(w, r)
	if !ok {
		return
	}
	var taken pendingLink
	if err := s.takeFlow(w, r, linkCookie, &taken); err != nil || taken.Subject != pl.Subject {
		s.renderError(w, r, http.StatusBadRequest, "upstream.link_expired")
		return
	}
	if err := s.profiles.Link(r.Context(), ident.ID, pl.Provider, pl.Issuer, pl.Subject, false); err != nil {
		if errors.Is(err, profiles.ErrAlreadyLinked) {
			s.renderError(w, r, http.StatusConflict, "upstream.already_linked")
			return
		}
		s.log.ErrorContext(r.Context(), "link upstream account failed", "err", err)
		s.renderError(w, r, http.StatusInternalServerError, "error.internal")
		return
	}
	s.audit(r, store.AuditEvent{Kind: "user.upstream_linked", Actor: ident.ID, Subject: ident.ID, Outcome: "ok",
		Details: map[string]string{"provider": pl.Provider}})
	to := pl.ReturnTo
	if to == "" {
		to = "/account/profile?done=linked"
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// linkState requires both proofs: a local sign-in made after the upstream
// one (in this browser), and the pending upstream account.
func (s *Server) linkState(w http.ResponseWriter, r *http.Request) (profiles.Identity, pendingLink, bool) {
	var pl pendingLink
	if _, err := s.readFlow(r, linkCookie, &pl); err != nil {
		s.renderError(w, r, http.StatusBadRequest, "upstream.link_expired")
		return profiles.Identity{}, pl, false
	}
	sess, err := s.session(r)
	if err != nil || sess.AuthTime.Before(pl.Since.Truncate(time.Second)) {
		http.Redirect(w, r, "/signin?return_to=%2Fsignin%2Fupstream-link", http.StatusSeeOther)
		return profiles.Identity{}, pl, false
	}
	ident, err := s.profiles.Get(r.Context(), sess.UserID)
	if err != nil {
		s.renderError(w, r, http.StatusBadRequest, "upstream.link_expired")
		return profiles.Identity{}, pl, false
	}
	return ident, pl, true
}

// Browsers apply a page's form-action to every redirect its form
// submission follows. The upstream provider's sign-in form is answered by
// a chain of redirects that ends here, at the callback, and would go on to
// the relying party; the upstream page allows (at best) this server's
// origin, not the relying party's, so Chrome would refuse that last hop.
// So the callback does not redirect: it answers with a page that moves on
// by itself (a meta refresh, a new navigation outside the form's chain),
// with a link for a browser that does not.

// localRedirects is a ResponseWriter that holds back a redirect to a path
// on this server (the headers set with it, cookies included, stay), so
// that continueLocally can answer it with a page instead.
type localRedirects struct {
	http.ResponseWriter
	location string
}

func (c *localRedirects) WriteHeader(code int) {
	if loc := c.Header().Get("Location"); code >= 300 && code < 400 && safeReturnTo(loc) != "" {
		c.location = loc
		c.Header().Del("Location")
		return
	}
	c.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (c *localRedirects) Unwrap() http.ResponseWriter { return c.ResponseWriter }

func (c *localRedirects) Write(b []byte) (int, error) {
	if c.location != "" {
		return len(b), nil // the redirect's own body
	}
	return c.ResponseWriter.Write(b)
}

// continueLocally answers with a page that goes on to to, a path on this
// server.
func (s *Server) continueLocally(w http.ResponseWriter, r *http.Request, to string) {
	p := s.newPage(w, r)
	p.Data = to
	s.render(w, r, http.StatusOK, "continue", p)
}
