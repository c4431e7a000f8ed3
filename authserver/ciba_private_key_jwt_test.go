package authserver

import (
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/push/deviceclient"
)

// TestCIBAPrivateKeyJWT: a CIBA client registered with a public key set
// authenticates at the backchannel and token endpoints with client
// assertions (RFC 7523), each accepted once; an assertion for another
// client_id, a replayed one and a mix of methods are refused.
func TestCIBAPrivateKeyJWT(t *testing.T) {
	key := newECKey(t, "bank-1")
	set, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key.Public()}})
	w := newCIBAWorld(t, withClients(
		oidcprovider.ClientConfig{ID: "bank", JWKS: string(set), RedirectURIs: []string{rpCallback}, CIBAMode: "poll"},
		oidcprovider.ClientConfig{ID: "shop", Secret: cibaSecret, RedirectURIs: []string{rpCallback}, CIBAMode: "poll"},
	))
	e := w.e
	aud := e.ts.URL
	start := url.Values{"scope": {"openid"}, "login_hint": {"ada@example.com"}, "binding_message": {"Transfer 12"}}

	status, out := postAssertion(t, e, "/bc-authorize", assertion(t, key, "bank", aud, "bc-1", 5*time.Minute), cloneForm(start))
	if status != http.StatusOK || out["auth_req_id"] == nil {
		t.Fatalf("backchannel with a client assertion: %d %v", status, out)
	}
	id, _ := out["auth_req_id"].(string)
	number, _ := out["binding_number"].(float64)

	// The same assertion again, one naming another client, and an
	// assertion beside a secret: refused.
	if status, out := postAssertion(t, e, "/bc-authorize", assertion(t, key, "bank", aud, "bc-1", 5*time.Minute), cloneForm(start)); status != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Errorf("replayed assertion: %d %v", status, out)
	}
	other := cloneForm(start)
	other.Set("client_id", "shop")
	if status, out := postAssertion(t, e, "/bc-authorize", assertion(t, key, "bank", aud, "bc-2", 5*time.Minute), other); status != http.StatusUnauthorized || out["error"] != "invalid_client" {
		t.Errorf("assertion with another client_id: %d %v", status, out)
	}
	mixed := cloneForm(start)
	mixed.Set("client_secret", cibaSecret)
	if status, out := postAssertion(t, e, "/bc-authorize", assertion(t, key, "bank", aud, "bc-3", 5*time.Minute), mixed); status != http.StatusBadRequest || out["error"] != "invalid_request" {
		t.Errorf("assertion and secret together: %d %v", status, out)
	}
	// The bank has no secret: client_secret_post as "bank" fails.
	if a := (merchant{t: t, e: e, id: "bank", secret: "guess"}).start(cloneForm(start)); a.status != http.StatusUnauthorized {
		t.Errorf("secret for a key-only client: %d %s", a.status, a.raw)
	}

	w.answer(t, deviceclient.Answer{Approve: true, Number: int(number)})
	e.clock.Advance(6 * time.Second)
	status, out = postAssertion(t, e, "/oauth/token", assertion(t, key, "bank", aud, "tok-1", 5*time.Minute),
		url.Values{"grant_type": {oidcprovider.GrantTypeCIBA}, "auth_req_id": {id}})
	if status != http.StatusOK || out["id_token"] == nil || out["access_token"] == nil {
		t.Fatalf("token request with a client assertion: %d %v", status, out)
	}
}

func cloneForm(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}
