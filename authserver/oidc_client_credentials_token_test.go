package authserver

import (
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/assent-auth/assent/oidcprovider"
)

// TestOIDCClientCredentialsSameAsLibrary: the provider serves the client
// credentials grant itself (oidcprovider/clientcredentials_token.go) and
// leaves cross-origin requests to the library's token handler. Every
// request is sent both ways; the answers must agree: status, error code,
// headers, and a token with the same header and claims, signed with the
// current key of the client's algorithm.
func TestOIDCClientCredentialsSameAsLibrary(t *testing.T) {
	t.Parallel()
	e := newEnv(t, withClients(
		oidcprovider.ClientConfig{ID: "svc", Secret: rpSecret, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"orders:read", "orders:write"}},
		oidcprovider.ClientConfig{ID: "svc-rsa", Secret: rpSecret, GrantTypes: []string{"client_credentials"},
			Scopes: []string{"orders:read"}, IDTokenAlg: "RS256"},
		oidcprovider.ClientConfig{ID: "web", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true,
			Scopes: []string{"openid", "orders:read"}},
	))
	keys := gooidc.NewRemoteKeySet(t.Context(), e.ts.URL+"/keys")

	type answer struct {
		status int
		header http.Header
		body   map[string]any
	}
	send := func(t *testing.T, form url.Values, user, pass string, library bool) answer {
		t.Helper()
		req, _ := http.NewRequest("POST", e.ts.URL+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if user != "" {
			req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
		}
		if library {
			req.Header.Set("Origin", e.ts.URL)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		a := answer{status: resp.StatusCode, header: resp.Header}
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("answer is not JSON: %d %q", resp.StatusCode, raw)
		}
		return a
	}
	// headerNames are the response's header names but those that differ
	// per request or belong to CORS.
	headerNames := func(h http.Header) []string {
		var out []string
		for k := range h {
			if k == "Date" || k == "X-Request-Id" || k == "Content-Length" || strings.HasPrefix(k, "Access-Control-") {
				continue
			}
			out = append(out, k+": "+strings.Join(h.Values(k), ","))
		}
		slices.Sort(out)
		return out
	}

	for _, tc := range []struct {
		name       string
		form       url.Values
		user, pass string
		status     int
		alg        string
	}{
		{"granted", url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:read"}}, "svc", rpSecret, http.StatusOK, "ES256"},
		{"granted all scopes", url.Values{"grant_type": {"client_credentials"}}, "svc", rpSecret, http.StatusOK, "ES256"},
		{"granted RS256", url.Values{"grant_type": {"client_credentials"}}, "svc-rsa", rpSecret, http.StatusOK, "RS256"},
		{"secret in the form", url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {rpSecret}}, "", "", http.StatusOK, "ES256"},
		{"wrong secret", url.Values{"grant_type": {"client_credentials"}}, "svc", rpSecret + "x", http.StatusUnauthorized, ""},
		{"unknown client", url.Values{"grant_type": {"client_credentials"}}, "nobody", rpSecret, http.StatusUnauthorized, ""},
		{"no client authentication", url.Values{"grant_type": {"client_credentials"}}, "", "", http.StatusUnauthorized, ""},
		{"client without the grant", url.Values{"grant_type": {"client_credentials"}}, "web", rpSecret, http.StatusBadRequest, ""},
		{"scope outside the list", url.Values{"grant_type": {"client_credentials"}, "scope": {"orders:delete"}}, "svc", rpSecret, http.StatusBadRequest, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fast := send(t, tc.form, tc.user, tc.pass, false)
			lib := send(t, tc.form, tc.user, tc.pass, true)
			if fast.status != tc.status || lib.status != tc.status {
				t.Fatalf("status: served %d %v, library %d %v; want %d", fast.status, fast.body, lib.status, lib.body, tc.status)
			}
			if got, want := headerNames(fast.header), headerNames(lib.header); !slices.Equal(got, want) {
				t.Errorf("headers:\n served  %q\n library %q", got, want)
			}
			if tc.status != http.StatusOK {
				if fast.body["error"] != lib.body["error"] || fast.body["error_description"] != lib.body["error_description"] {
					t.Errorf("error: served %v, library %v", fast.body, lib.body)
				}
				return
			}
			for _, k := range []string{"token_type", "scope"} {
				if fast.body[k] != lib.body[k] {
					t.Errorf("%s: served %v, library %v", k, fast.body[k], lib.body[k])
				}
			}
			if d := fast.body["expires_in"].(float64) - lib.body["expires_in"].(float64); d < -1 || d > 1 {
				t.Errorf("expires_in: served %v, library %v", fast.body["expires_in"], lib.body["expires_in"])
			}
			fastTok, _ := fast.body["access_token"].(string)
			libTok, _ := lib.body["access_token"].(string)
			for _, tok := range []string{fastTok, libTok} {
				if _, err := keys.VerifySignature(t.Context(), tok); err != nil {
					t.Fatalf("signature: %v", err)
				}
			}
			fh, lh := tokenPart(t, fastTok, 0), tokenPart(t, libTok, 0)
			if fh["alg"] != tc.alg || fh["typ"] != "JWT" || fh["kid"] == nil || len(fh) != len(lh) || fh["alg"] != lh["alg"] || fh["kid"] != lh["kid"] || fh["typ"] != lh["typ"] {
				t.Errorf("JWS header: served %v, library %v", fh, lh)
			}
			fc, lc := tokenPart(t, fastTok, 1), tokenPart(t, libTok, 1)
			if got, want := slices.Sorted(maps.Keys(fc)), slices.Sorted(maps.Keys(lc)); !slices.Equal(got, want) {
				t.Errorf("claims: served %v, library %v", got, want)
			}
			for _, k := range []string{"iss", "sub", "client_id"} {
				if fc[k] != lc[k] || fc[k] == nil {
					t.Errorf("claim %s: served %v, library %v", k, fc[k], lc[k])
				}
			}
			if fc["sub"] != tc.user && fc["sub"] != tc.form.Get("client_id") {
				t.Errorf("sub = %v", fc["sub"])
			}
			if a, b := jsonString(fc["aud"]), jsonString(lc["aud"]); a != b {
				t.Errorf("aud: served %s, library %s", a, b)
			}
			if fc["jti"] == lc["jti"] {
				t.Errorf("both tokens have jti %v", fc["jti"])
			}
			life, libLife := fc["exp"].(float64)-fc["iat"].(float64), lc["exp"].(float64)-lc["iat"].(float64)
			if d := life - libLife; d < -1 || d > 1 || fc["nbf"] != fc["iat"] {
				t.Errorf("lifetime: served %v (nbf %v, iat %v), library %v", life, fc["nbf"], fc["iat"], libLife)
			}
		})
	}
}

