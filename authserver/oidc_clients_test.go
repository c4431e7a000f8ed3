package authserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"golang.org/x/oauth2"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/risk"
)

const logoutURI = "https://rp.example/bye"

// newClientsEnv has, besides the first-party "web" client, an RS256
// client, a private_key_jwt client holding jwk, a narrow client and a
// third-party client.
func newClientsEnv(t *testing.T, jwk jose.JSONWebKey) *env {
	t.Helper()
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}})
	return newEnv(t, withClients(
		oidcprovider.ClientConfig{ID: "web", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true,
			PostLogoutRedirectURIs: []string{logoutURI}},
		oidcprovider.ClientConfig{ID: "legacy", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true,
			IDTokenAlg: "RS256"},
		oidcprovider.ClientConfig{ID: "m2m", JWKS: string(set), RedirectURIs: []string{rpCallback}, FirstParty: true},
		oidcprovider.ClientConfig{ID: "narrow", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true,
			Scopes: []string{"openid"}, GrantTypes: []string{"authorization_code"}},
		oidcprovider.ClientConfig{ID: "thirdparty", Secret: rpSecret, RedirectURIs: []string{rpCallback}},
	))
}

func newECKey(t *testing.T, kid string) jose.JSONWebKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: string(jose.ES256), Use: "sig"}
}

// codeFlow completes a code flow for the rp's client in the browser and
// exchanges the code (with exchangeOpts added to the token request).
func (p *rp) codeFlow(b *browser, exchangeOpts ...oauth2.AuthCodeOption) (*oauth2.Token, *gooidc.IDToken) {
	p.t.Helper()
	verifier := oauth2.GenerateVerifier()
	u, r := b.authorize(p.cfg.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)))
	code := callbackOf(p.t, u, "st").Get("code")
	if code == "" {
		p.t.Fatalf("no code at %v (%d %s)", u, r.status, truncate(r.body, 300))
	}
	tok, idt, _ := p.exchange(code, verifier, exchangeOpts...)
	return tok, idt
}

func jwsAlg(t *testing.T, raw string) jose.SignatureAlgorithm {
	t.Helper()
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.ES256, jose.RS256})
	if err != nil {
		t.Fatalf("parse %q: %v", truncate(raw, 40), err)
	}
	return jose.SignatureAlgorithm(jws.Signatures[0].Header.Algorithm)
}

// TestOIDCSigningAlgorithms: ES256 by default, RS256 for a client
// registered with it; go-oidc verifies each with the published key set,
// each verifier accepting only its algorithm.
func TestOIDCSigningAlgorithms(t *testing.T) {
	e := newClientsEnv(t, newECKey(t, "k1"))
	b := e.browser()
	b.signUp("ada@example.com", password)

	web := e.rp("web", gooidc.ScopeOfflineAccess)
	web.verifier = web.provider.Verifier(&gooidc.Config{ClientID: "web", SupportedSigningAlgs: []string{gooidc.ES256}})
	tok, _ := web.codeFlow(b)
	if alg := jwsAlg(t, tok.AccessToken); alg != jose.ES256 {
		t.Errorf("web access token alg = %s", alg)
	}

	legacy := e.rp("legacy", gooidc.ScopeOfflineAccess)
	legacy.verifier = legacy.provider.Verifier(&gooidc.Config{ClientID: "legacy", SupportedSigningAlgs: []string{gooidc.RS256}})
	tok, idt := legacy.codeFlow(b)
	raw, _ := tok.Extra("id_token").(string)
	if alg := jwsAlg(t, raw); alg != jose.RS256 {
		t.Errorf("legacy ID token alg = %s, want RS256", alg)
	}
	// An ES256-only relying party refuses it: the algorithm is the
	// client's, not a default.
	if _, err := web.provider.Verifier(&gooidc.Config{ClientID: "legacy", SupportedSigningAlgs: []string{gooidc.ES256}}).Verify(t.Context(), raw); err == nil {
		t.Error("an RS256 ID token verified as ES256")
	}
	// Refreshed tokens keep the algorithm; introspection accepts the
	// RS256 access token.
	next, err := legacy.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	raw, _ = next.Extra("id_token").(string)
	if _, err := legacy.verifier.Verify(t.Context(), raw); err != nil {
		t.Errorf("refreshed RS256 ID token: %v", err)
	}
	if status, in := legacy.postForm(e, "/oauth/introspect", url.Values{"token": {next.AccessToken}}); status != 200 || in["active"] != true || in["sub"] != idt.Subject {
		t.Errorf("introspect RS256 access token: %d %v", status, in)
	}

	// Both keys are published, and discovery says so.
	var set jose.JSONWebKeySet
	json.Unmarshal([]byte(b.get("/keys").body), &set)
	algs := map[string]bool{}
	for _, k := range set.Keys {
		algs[k.Algorithm] = true
	}
	if !algs["ES256"] || !algs["RS256"] {
		t.Errorf("published keys: %v", algs)
	}
	var disc struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	json.Unmarshal([]byte(b.get("/.well-known/openid-configuration").body), &disc)
	if strings.Join(disc.Algs, " ") != "ES256 RS256" {
		t.Errorf("id_token_signing_alg_values_supported = %v", disc.Algs)
	}
	// Across a restart the RS256 key is kept too (sealed in the store).
	before := b.get("/keys").body
	e.restart()
	if after := e.browser().get("/keys").body; after != before {
		t.Errorf("key set changed across a restart:\n%s\n%s", before, after)
	}
}

