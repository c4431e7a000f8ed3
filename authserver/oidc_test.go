package authserver

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/descope/virtualwebauthn"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/assent-auth/assent/acr"
	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/stepup"
)

var update = flag.Bool("update", false, "rewrite golden files")

const (
	rpCallback = "https://rp.example/cb"
	rpSecret   = "rp-secret-0123456789abcdefghijklmnopqrstuvwxyz"
	password   = "correct horse battery staple"
)

func withClients(cs ...oidcprovider.ClientConfig) envOption {
	return func(c *Config) { c.OIDCClients = cs }
}

// rp is a relying party written with go-oidc and x/oauth2.
type rp struct {
	t        *testing.T
	provider *gooidc.Provider
	cfg      oauth2.Config
	verifier *gooidc.IDTokenVerifier
}

func newOIDCEnv(t *testing.T) *env {
	return newEnv(t, withClients(
		oidcprovider.ClientConfig{ID: "web", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true},
		oidcprovider.ClientConfig{ID: "spa", Public: true, RedirectURIs: []string{"http://127.0.0.1:8765/cb"}, FirstParty: true},
		oidcprovider.ClientConfig{ID: "bank", Secret: rpSecret, RedirectURIs: []string{rpCallback}, MinACR: "mfa", FirstParty: true},
	))
}

func (e *env) rp(clientID string, scopes ...string) *rp {
	e.t.Helper()
	p, err := gooidc.NewProvider(e.t.Context(), e.ts.URL)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	return &rp{t: e.t, provider: p,
		cfg: oauth2.Config{ClientID: clientID, ClientSecret: rpSecret, Endpoint: p.Endpoint(), RedirectURL: rpCallback,
			Scopes: append([]string{gooidc.ScopeOpenID}, scopes...)},
		verifier: p.Verifier(&gooidc.Config{ClientID: clientID}),
	}
}

// authorize follows the authorization request through the server's
// redirects and returns where it left the server: the client's callback,
// or a page of the server (sign-in) with its status.
func (b *browser) authorize(authURL string) (*url.URL, response) {
	b.t.Helper()
	next := authURL
	for range 10 {
		req, _ := http.NewRequest("GET", next, nil)
		r := b.do(req)
		loc := r.header.Get("Location")
		if r.status/100 != 3 || loc == "" {
			u, _ := url.Parse(next)
			return u, r
		}
		base, _ := url.Parse(next)
		u, _ := base.Parse(loc)
		if !strings.HasPrefix(u.String(), b.e.ts.URL) {
			return u, r
		}
		if u.Path == "/signin" {
			return u, r
		}
		next = u.String()
	}
	b.t.Fatal("too many redirects")
	return nil, response{}
}

// resumeSignIn signs in on the page the authorization request sent the
// browser to, and follows on.
func (b *browser) resumeSignIn(signin *url.URL, form url.Values) (*url.URL, response) {
	b.t.Helper()
	form.Set("return_to", signin.Query().Get("return_to"))
	r := b.submit(signin.RequestURI(), "/signin", form)
	if r.status != http.StatusSeeOther {
		b.t.Fatalf("sign-in: %d %s", r.status, truncate(r.body, 500))
	}
	return b.authorize(b.e.ts.URL + r.header.Get("Location"))
}

func callbackOf(t *testing.T, u *url.URL, state string) url.Values {
	t.Helper()
	if u == nil || !strings.HasPrefix(u.String(), rpCallback) {
		t.Fatalf("ended at %v, want the client's callback", u)
	}
	q := u.Query()
	if q.Get("state") != state {
		t.Errorf("state = %q, want %q", q.Get("state"), state)
	}
	return q
}

type idClaims struct {
	ACR      string   `json:"acr"`
	AMR      []string `json:"amr"`
	AuthTime int64    `json:"auth_time"`
	Nonce    string   `json:"nonce"`
}