func jsonString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestOIDCStoredClientChangesApplyAtOnce: the provider keeps stored
// clients in memory once read (oidcprovider/clientcache.go); a rotated
// secret and a deleted client must still take effect as soon as the admin
// call returns, also while grants are being served.
func TestOIDCStoredClientChangesApplyAtOnce(t *testing.T) {
	t.Parallel()
	e := newOIDCEnv(t)
	create := func(id string) string {
		r := e.admin("POST", "/admin/v1/clients", map[string]any{"id": id, "grant_types": []string{"client_credentials"},
			"scopes": []string{"reports:read"}})
		var created struct {
			Secret string `json:"secret"`
		}
		if r.status != http.StatusCreated || json.Unmarshal([]byte(r.body), &created) != nil || created.Secret == "" {
			t.Fatalf("create client: %d %s", r.status, r.body)
		}
		return created.Secret
	}
	grant := func(id, secret string) string {
		t.Helper()
		_, err := ccConfig(e, id, secret).Token(t.Context())
		if err == nil {
			return ""
		}
		return oauthErrorCode(t, err)
	}

	old := create("batch")
	for range 3 {
		if got := grant("batch", old); got != "" {
			t.Fatalf("grant: %s", got)
		}
	}
	// Grants keep coming while the secret is rotated.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				ccConfig(e, "batch", old).Token(t.Context())
			}
		}
	}()
	r := e.admin("POST", "/admin/v1/clients/batch/rotate-secret", nil)
	close(stop)
	<-done
	var rotated struct {
		Secret string `json:"secret"`
	}
	if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &rotated) != nil || rotated.Secret == "" {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	if got := grant("batch", old); got != "invalid_client" {
		t.Errorf("old secret after rotation: %q, want invalid_client", got)
	}
	if got := grant("batch", rotated.Secret); got != "" {
		t.Errorf("new secret after rotation: %q", got)
	}

	if r := e.admin("DELETE", "/admin/v1/clients/batch", nil); r.status/100 != 2 {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if got := grant("batch", rotated.Secret); got != "invalid_client" {
		t.Errorf("deleted client: %q, want invalid_client", got)
	}
	// The same id registered again has only its new secret.
	again := create("batch")
	if got := grant("batch", rotated.Secret); got != "invalid_client" {
		t.Errorf("previous secret of a re-created client: %q, want invalid_client", got)
	}
	if got := grant("batch", again); got != "" {
		t.Errorf("re-created client: %q", got)
	}
}