// assertion is a client assertion (RFC 7523) signed with key.
func assertion(t *testing.T, key jose.JSONWebKey, clientID, aud, jti string, exp time.Duration) string {
	t.Helper()
	sig, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	raw, err := jwt.Signed(sig).Claims(jwt.Claims{Issuer: clientID, Subject: clientID, Audience: jwt.Audience{aud},
		ID: jti, IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(exp))}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

func assertionParams(a string) []oauth2.AuthCodeOption {
	return []oauth2.AuthCodeOption{
		oauth2.SetAuthURLParam("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
		oauth2.SetAuthURLParam("client_assertion", a),
	}
}

// postAssertion posts form to a provider endpoint authenticated with a
// client assertion.
func postAssertion(t *testing.T, e *env, path, a string, form url.Values) (int, map[string]any) {
	t.Helper()
	form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
	form.Set("client_assertion", a)
	resp, err := http.PostForm(e.ts.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// TestOIDCPrivateKeyJWT: a client registered with a public key set
// authenticates with assertions signed by its private key, each accepted
// once.
func TestOIDCPrivateKeyJWT(t *testing.T) {
	key := newECKey(t, "m2m-1")
	e := newClientsEnv(t, key)
	b := e.browser()
	b.signUp("ada@example.com", password)
	p := e.rp("m2m", gooidc.ScopeOfflineAccess)
	p.cfg.ClientSecret = ""
	p.cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	issuer := e.ts.URL

	a1 := assertion(t, key, "m2m", issuer, "jti-1", 5*time.Minute)
	tok, idt := p.codeFlow(b, assertionParams(a1)...)
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token")
	}

	// The same assertion again is a replay.
	status, out := postAssertion(t, e, "/oauth/token", a1, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if status != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Errorf("replayed assertion: %d %v", status, out)
	}
	if ev := e.lastEvent("oidc.assertion_replayed"); ev.Actor != "m2m" {
		t.Errorf("replay event = %+v", ev)
	}
	// Refused assertions: another key, another audience, too long a life,
	// no jti, another client's name.
	other := newECKey(t, "m2m-1")
	for name, a := range map[string]string{
		"wrong key":      assertion(t, other, "m2m", issuer, "jti-2", 5*time.Minute),
		"wrong audience": assertion(t, key, "m2m", "https://elsewhere.example", "jti-3", 5*time.Minute),
		"expired":        assertion(t, key, "m2m", issuer, "jti-4", -time.Minute),
		"too long":       assertion(t, key, "m2m", issuer, "jti-5", 3*time.Hour),
		"no jti":         assertion(t, key, "m2m", issuer, "", 5*time.Minute),
		"other client":   assertion(t, key, "web", issuer, "jti-6", 5*time.Minute),
	} {
		status, out := postAssertion(t, e, "/oauth/token", a, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
		if status/100 != 4 || out["error"] != "invalid_client" && out["error"] != "unauthorized_client" && out["error"] != "invalid_grant" {
			t.Errorf("%s: %d %v", name, status, out)
		}
		if status == 200 {
			t.Fatalf("%s: accepted", name)
		}
	}
	// A fresh assertion refreshes (the refused ones spent nothing), and
	// another introspects.
	status, out = postAssertion(t, e, "/oauth/token", assertion(t, key, "m2m", issuer, "jti-7", 5*time.Minute),
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if status != 200 || out["refresh_token"] == nil {
		t.Fatalf("refresh with a fresh assertion: %d %v", status, out)
	}
	if _, err := p.verifier.Verify(t.Context(), out["id_token"].(string)); err != nil {
		t.Errorf("refreshed ID token: %v", err)
	}
	status, out = postAssertion(t, e, "/oauth/introspect", assertion(t, key, "m2m", issuer, "jti-8", 5*time.Minute),
		url.Values{"token": {out["access_token"].(string)}})
	if status != 200 || out["active"] != true || out["sub"] != idt.Subject {
		t.Errorf("introspect with an assertion: %d %v", status, out)
	}
	// A secret is no way in for a key client, and a secret client cannot
	// switch to assertions.
	if status, out := postAssertion(t, e, "/oauth/token", assertion(t, key, "web", issuer, "jti-9", 5*time.Minute),
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"}}); status/100 != 4 {
		t.Errorf("assertion for a secret client: %d %v", status, out)
	}
	resp, err := http.PostForm(e.ts.URL+"/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"x"},
		"client_id": {"m2m"}, "client_secret": {"anything"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 4 {
		t.Errorf("secret for a key client: %d", resp.StatusCode)
	}
	mustContain(t, "discovery", b.get("/.well-known/openid-configuration").body, `"private_key_jwt"`)
}

// TestOIDCLogout: RP-initiated logout through a browser with cookies ends
// the session and the client's refresh tokens, then returns to the
// registered URI with the state; bad requests get an error page.
func TestOIDCLogout(t *testing.T) {
	e := newClientsEnv(t, newECKey(t, "k1"))
	b := e.browser()
	b.signUp("ada@example.com", password)
	web := e.rp("web", gooidc.ScopeOfflineAccess)
	tok, idt := web.codeFlow(b)
	legacy := e.rp("legacy", gooidc.ScopeOfflineAccess)
	sameSession, _ := legacy.codeFlow(b)
	// The same user signed in on another device.
	phone := e.browser()
	phone.signIn("ada@example.com", password)
	otherSession, _ := legacy.codeFlow(phone)
	hint, _ := tok.Extra("id_token").(string)
	endSession := e.ts.URL + "/end_session"
	var disc struct {
		EndSession string `json:"end_session_endpoint"`
	}
	web.provider.Claims(&disc)
	if disc.EndSession != endSession {
		t.Fatalf("end_session_endpoint = %q", disc.EndSession)
	}

	// Refused, with an error page and no redirect; the session lives on.
	for name, q := range map[string]url.Values{
		"no hint":             {"post_logout_redirect_uri": {logoutURI}},
		"tampered hint":       {"id_token_hint": {tamper(hint)}, "post_logout_redirect_uri": {logoutURI}},
		"unregistered uri":    {"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://evil.example/bye"}},
		"near miss":           {"id_token_hint": {hint}, "post_logout_redirect_uri": {logoutURI + "/"}},
		"another client's id": {"id_token_hint": {hint}, "client_id": {"legacy"}},
	} {
		req, _ := http.NewRequest("GET", endSession+"?"+q.Encode(), nil)
		if r := b.do(req); r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
			t.Errorf("%s: %d, Location %q; want 400 and no redirect", name, r.status, r.header.Get("Location"))
		}
	}
	if u, _ := b.authorize(web.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption("v"))); u.Path == "/signin" {
		t.Fatal("a refused logout ended the session")
	}

	// The hint alone, from a browser without ada's session (a copied or
	// old ID token), revokes nothing.
	if r := e.browser().get("/end_session?id_token_hint=" + url.QueryEscape(hint)); r.status != http.StatusSeeOther {
		t.Errorf("logout from another browser: %d", r.status)
	}
	fresh, err := web.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("a logout from another browser revoked the client's refresh token: %v", err)
	}
	tok = fresh // rotated: the live token is the new one

	// POSTed by the relying party's page, as the browser would.
	form := url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {logoutURI}, "state": {"bye1"}}
	req, _ := http.NewRequest("POST", endSession, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://rp.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	r := b.do(req)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != logoutURI+"?state=bye1" {
		t.Fatalf("logout: %d, Location %q", r.status, r.header.Get("Location"))
	}
	if u, _ := b.authorize(web.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption("v"))); u.Path != "/signin" {
		t.Errorf("after logout the authorization request ended at %v, want sign-in", u)
	}
	if _, err := web.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("the client's refresh token survived logout")
	}
	// The session's end revokes what it authorized, for every client;
	// another client's token from another session lives on.
	if _, err := legacy.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: sameSession.RefreshToken}).Token(); err == nil {
		t.Error("a refresh token issued on the ended session survived")
	}
	if _, err := legacy.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: otherSession.RefreshToken}).Token(); err != nil {
		t.Errorf("another session's refresh token of another client was revoked: %v", err)
	}
	if ev := e.lastEvent("oidc.logout"); ev.Subject != idt.Subject || ev.Details["session_ended"] != "true" || ev.Details["revoked"] == "0" {
		t.Errorf("oidc.logout = %+v", ev)
	}

	// An expired hint still logs out; with no URI the browser lands on the
	// sign-in page. A session of another user is left alone.
	e.clock.Advance(2 * time.Hour)
	b2 := e.browser()
	b2.signUp("bob@example.com", password)
	r = b2.get("/end_session?id_token_hint=" + url.QueryEscape(hint))
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin?signed_out=1" {
		t.Errorf("logout without URI: %d %q", r.status, r.header.Get("Location"))
	}
	if u, _ := b2.authorize(web.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption("v"))); u.Path == "/signin" {
		t.Error("ada's ID token ended bob's session")
	}
}