// exchange redeems code and verifies the ID token with the published keys.
func (p *rp) exchange(code, verifier string, opts ...oauth2.AuthCodeOption) (*oauth2.Token, *gooidc.IDToken, idClaims) {
	p.t.Helper()
	tok, err := p.cfg.Exchange(p.t.Context(), code, append(opts, oauth2.VerifierOption(verifier))...)
	if err != nil {
		p.t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := p.verifier.Verify(p.t.Context(), raw)
	if err != nil {
		p.t.Fatalf("verify ID token: %v", err)
	}
	var c idClaims
	if err := idt.Claims(&c); err != nil {
		p.t.Fatal(err)
	}
	return tok, idt, c
}

func TestOIDCCodeFlow(t *testing.T) {
	e := newOIDCEnv(t)
	b := e.browser()
	b.signUp("ada@example.com", password)
	signedUpAt := e.clock.Now()
	e.clock.Advance(time.Minute)
	p := e.rp("web", gooidc.ScopeOfflineAccess, "email")

	verifier := oauth2.GenerateVerifier()
	u, _ := b.authorize(p.cfg.AuthCodeURL("st1", oauth2.S256ChallengeOption(verifier), gooidc.Nonce("n1")))
	code := callbackOf(t, u, "st1").Get("code")
	if code == "" {
		t.Fatalf("no code at %v", u)
	}

	// A wrong verifier is refused and burns the code.
	if _, err := p.cfg.Exchange(t.Context(), code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Error("exchange with a wrong PKCE verifier succeeded")
	}
	u, _ = b.authorize(p.cfg.AuthCodeURL("st2", oauth2.S256ChallengeOption(verifier), gooidc.Nonce("n2")))
	code = callbackOf(t, u, "st2").Get("code")
	tok, idt, c := p.exchange(code, verifier)
	if c.ACR != "1" || !slices.Equal(c.AMR, []string{"pwd"}) || c.AuthTime != signedUpAt.Unix() || c.Nonce != "n2" {
		t.Errorf("ID token claims = %+v, want acr 1, amr [pwd], auth_time %d, nonce n2", c, signedUpAt.Unix())
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token for offline_access")
	}

	// Reusing the code fails, and revokes the refresh token issued from it.
	if _, err := p.cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier)); err == nil {
		t.Error("second exchange of one code succeeded")
	}
	if _, err := p.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("refresh token survived the reuse of its code")
	}

	// Userinfo with the access token.
	ui, err := p.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != idt.Subject || ui.Email != "ada@example.com" {
		t.Errorf("userinfo = %+v, want subject %s and the e-mail", ui, idt.Subject)
	}

	// Refresh tokens rotate; a spent one revokes the family.
	u, _ = b.authorize(p.cfg.AuthCodeURL("st3", oauth2.S256ChallengeOption(verifier)))
	tok, _, _ = p.exchange(callbackOf(t, u, "st3").Get("code"), verifier)
	first := tok.RefreshToken
	next, err := p.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: first}).Token()
	if err != nil || next.RefreshToken == "" || next.RefreshToken == first {
		t.Fatalf("refresh: %v (new token %q)", err, next.RefreshToken)
	}
	if raw, _ := next.Extra("id_token").(string); raw != "" {
		var rc idClaims
		idt, err := p.verifier.Verify(t.Context(), raw)
		if err != nil {
			t.Fatalf("refreshed ID token: %v", err)
		}
		idt.Claims(&rc)
		if rc.ACR != "1" || rc.AuthTime != signedUpAt.Unix() {
			t.Errorf("refreshed ID token claims = %+v", rc)
		}
	}
	if _, err := p.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: first}).Token(); err == nil {
		t.Error("a spent refresh token worked again")
	}
	if _, err := p.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: next.RefreshToken}).Token(); err == nil {
		t.Error("the family survived the reuse of a spent token")
	}
	if ev := e.lastEvent("oidc.refresh_reused"); ev.Subject != idt.Subject || ev.Details["client_id"] != "web" {
		t.Errorf("oidc.refresh_reused = %+v", ev)
	}
	if ev := e.lastEvent("oidc.code_reused"); ev.Details["revoked"] != "true" {
		t.Errorf("oidc.code_reused = %+v", ev)
	}
}

