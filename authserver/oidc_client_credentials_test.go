package authserver

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/store"
)

// newClientCredentialsEnv has a service client that may use the client
// credentials grant ("svc", no redirect URIs), one that authenticates
// with private_key_jwt ("svc-key"), and a web client that may not ("web").
func newClientCredentialsEnv(t *testing.T, jwk jose.JSONWebKey) *env {
	t.Helper()
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}})
	return newEnv(t, withClients(
		oidcprovider.ClientConfig{ID: "svc", Secret: rpSecret, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"orders:read", "orders:write", "openid"}},
		oidcprovider.ClientConfig{ID: "svc-key", JWKS: string(set), GrantTypes: []string{"client_credentials"},
			Scopes: []string{"orders:read"}},
		oidcprovider.ClientConfig{ID: "web", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true,
			Scopes: []string{"openid", "orders:read"}},
	))
}

func ccConfig(e *env, clientID, secret string, scopes ...string) *clientcredentials.Config {
	return &clientcredentials.Config{ClientID: clientID, ClientSecret: secret, TokenURL: e.ts.URL + "/oauth/token",
		Scopes: scopes, AuthStyle: oauth2.AuthStyleInHeader}
}

// oauthErrorCode returns the OAuth error code of a failed token request.
func oauthErrorCode(t *testing.T, err error) string {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("want an OAuth error, got %v", err)
	}
	return re.ErrorCode
}

// tokenPayload decodes the payload of a JWT whose signature the caller
// checks separately.
func tokenPayload(t *testing.T, raw string) map[string]any {
	t.Helper()
	return tokenPart(t, raw, 1)
}

// tokenPart decodes part i (0 the header, 1 the payload) of a compact JWS.
func tokenPart(t *testing.T, raw string, i int) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// waitIssuances waits for n client credentials issuances in the audit
// log, which are written in the background, and returns them.
func waitIssuances(t *testing.T, e *env, n int) []store.AuditEvent {
	t.Helper()
	var evs []store.AuditEvent
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		evs = evs[:0]
		for _, x := range e.auditEvents() {
			if x.Kind == "oidc.client_credentials" {
				evs = append(evs, x)
			}
		}
		if len(evs) >= n {
			return evs
		}
	}
	t.Fatalf("%d client credentials audit events, want %d", len(evs), n)
	return nil
}