// TestOIDCClientScopesAndGrants: a client gets only the scopes and grant
// types it is registered for.
func TestOIDCClientScopesAndGrants(t *testing.T) {
	e := newClientsEnv(t, newECKey(t, "k1"))
	b := e.browser()
	b.signUp("ada@example.com", password)
	p := e.rp("narrow")
	for _, scope := range []string{"email", gooidc.ScopeOfflineAccess} {
		cfg := p.cfg
		cfg.Scopes = []string{gooidc.ScopeOpenID, scope}
		u, _ := b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption("v")))
		if q := callbackOf(t, u, "s"); q.Get("error") != "invalid_scope" || q.Get("code") != "" {
			t.Errorf("narrow client asking for %s: %v", scope, u)
		}
	}
	tok, _ := p.codeFlow(b)
	if tok.RefreshToken != "" {
		t.Error("a client without the refresh grant got a refresh token")
	}
	// A refresh token of another client presented by this one is refused
	// for the grant type before anything else.
	web := e.rp("web", gooidc.ScopeOfflineAccess)
	wt, _ := web.codeFlow(b)
	if status, out := p.postForm(e, "/oauth/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {wt.RefreshToken}}); status/100 != 4 || out["error"] != "unauthorized_client" {
		t.Errorf("refresh grant for the narrow client: %d %v", status, out)
	}
}