// postForm posts to a provider endpoint with the client's credentials.
func (p *rp) postForm(e *env, path string, form url.Values) (int, map[string]any) {
	p.t.Helper()
	req, _ := http.NewRequest("POST", e.ts.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(p.cfg.ClientID, p.cfg.ClientSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestOIDCIntrospectionAndRevocation(t *testing.T) {
	e := newOIDCEnv(t)
	b := e.browser()
	b.signUp("ada@example.com", password)
	p := e.rp("web", gooidc.ScopeOfflineAccess)
	verifier := oauth2.GenerateVerifier()
	u, _ := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	tok, idt, _ := p.exchange(callbackOf(t, u, "s").Get("code"), verifier)

	status, in := p.postForm(e, "/oauth/introspect", url.Values{"token": {tok.AccessToken}})
	if status != 200 || in["active"] != true || in["sub"] != idt.Subject || in["client_id"] != "web" {
		t.Errorf("introspect access token: %d %v", status, in)
	}
	bad := *p
	bad.cfg.ClientSecret = "wrong"
	if status, _ := bad.postForm(e, "/oauth/introspect", url.Values{"token": {tok.AccessToken}}); status != http.StatusUnauthorized && status != http.StatusBadRequest {
		t.Errorf("introspect with a wrong secret: %d", status)
	}
	if _, in := p.postForm(e, "/oauth/introspect", url.Values{"token": {tok.AccessToken + "x"}}); in["active"] == true {
		t.Error("a tampered token is active")
	}

	// Another client cannot revoke web's refresh token; web can.
	bank := *p
	bank.cfg.ClientID = "bank"
	bank.postForm(e, "/revoke", url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}})
	if _, err := p.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
		t.Fatalf("refresh after another client's revocation attempt: %v", err)
	}
	// That refresh spent the token: get the family's current one by
	// redeeming a new code instead.
	u, _ = b.authorize(p.cfg.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier)))
	tok, _, _ = p.exchange(callbackOf(t, u, "s2").Get("code"), verifier)
	if status, _ := p.postForm(e, "/revoke", url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}); status != 200 {
		t.Fatalf("revoke: %d", status)
	}
	if _, err := p.cfg.TokenSource(t.Context(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err == nil {
		t.Error("a revoked refresh token still works")
	}
}

// TestOIDCCodeExchangedOnce: of 20 concurrent exchanges of one code,
// exactly one gets tokens.
func TestOIDCCodeExchangedOnce(t *testing.T) {
	e := newOIDCEnv(t)
	b := e.browser()
	b.signUp("ada@example.com", password)
	p := e.rp("web")
	verifier := oauth2.GenerateVerifier()
	u, _ := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	code := callbackOf(t, u, "s").Get("code")
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if _, err := p.cfg.Exchange(t.Context(), code, oauth2.VerifierOption(verifier)); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Errorf("%d exchanges succeeded, want 1", wins.Load())
	}
}

