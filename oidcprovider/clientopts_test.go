package oidcprovider

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

func TestKeyRotationPerAlgorithm(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	p := newTestProvider(t, &now)
	st := storage{p}
	rsCtx := context.WithValue(t.Context(), tokenCallKey{}, &tokenCall{alg: jose.RS256})
	sign := func(ctx context.Context) *signingKey {
		k, err := st.SigningKey(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return k.(*signingKey)
	}
	published := func() map[string]jose.SignatureAlgorithm {
		ks, _ := st.KeySet(t.Context())
		out := map[string]jose.SignatureAlgorithm{}
		for _, k := range ks {
			out[k.ID()] = k.Algorithm()
		}
		return out
	}
	es := sign(t.Context())
	if es.alg != jose.ES256 || len(published()) != 1 {
		t.Fatalf("first key %s, published %v", es.alg, published())
	}
	// The RS256 key is made when first needed, and published beside.
	rs := sign(rsCtx)
	if rs.alg != jose.RS256 || sign(rsCtx).id != rs.id || sign(t.Context()).id != es.id {
		t.Fatalf("RS256 key: %s %s", rs.alg, rs.id)
	}
	if got := published(); len(got) != 2 || got[rs.id] != jose.RS256 || got[es.id] != jose.ES256 {
		t.Errorf("published = %v", got)
	}
	// Each rotates on its own schedule; a replaced key stays a day.
	now = now.Add(91 * 24 * time.Hour)
	es2, rs2 := sign(t.Context()), sign(rsCtx)
	if es2.id == es.id || rs2.id == rs.id || es2.alg != jose.ES256 || rs2.alg != jose.RS256 {
		t.Fatal("no rotation after 90 days")
	}
	if got := published(); len(got) != 4 {
		t.Errorf("published right after rotation = %v, want 4", got)
	}
	now = now.Add(25 * time.Hour)
	if got := published(); len(got) != 2 || got[es2.id] != jose.ES256 || got[rs2.id] != jose.RS256 {
		t.Errorf("published a day later = %v, want the two new keys", got)
	}
	// They survive a restart: a new provider on the same store loads both.
	keys, err := loadKeys(t.Context(), p.store, p.keys.aead, now)
	if err != nil || len(keys) != 4 {
		t.Fatalf("reloaded %d keys, %v", len(keys), err)
	}
}

func TestClientConfigValidate(t *testing.T) {
	good := `{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"WKn-ZIGevcwGIyyrzFoZNBdaq9_TsqzGl96oc0CWuis","y":"y77t-RvAHRKTsSGdIYUfweuOvwrvDD-Q3Hv5J0fSKbE"}]}`
	base := ClientConfig{ID: "c", Secret: strings.Repeat("s", 32), RedirectURIs: []string{"https://c.example/cb"}}
	tests := []struct {
		name string
		edit func(*ClientConfig)
		want string
	}{
		{"secret client", func(*ClientConfig) {}, ""},
		{"key client", func(c *ClientConfig) { c.Secret, c.JWKS = "", good }, ""},
		{"secret and keys", func(c *ClientConfig) { c.JWKS = good }, "not both"},
		{"public with keys", func(c *ClientConfig) { c.Secret, c.Public, c.JWKS = "", true, good }, "public client"},
		{"bad keys", func(c *ClientConfig) { c.Secret, c.JWKS = "", `{"keys":[]}` }, "no keys"},
		{"key without kid", func(c *ClientConfig) { c.Secret, c.JWKS = "", strings.Replace(good, `"kid":"a",`, "", 1) }, "kid"},
		{"scopes", func(c *ClientConfig) { c.Scopes = []string{"openid", "email"} }, ""},
		{"bad scope", func(c *ClientConfig) { c.Scopes = []string{"a b"} }, "scope"},
		{"grants", func(c *ClientConfig) { c.GrantTypes = []string{"authorization_code"} }, ""},
		{"unknown grant", func(c *ClientConfig) { c.GrantTypes = []string{"password"} }, "grant_types"},
		{"RS256", func(c *ClientConfig) { c.IDTokenAlg = "RS256" }, ""},
		{"HS256", func(c *ClientConfig) { c.IDTokenAlg = "HS256" }, "id_token_signed_response_alg"},
		{"max auth age", func(c *ClientConfig) { c.MaxAuthAge = 5 * time.Minute }, ""},
		{"max auth age too short", func(c *ClientConfig) { c.MaxAuthAge = 10 * time.Second }, "max_auth_age"},
		{"logout uri", func(c *ClientConfig) { c.PostLogoutRedirectURIs = []string{"https://c.example/bye"} }, ""},
		{"bad logout uri", func(c *ClientConfig) { c.PostLogoutRedirectURIs = []string{"https://c.example/bye#x"} }, "post_logout"},
	}
	for _, tc := range tests {
		c := base
		tc.edit(&c)
		err := c.Validate("clients[0]")
		if tc.want == "" && err != nil || tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestRemoteKeys(t *testing.T) {
	var mu sync.Mutex
	var fetches int
	serve := []byte(`{"keys":[{"kty":"EC","crv":"P-256","kid":"a","x":"WKn-ZIGevcwGIyyrzFoZNBdaq9_TsqzGl96oc0CWuis","y":"y77t-RvAHRKTsSGdIYUfweuOvwrvDD-Q3Hv5J0fSKbE"}]}`)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		fetches++
		w.Write(serve)
	}))
	defer srv.Close()
	r := newRemoteKeys()
	if k, err := r.key(t.Context(), srv.URL, "a"); err != nil || k.KeyID != "a" {
		t.Fatalf("key a: %v, %v", k, err)
	}
	if _, err := r.key(t.Context(), srv.URL, ""); err != nil {
		t.Errorf("the only key without kid: %v", err)
	}
	// An unknown kid right after a fetch does not fetch again.
	if _, err := r.key(t.Context(), srv.URL, "b"); err == nil {
		t.Error("unknown kid accepted")
	}
	mu.Lock()
	if fetches != 1 {
		t.Errorf("%d fetches, want 1 (cached)", fetches)
	}
	mu.Unlock()
	// After the interval, an unknown kid (a rotated key) fetches anew.
	r.minInterval = 0
	mu.Lock()
	serve = []byte(strings.ReplaceAll(string(serve), `"kid":"a"`, `"kid":"b"`))
	mu.Unlock()
	if k, err := r.key(t.Context(), srv.URL, "b"); err != nil || k.KeyID != "b" {
		t.Errorf("rotated key b: %v, %v", k, err)
	}
	// A set that is too large or not a key set is refused.
	mu.Lock()
	serve = []byte(`{"keys":"nope"}`)
	mu.Unlock()
	if _, err := newRemoteKeys().key(t.Context(), srv.URL, "b"); err == nil {
		t.Error("a malformed key set was accepted")
	}
	for uri, ok := range map[string]bool{"https://c.example/jwks": true, "http://127.0.0.1:9/jwks": true,
		"http://c.example/jwks": false, "ftp://c.example/jwks": false, "/jwks": false} {
		if err := validateJWKSURI(uri); (err == nil) != ok {
			t.Errorf("validateJWKSURI(%q) = %v", uri, err)
		}
	}
}