// TestOIDCConsent: a third-party client gets a consent page once per
// scope set; denying ends at the client with access_denied; the user
// withdraws consent on the connected applications page, which also signs
// the client out.
func TestOIDCConsent(t *testing.T) {
	e := newClientsEnv(t, newECKey(t, "k1"))
	b := e.browser()
	b.signUp("ada@example.com", password)
	p := e.rp("thirdparty", gooidc.ScopeOfflineAccess)
	verifier := oauth2.GenerateVerifier()
	authURL := p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier))

	// prompt=none cannot show the page.
	u, _ := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "none")))
	if callbackOf(t, u, "s").Get("error") != "consent_required" {
		t.Errorf("prompt=none without consent ended at %v", u)
	}

	u, r := b.authorize(authURL)
	if r.status != 200 || u.Path != "/oidc/resume" {
		t.Fatalf("third-party client: ended at %v (%d), want the consent page", u, r.status)
	}
	mustContain(t, "consent page", r.body, "thirdparty")
	mustContain(t, "consent page", r.body, `data-scope="offline_access"`)
	id := u.Query().Get("id")
	r = b.submit(u.RequestURI(), "/oidc/consent", url.Values{"id": {id}, "decision": {"deny"}})
	loc, _ := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusSeeOther || callbackOf(t, loc, "s").Get("error") != "access_denied" {
		t.Fatalf("deny: %d %v", r.status, loc)
	}

	// Allowed: the code comes, and the next request asks nothing.
	u, _ = b.authorize(authURL)
	r = b.submit(u.RequestURI(), "/oidc/consent", url.Values{"id": {u.Query().Get("id")}, "decision": {"allow"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("allow: %d %s", r.status, truncate(r.body, 300))
	}
	if !strings.HasPrefix(r.header.Get("Location"), e.ts.URL+"/oidc/resume?id=") {
		t.Fatalf("allow sent the browser to %q, want the resume page", r.header.Get("Location"))
	}
	u, _ = b.authorize(r.header.Get("Location"))
	tok, _, _ := p.exchange(callbackOf(t, u, "s").Get("code"), verifier)
	u, _ = b.authorize(authURL)
	if callbackOf(t, u, "s").Get("code") == "" {
		t.Errorf("consent not remembered: ended at %v", u)
	}
	// More scopes ask again; prompt=consent always asks.
	cfg := p.cfg
	cfg.Scopes = append(cfg.Scopes, "email")
	if u, r := b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier))); r.status != 200 || !strings.Contains(r.body, `data-scope="email"`) {
		t.Errorf("new scope: ended at %v (%d)", u, r.status)
	}
	if u, r := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("prompt", "consent"))); r.status != 200 || u.Path != "/oidc/resume" {
		t.Errorf("prompt=consent: ended at %v (%d)", u, r.status)
	}
	// Another user's browser cannot answer ada's consent page.
	u, _ = b.authorize(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	mallory := e.browser()
	mallory.signUp("mallory@example.com", password)
	mallory.submit("/security", "/oidc/consent", url.Values{"id": {u.Query().Get("id")}, "decision": {"allow"}})
	if u, r := b.authorize(e.ts.URL + u.RequestURI()); r.status != 200 || !strings.Contains(r.body, `data-scope="email"`) {
		t.Errorf("after another user's answer ada's request ended at %v (%d)", u, r.status)
	}

	// The connected applications page lists it; withdrawing revokes the
	// refresh token and the next request asks again.
	r = b.get("/security/apps")
	mustContain(t, "apps page", r.body, `data-client="thirdparty"`)
	r = b.submit("/security/apps", "/security/apps/revoke", url.Values{"client_id": {"thirdparty"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", r.status, truncate(r.body, 300))
	}
	if strings.Contains(b.get("/security/apps").body, `data-client="thirdparty"`) {
		t.Error("withdrawn consent still listed")
	}
	if _, err := p.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("refresh token survived the withdrawal")
	}
	if u, r := b.authorize(authURL); r.status != 200 || u.Path != "/oidc/resume" {
		t.Errorf("after withdrawal: ended at %v (%d), want the consent page", u, r.status)
	}
	if ev := e.lastEvent("oidc.consent_revoked"); ev.Details["client_id"] != "thirdparty" || ev.Details["revoked"] != "1" {
		t.Errorf("oidc.consent_revoked = %+v", ev)
	}
	// First-party clients never ask.
	if u, _ := b.authorize(e.rp("web").cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier))); callbackOf(t, u, "s").Get("code") == "" {
		t.Errorf("first-party client: ended at %v", u)
	}
}