// TestOIDCClientCredentials: a confidential client that opted in gets a
// signed JWT access token for itself with its own scopes only, no refresh
// token and no ID token, which introspection accepts and userinfo refuses;
// every other client or request gets the OAuth error it should.
func TestOIDCClientCredentials(t *testing.T) {
	t.Parallel()
	key := newECKey(t, "svc-key-1")
	e := newClientCredentialsEnv(t, key)
	ctx := t.Context()

	tok, err := ccConfig(e, "svc", rpSecret, "orders:read").Token(ctx)
	if err != nil {
		t.Fatalf("client credentials grant: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken != "" || tok.Extra("id_token") != nil || tok.Extra("scope") != "orders:read" ||
		!strings.EqualFold(tok.TokenType, "bearer") || tok.Expiry.IsZero() {
		t.Errorf("token = %+v (id_token %v, scope %v)", tok, tok.Extra("id_token"), tok.Extra("scope"))
	}
	// The access token is signed with the published keys and names the
	// client as its subject.
	if _, err := gooidc.NewRemoteKeySet(ctx, e.ts.URL+"/keys").VerifySignature(ctx, tok.AccessToken); err != nil {
		t.Errorf("access token signature: %v", err)
	}
	claims := tokenPayload(t, tok.AccessToken)
	if claims["sub"] != "svc" || claims["client_id"] != "svc" || claims["iss"] != e.ts.URL || claims["jti"] == nil || claims["exp"] == nil {
		t.Errorf("access token claims = %v", claims)
	}
	ev := waitIssuances(t, e, 1)[0]
	if ev.Actor != "svc" || ev.Subject != "svc" || ev.Outcome != "ok" || ev.Details["scope"] != "orders:read" {
		t.Errorf("audit event = %+v", ev)
	}

	// A resource server introspects it.
	rs := &rp{t: t, cfg: oauth2.Config{ClientID: "web", ClientSecret: rpSecret}}
	status, in := rs.postForm(e, "/oauth/introspect", url.Values{"token": {tok.AccessToken}})
	if status != http.StatusOK || in["active"] != true || in["sub"] != "svc" || in["scope"] != "orders:read" {
		t.Errorf("introspect: %d %v", status, in)
	}
	// Userinfo has no user to describe.
	req, _ := http.NewRequest("GET", e.ts.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("userinfo with a client token: %d", resp.StatusCode)
	}

	// Without a scope parameter the client gets its own scopes, less the
	// ones about a user.
	tok, err = ccConfig(e, "svc", rpSecret).Token(ctx)
	if err != nil {
		t.Fatalf("grant without scope: %v", err)
	}
	if got := tok.Extra("scope"); got != "orders:read orders:write" {
		t.Errorf("default scope = %v", got)
	}

	// private_key_jwt: the client assertion authenticates, once.
	a := assertion(t, key, "svc-key", e.ts.URL, "cc-1", 5*time.Minute)
	keyed := ccConfig(e, "svc-key", "", "orders:read")
	keyed.AuthStyle = oauth2.AuthStyleInParams
	keyed.EndpointParams = url.Values{"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
		"client_assertion": {a}}
	tok, err = keyed.Token(ctx)
	if err != nil {
		t.Fatalf("grant with a client assertion: %v", err)
	}
	if c := tokenPayload(t, tok.AccessToken); c["sub"] != "svc-key" || tok.RefreshToken != "" {
		t.Errorf("keyed token claims = %v", c)
	}
	if _, err := keyed.Token(ctx); oauthErrorCode(t, err) != "invalid_client" {
		t.Errorf("replayed assertion: %v", err)
	}
	// An assertion for one client with another's client_id.
	status, out := postAssertion(t, e, "/oauth/token", assertion(t, key, "svc-key", e.ts.URL, "cc-2", 5*time.Minute),
		url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}})
	if status != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Errorf("assertion with another client_id: %d %v", status, out)
	}

	// Three tokens issued, three events; the refusals record none.
	defer func() {
		actors := map[string]int{}
		for _, ev := range waitIssuances(t, e, 3) {
			actors[ev.Actor]++
		}
		if len(actors) != 2 || actors["svc"] != 2 || actors["svc-key"] != 1 {
			t.Errorf("issuances by client = %v", actors)
		}
	}()

	for _, tc := range []struct {
		name string
		cfg  *clientcredentials.Config
		want string
	}{
		{"client without the grant", ccConfig(e, "web", rpSecret, "orders:read"), "unauthorized_client"},
		{"wrong secret", ccConfig(e, "svc", rpSecret+"x", "orders:read"), "invalid_client"},
		{"no secret", ccConfig(e, "svc", "", "orders:read"), "invalid_client"},
		{"unknown client", ccConfig(e, "nobody", rpSecret), "invalid_client"},
		{"scope outside the client's list", ccConfig(e, "svc", rpSecret, "orders:read", "orders:delete"), "invalid_scope"},
		{"user scope", ccConfig(e, "svc", rpSecret, "openid"), "invalid_scope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := tc.cfg.Token(ctx)
			if err == nil {
				t.Fatalf("accepted: %+v", tok)
			}
			if got := oauthErrorCode(t, err); got != tc.want {
				t.Errorf("error = %q, want %q (%v)", got, tc.want, err)
			}
		})
	}
}

// TestOIDCClientCredentialsRegistration: the grant is opt-in, for
// confidential clients only, and a service client needs no redirect URI.
func TestOIDCClientCredentialsRegistration(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t)
	r := e.admin("POST", "/admin/v1/clients", map[string]any{"id": "batch", "grant_types": []string{"client_credentials"},
		"scopes": []string{"reports:read"}})
	if r.status != http.StatusCreated {
		t.Fatalf("create service client: %d %s", r.status, r.body)
	}
	var created struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(r.body), &created); err != nil || created.Secret == "" {
		t.Fatalf("created: %s", r.body)
	}
	tok, err := ccConfig(e, "batch", created.Secret, "reports:read").Token(t.Context())
	if err != nil || tok.Extra("scope") != "reports:read" {
		t.Fatalf("grant for the created client: %v %+v", err, tok)
	}
	waitIssuances(t, e, 1)
	// The configured "web" client lists no grant types: it has the user
	// grants, not this one.
	if _, err := ccConfig(e, "web", rpSecret).Token(t.Context()); oauthErrorCode(t, err) != "unauthorized_client" {
		t.Errorf("client with the default grants: %v", err)
	}
	for name, body := range map[string]map[string]any{
		"public client":           {"id": "p1", "public": true, "redirect_uris": []string{rpCallback}, "grant_types": []string{"client_credentials"}},
		"code without a redirect": {"id": "p2", "grant_types": []string{"client_credentials", "authorization_code"}},
	} {
		if r := e.admin("POST", "/admin/v1/clients", body); r.status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
}