func TestOIDCBadRequests(t *testing.T) {
	e := newOIDCEnv(t)
	b := e.browser()
	b.signUp("ada@example.com", password)
	p := e.rp("web")

	t.Run("UnregisteredRedirectURI", func(t *testing.T) {
		for _, cb := range []string{"https://evil.example/cb", rpCallback + "/", rpCallback + "?x=1", "https://RP.example/cb"} {
			cfg := p.cfg
			cfg.RedirectURL = cb
			r := b.get(strings.TrimPrefix(cfg.AuthCodeURL("s", oauth2.S256ChallengeOption("v")), e.ts.URL))
			if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
				t.Errorf("%s: status %d, Location %q; want 400 and no redirect", cb, r.status, r.header.Get("Location"))
			}
		}
	})
	t.Run("CORSWithoutCredentials", func(t *testing.T) {
		req, _ := http.NewRequest("OPTIONS", e.ts.URL+"/oauth/token", nil)
		req.Header.Set("Origin", "https://spa.example")
		req.Header.Set("Access-Control-Request-Method", "POST")
		r := b.do(req)
		if r.header.Get("Access-Control-Allow-Origin") != "*" || r.header.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight: %d %v", r.status, r.header)
		}
		// A browser app's cross-origin token call is not refused as CSRF.
		req, _ = http.NewRequest("POST", e.ts.URL+"/oauth/token", strings.NewReader("grant_type=authorization_code&code=x&client_id=spa"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://spa.example")
		req.Header.Set("Sec-Fetch-Site", "cross-site")
		if r := b.do(req); r.status != http.StatusBadRequest || !strings.Contains(r.body, "invalid_grant") {
			t.Errorf("cross-origin token call: %d %s", r.status, r.body)
		}
	})
	t.Run("UnknownClient", func(t *testing.T) {
		cfg := p.cfg
		cfg.ClientID = "nobody"
		r := b.get(strings.TrimPrefix(cfg.AuthCodeURL("s"), e.ts.URL))
		if r.status != http.StatusBadRequest || r.header.Get("Location") != "" {
			t.Errorf("status %d, Location %q; want 400 and no redirect", r.status, r.header.Get("Location"))
		}
	})
	t.Run("PublicClientWithoutPKCE", func(t *testing.T) {
		cfg := p.cfg
		cfg.ClientID, cfg.RedirectURL = "spa", "http://127.0.0.1:8765/cb"
		u, _ := b.authorize(cfg.AuthCodeURL("s"))
		if u.Query().Get("error") != "invalid_request" || !strings.HasPrefix(u.String(), cfg.RedirectURL) {
			t.Errorf("ended at %v, want invalid_request at the callback", u)
		}
	})
	t.Run("MalformedClaims", func(t *testing.T) {
		u, _ := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption("v"), oauth2.SetAuthURLParam("claims", "{nope")))
		if callbackOf(t, u, "s").Get("error") != "invalid_request" {
			t.Errorf("ended at %v, want invalid_request", u)
		}
	})
	t.Run("WrongClientSecret", func(t *testing.T) {
		verifier := oauth2.GenerateVerifier()
		u, _ := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		cfg := p.cfg
		cfg.ClientSecret = "wrong"
		if _, err := cfg.Exchange(t.Context(), callbackOf(t, u, "s").Get("code"), oauth2.VerifierOption(verifier)); err == nil {
			t.Error("exchange with a wrong secret succeeded")
		}
	})
}