// TestOIDCAdminClientOptions: the admin API registers key clients and
// rotates secrets.
func TestOIDCAdminClientOptions(t *testing.T) {
	e := newClientsEnv(t, newECKey(t, "k1"))
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	pub := jose.JSONWebKey{Key: &rk.PublicKey, KeyID: "r1", Algorithm: "RS256", Use: "sig"}
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}})
	r := e.admin("POST", "/admin/v1/clients", map[string]any{"id": "svc", "redirect_uris": []string{rpCallback},
		"jwks": json.RawMessage(set), "id_token_signed_response_alg": "RS256", "first_party": true,
		"post_logout_redirect_uris": []string{logoutURI}, "scopes": []string{"openid"}})
	if r.status != http.StatusCreated || strings.Contains(r.body, `"secret"`) {
		t.Fatalf("create key client: %d %s", r.status, r.body)
	}
	var view struct {
		AuthMethod string `json:"token_endpoint_auth_method"`
	}
	if json.Unmarshal([]byte(r.body), &view); view.AuthMethod != "private_key_jwt" {
		t.Errorf("created key client: %s", r.body)
	}
	private := jose.JSONWebKey{Key: rk, KeyID: "r1", Algorithm: "RS256"}
	status, out := postAssertion(t, e, "/oauth/introspect", assertion(t, private, "svc", e.ts.URL, "a1", time.Minute), url.Values{"token": {"x"}})
	if status != 200 || out["active"] != false {
		t.Errorf("introspect as the key client: %d %v", status, out)
	}
	for name, body := range map[string]map[string]any{
		"private key in jwks": {"id": "x1", "redirect_uris": []string{rpCallback}, "jwks": json.RawMessage(mustJSON(t, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{private}}))},
		"not a key set":       {"id": "x2", "redirect_uris": []string{rpCallback}, "jwks": json.RawMessage(`{"keys":"no"}`)},
		"unknown alg":         {"id": "x3", "redirect_uris": []string{rpCallback}, "id_token_signed_response_alg": "HS256"},
		"unknown grant":       {"id": "x4", "redirect_uris": []string{rpCallback}, "grant_types": []string{"password"}},
		"bad logout uri":      {"id": "x5", "redirect_uris": []string{rpCallback}, "post_logout_redirect_uris": []string{"/bye"}},
	} {
		if r := e.admin("POST", "/admin/v1/clients", body); r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}

	// Rotating a secret: the old one stops working, the new one works.
	r = e.admin("POST", "/admin/v1/clients", map[string]any{"id": "shop", "redirect_uris": []string{rpCallback}})
	var created struct {
		Secret string `json:"secret"`
	}
	json.Unmarshal([]byte(r.body), &created)
	r = e.admin("POST", "/admin/v1/clients/shop/rotate-secret", nil)
	var rotated struct {
		Secret string `json:"secret"`
	}
	json.Unmarshal([]byte(r.body), &rotated)
	if r.status != 200 || rotated.Secret == "" || rotated.Secret == created.Secret {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	p := e.rp("web")
	p.cfg.ClientID = "shop"
	p.cfg.ClientSecret = created.Secret
	if status, _ := p.postForm(e, "/oauth/introspect", url.Values{"token": {"x"}}); status != http.StatusUnauthorized && status != http.StatusBadRequest {
		t.Errorf("old secret after rotation: %d", status)
	}
	p.cfg.ClientSecret = rotated.Secret
	if status, _ := p.postForm(e, "/oauth/introspect", url.Values{"token": {"x"}}); status != 200 {
		t.Errorf("new secret: %d", status)
	}
	for path, want := range map[string]int{"/admin/v1/clients/web/rotate-secret": 409, "/admin/v1/clients/svc/rotate-secret": 409,
		"/admin/v1/clients/nobody/rotate-secret": 404} {
		if r := e.admin("POST", path, nil); r.status != want {
			t.Errorf("POST %s: %d, want %d", path, r.status, want)
		}
	}
	if e.lastEvent("client.secret_rotated").Details["client_id"] != "shop" {
		t.Error("no audit event for the rotation")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOIDCClientRiskOverride: a sign-in for a client's authorization
// request is assessed with the risk policy's override for that client.
func TestOIDCClientRiskOverride(t *testing.T) {
	src := strings.Replace(string(risk.DefaultPolicyYAML()), "clients: {}", "clients: {strict: {always_step_up: true, acr: phr}}", 1)
	pol, err := risk.LoadPolicy([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) { c.RiskPolicy = pol }, withClients(
		oidcprovider.ClientConfig{ID: "web", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true},
		oidcprovider.ClientConfig{ID: "strict", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true},
	))
	b := e.browser()
	b.signUp("ada@example.com", password)
	for _, tc := range []struct{ client, acr string }{{"web", "mfa"}, {"strict", "phr"}} {
		b.signOut()
		p := e.rp(tc.client)
		u, _ := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption("v")))
		if u.Path != "/signin" {
			t.Fatalf("%s: ended at %v, want sign-in", tc.client, u)
		}
		b.resumeSignIn(u, url.Values{"email": {"ada@example.com"}, "password": {password}})
		ev := e.lastEvent("risk.assessed")
		if ev.Details["client_id"] != tc.client || ev.Details["acr"] != tc.acr {
			t.Errorf("%s: risk.assessed = %v", tc.client, ev.Details)
		}
	}
}

// TestOIDCPrivateKeyJWTFromURI: a client that publishes its key set at a
// jwks_uri authenticates with assertions its key signs.
func TestOIDCPrivateKeyJWTFromURI(t *testing.T) {
	key := newECKey(t, "r1")
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.Public()}})
	keys := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(set)
	}))
	t.Cleanup(keys.Close)
	e := newEnv(t, withClients(oidcprovider.ClientConfig{ID: "remote", JWKSURI: keys.URL + "/jwks.json",
		RedirectURIs: []string{rpCallback}, FirstParty: true}))
	b := e.browser()
	b.signUp("ada@example.com", password)
	p := e.rp("remote", gooidc.ScopeOfflineAccess)
	p.cfg.ClientSecret = ""
	p.cfg.Endpoint.AuthStyle = oauth2.AuthStyleInParams
	tok, _ := p.codeFlow(b, assertionParams(assertion(t, key, "remote", e.ts.URL, "u1", time.Minute))...)
	status, out := postAssertion(t, e, "/oauth/token", assertion(t, newECKey(t, "r1"), "remote", e.ts.URL, "u2", time.Minute),
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
	if status != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Errorf("assertion signed by another key: %d %v", status, out)
	}
	r := e.admin("GET", "/admin/v1/clients/remote", nil)
	mustContain(t, "client view", r.body, keys.URL)
}