func TestOIDCStepUp(t *testing.T) {
	e := newOIDCEnv(t)
	b := e.browser()
	b.signUp("ada@example.com", password)
	e.clock.Advance(time.Minute)
	p := e.rp("web")
	verifier := oauth2.GenerateVerifier()
	pkce := oauth2.S256ChallengeOption(verifier)
	essential := func(acr string) oauth2.AuthCodeOption {
		return oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"values":["`+acr+`"]}}}`)
	}

	t.Run("EssentialPhrWithoutPasskey", func(t *testing.T) {
		u, _ := b.authorize(p.cfg.AuthCodeURL("s1", pkce, essential("phr")))
		if u.Path != "/signin" {
			t.Fatalf("ended at %v, want the sign-in page", u)
		}
		u, _ = b.resumeSignIn(u, url.Values{"email": {"ada@example.com"}, "password": {password}})
		if got := callbackOf(t, u, "s1").Get("error"); got != "unmet_authentication_requirements" {
			t.Errorf("error = %q at %v, want unmet_authentication_requirements", got, u)
		}
	})

	t.Run("UnknownEssentialACR", func(t *testing.T) {
		u, _ := b.authorize(p.cfg.AuthCodeURL("s2", pkce, essential("urn:example:gold")))
		if got := callbackOf(t, u, "s2").Get("error"); got != "unmet_authentication_requirements" {
			t.Errorf("error = %q, want unmet_authentication_requirements", got)
		}
	})

	t.Run("MaxAgeZeroForcesSignIn", func(t *testing.T) {
		e.clock.Advance(time.Minute)
		u, _ := b.authorize(p.cfg.AuthCodeURL("s3", pkce, oauth2.SetAuthURLParam("max_age", "0")))
		if u.Path != "/signin" {
			t.Fatalf("ended at %v, want the sign-in page", u)
		}
		e.clock.Advance(time.Second)
		before := e.clock.Now()
		u, _ = b.resumeSignIn(u, url.Values{"email": {"ada@example.com"}, "password": {password}})
		_, _, c := p.exchange(callbackOf(t, u, "s3").Get("code"), verifier)
		if c.AuthTime != before.Unix() {
			t.Errorf("auth_time = %d, want the new sign-in's %d", c.AuthTime, before.Unix())
		}
	})

	t.Run("MFAThroughTOTP", func(t *testing.T) {
		key := b.enrollTOTP()
		e.clock.Advance(2 * time.Minute)
		bank := e.rp("bank")
		u, _ := b.authorize(bank.cfg.AuthCodeURL("s4", pkce))
		if u.Path != "/signin" {
			t.Fatalf("ended at %v, want the sign-in page (the client's minimum is mfa)", u)
		}
		form := url.Values{"email": {"ada@example.com"}, "password": {password}, "return_to": {u.Query().Get("return_to")}}
		r := b.submit(u.RequestURI(), "/signin", form)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin/factor" {
			t.Fatalf("password step: %d %q", r.status, r.header.Get("Location"))
		}
		b.get("/signin/factor")
		code, _ := totp.GenerateCode(key, e.clock.Now())
		r = b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("TOTP step: %d %s", r.status, truncate(r.body, 500))
		}
		u, _ = b.authorize(e.ts.URL + r.header.Get("Location"))
		_, _, c := bank.exchange(callbackOf(t, u, "s4").Get("code"), verifier)
		if c.ACR != "mfa" || !slices.Contains(c.AMR, "otp") || !slices.Contains(c.AMR, "mfa") {
			t.Errorf("claims = %+v, want acr mfa with otp and mfa in amr", c)
		}

		// Hours later the browser is a known device and the risk is low: a
		// plain sign-in would need only the password ("pwd rba"), but the
		// client's minimum of mfa still brings the second factor.
		e.clock.Advance(3 * time.Hour)
		b.signOut()
		u, _ = b.authorize(bank.cfg.AuthCodeURL("s5", pkce))
		if u.Path != "/signin" || u.Query().Get("acr") != "mfa" {
			t.Fatalf("ended at %v, want the sign-in page asking for mfa", u)
		}
		form = url.Values{"email": {"ada@example.com"}, "password": {password}, "return_to": {u.Query().Get("return_to")}, "acr": {u.Query().Get("acr")}}
		r = b.submit(u.RequestURI(), "/signin", form)
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin/factor" {
			t.Fatalf("password step on a known device: %d %q", r.status, r.header.Get("Location"))
		}
		if a := e.lastAssessment(); a.Details["decision"] != "allow" {
			t.Errorf("assessment = %+v, want allow (the step-up comes from the client)", a.Details)
		}
		e.clock.Advance(30 * time.Second)
		code, _ = totp.GenerateCode(key, e.clock.Now())
		r = b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}})
		u, _ = b.authorize(e.ts.URL + r.header.Get("Location"))
		if _, _, c := bank.exchange(callbackOf(t, u, "s5").Get("code"), verifier); c.ACR != "mfa" {
			t.Errorf("acr = %q, want mfa", c.ACR)
		}
	})
}

func TestOIDCStepUpPasskey(t *testing.T) {
	e := newEnv(t, withPasskeys, withClients(oidcprovider.ClientConfig{ID: "web", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true}))
	b := e.browser()
	b.signUp("ada@example.com", password)
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{})
	wantRedirect(t, "add passkey", b.addPasskey(k, "Laptop"), "/security?done=passkey_added")
	e.clock.Advance(time.Minute)
	p := e.rp("web")
	verifier := oauth2.GenerateVerifier()
	u, _ := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier),
		oauth2.SetAuthURLParam("claims", `{"id_token":{"acr":{"essential":true,"values":["phr"]}}}`)))
	if u.Path != "/signin" {
		t.Fatalf("ended at %v, want the sign-in page", u)
	}
	b.get(u.RequestURI())
	opts := b.passkeyOptions("signin")
	r := b.post("/signin/passkey", url.Values{"csrf": {b.csrf()}, "credential": {k.assert(t, opts.body)}, "return_to": {u.Query().Get("return_to")}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("passkey sign-in: %d %s", r.status, truncate(r.body, 500))
	}
	u, _ = b.authorize(e.ts.URL + r.header.Get("Location"))
	_, _, c := p.exchange(callbackOf(t, u, "s").Get("code"), verifier)
	if c.ACR != "phrh" || !slices.Equal(c.AMR, []string{"hwk", "user"}) {
		t.Errorf("claims = %+v, want acr phrh and amr [hwk user] (a device-bound passkey)", c)
	}
}

// TestOIDCResourceServerStepUp: an API guarded by the stepup package
// accepts the access token for what it proves and answers RFC 9470
// challenges for what it does not.
func TestOIDCResourceServerStepUp(t *testing.T) {
	e := newOIDCEnv(t)
	b := e.browser()
	b.signUp("ada@example.com", password)
	p := e.rp("web")
	verifier := oauth2.GenerateVerifier()
	u, _ := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), gooidc.Nonce("n")))
	tok, _, _ := p.exchange(callbackOf(t, u, "s").Get("code"), verifier)
	idToken, _ := tok.Extra("id_token").(string)

	v, err := stepup.New(t.Context(), stepup.Config{Issuer: e.ts.URL, Audience: "web", Now: e.clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tk, _ := stepup.TokenFrom(r.Context())
		w.Write([]byte(tk.ACR.String()))
	})
	mux := http.NewServeMux()
	mux.Handle("/any", v.Require(stepup.Requirement{}, ok))
	mux.Handle("/mfa", v.Require(stepup.Requirement{ACR: acr.MFA}, ok))
	mux.Handle("/recent", v.Require(stepup.Requirement{MaxAge: 5 * time.Minute}, ok))
	call := func(path, token string) (int, string, string) {
		rec := httptest.NewRecorder()
		req := httptest.NewRequestWithContext(t.Context(), "GET", path, nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		mux.ServeHTTP(rec, req)
		return rec.Code, rec.Header().Get("WWW-Authenticate"), rec.Body.String()
	}

	if code, _, body := call("/any", tok.AccessToken); code != 200 || body != "1" {
		t.Errorf("/any: %d %q", code, body)
	}
	code, h, _ := call("/mfa", tok.AccessToken)
	if code != 401 || !strings.Contains(h, `error="insufficient_user_authentication"`) || !strings.Contains(h, `acr_values="mfa"`) {
		t.Errorf("/mfa: %d %q", code, h)
	}
	if code, h, _ := call("/recent", tok.AccessToken); code != 200 {
		t.Errorf("/recent at once: %d %q", code, h)
	}
	e.clock.Advance(10 * time.Minute)
	if code, h, _ := call("/recent", tok.AccessToken); code != 401 || !strings.Contains(h, "max_age=300") {
		t.Errorf("/recent later: %d %q", code, h)
	}
	for name, bad := range map[string]string{"none": "", "ID token": idToken, "tampered": tamper(tok.AccessToken)} {
		code, h, _ := call("/any", bad)
		if code != 401 || (bad != "" && !strings.Contains(h, "invalid_token")) {
			t.Errorf("%s: %d %q", name, code, h)
		}
	}
}

func TestOIDCDiscoveryGolden(t *testing.T) {
	e := newOIDCEnv(t)
	r := e.browser().get("/.well-known/openid-configuration")
	if r.status != http.StatusOK {
		t.Fatalf("discovery: %d", r.status)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(doc, "", "  ")
	got = append(bytes.ReplaceAll(got, []byte(e.ts.URL), []byte("https://issuer.example")), '\n')
	golden := filepath.Join("testdata", "oidc_discovery.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("discovery document differs from %s (run with -update if intended):\n%s", golden, got)
	}
}

func TestOIDCAdminClients(t *testing.T) {
	e := newOIDCEnv(t)
	r := e.admin("POST", "/admin/v1/clients", map[string]any{"id": "shop", "redirect_uris": []string{rpCallback}, "min_acr": "mfa"})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created struct {
		Secret string `json:"secret"`
		MinACR string `json:"min_acr"`
	}
	json.Unmarshal([]byte(r.body), &created)
	if len(created.Secret) < 40 || created.MinACR != "mfa" {
		t.Fatalf("created = %s", r.body)
	}
	if r := e.admin("GET", "/admin/v1/clients/shop", nil); r.status != 200 || strings.Contains(r.body, created.Secret) || strings.Contains(r.body, `"secret"`) {
		t.Errorf("show: %d %s (must not reveal the secret)", r.status, r.body)
	}
	for _, tc := range []struct {
		body any
		want int
	}{
		{map[string]any{"id": "shop", "redirect_uris": []string{rpCallback}}, http.StatusConflict},
		{map[string]any{"id": "web", "redirect_uris": []string{rpCallback}}, http.StatusConflict},
		{map[string]any{"id": "x", "redirect_uris": []string{"/relative"}}, http.StatusUnprocessableEntity},
		{map[string]any{"id": "x", "redirect_uris": []string{rpCallback}, "min_acr": "gold"}, http.StatusUnprocessableEntity},
	} {
		if r := e.admin("POST", "/admin/v1/clients", tc.body); r.status != tc.want {
			t.Errorf("create %v: %d, want %d: %s", tc.body, r.status, tc.want, r.body)
		}
	}

	// The new client works with the secret it was given.
	b := e.browser()
	b.signUp("ada@example.com", password)
	p := e.rp("web")
	p.cfg.ClientID, p.cfg.ClientSecret = "shop", created.Secret
	p.verifier = p.provider.Verifier(&gooidc.Config{ClientID: "shop"})
	u, _ := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption("v")))
	if u.Path != "/signin" {
		t.Errorf("single-factor session for an mfa client ended at %v, want sign-in", u)
	}

	r = e.admin("GET", "/admin/v1/clients", nil)
	for _, id := range []string{`"web"`, `"spa"`, `"bank"`, `"shop"`} {
		mustContain(t, "client list", r.body, id)
	}
	if r := e.admin("DELETE", "/admin/v1/clients/web", nil); r.status != http.StatusConflict {
		t.Errorf("delete a configured client: %d, want 409", r.status)
	}
	if r := e.admin("DELETE", "/admin/v1/clients/shop", nil); r.status != http.StatusNoContent {
		t.Errorf("delete: %d %s", r.status, r.body)
	}
	if r := e.admin("GET", "/admin/v1/clients/shop", nil); r.status != http.StatusNotFound {
		t.Errorf("show deleted: %d, want 404", r.status)
	}
	if e.lastEvent("client.deleted").Details["client_id"] != "shop" {
		t.Error("no audit event for the deletion")
	}
}

func TestOIDCSigningKeyKept(t *testing.T) {
	e := newOIDCEnv(t)
	keys := func() string { return e.browser().get("/keys").body }
	before := keys()
	mustContain(t, "key set", before, `"alg":"ES256"`)
	e.restart()
	if after := keys(); after != before {
		t.Errorf("key set changed across a restart:\n%s\n%s", before, after)
	}
}

// tamper changes one base64url character of a token's signature or MAC, 10
// from its end, where all six bits count: replacing the last characters
// may change only padding bits, or nothing when they were the same.
func tamper(tok string) string {
	i := len(tok) - 10
	c := byte('A')
	if tok[i] == 'A' {
		c = 'B'
	}
	return tok[:i] + string(c) + tok[i+1:]
}