// TestOIDCSignOutEndsSessionTokens: signing out on the sign-in server's
// pages revokes the refresh tokens issued on that browser session, and
// only those.
func TestOIDCSignOutEndsSessionTokens(t *testing.T) {
	e := newClientsEnv(t, newECKey(t, "k1"))
	laptop := e.browser()
	laptop.signUp("ada@example.com", password)
	phone := e.browser()
	phone.signIn("ada@example.com", password)
	web := e.rp("web", gooidc.ScopeOfflineAccess)
	onLaptop, _ := web.codeFlow(laptop)
	onPhone, _ := web.codeFlow(phone)
	laptop.signOut()
	if _, err := web.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: onLaptop.RefreshToken}).Token(); err == nil {
		t.Error("the signed-out session's refresh token still works")
	}
	next, err := web.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: onPhone.RefreshToken}).Token()
	if err != nil {
		t.Fatalf("the other session's refresh token: %v", err)
	}
	// Rotation keeps the tie to the session.
	phone.signOut()
	if _, err := web.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); err == nil {
		t.Error("a rotated refresh token outlived its session")
	}
}

// TestOIDCClientMaxAuthAge: a payment-grade client accepts no sign-in
// older than its max_auth_age; others keep the session.
func TestOIDCClientMaxAuthAge(t *testing.T) {
	e := newEnv(t, withClients(
		oidcprovider.ClientConfig{ID: "web", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true},
		oidcprovider.ClientConfig{ID: "pay", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true,
			MaxAuthAge: 5 * time.Minute},
	))
	b := e.browser()
	b.signUp("ada@example.com", password)
	pay, web := e.rp("pay"), e.rp("web")
	if u, _ := b.authorize(pay.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption("v"))); callbackOf(t, u, "s").Get("code") == "" {
		t.Fatalf("fresh session: ended at %v", u)
	}
	e.clock.Advance(6 * time.Minute)
	if u, _ := b.authorize(web.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption("v"))); callbackOf(t, u, "s").Get("code") == "" {
		t.Errorf("web with a 6-minute-old session: ended at %v", u)
	}
	verifier := oauth2.GenerateVerifier()
	u, _ := b.authorize(pay.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	if u.Path != "/signin" {
		t.Fatalf("pay with a 6-minute-old session: ended at %v, want sign-in", u)
	}
	u, _ = b.resumeSignIn(u, url.Values{"email": {"ada@example.com"}, "password": {password}})
	_, _, c := pay.exchange(callbackOf(t, u, "s").Get("code"), verifier)
	if c.AuthTime != e.clock.Now().Unix() {
		t.Errorf("auth_time = %d, want the new sign-in's %d", c.AuthTime, e.clock.Now().Unix())
	}
}
