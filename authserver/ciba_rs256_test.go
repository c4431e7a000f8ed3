package authserver

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/push/deviceclient"
)

// TestCIBATokensFollowClientAlg checks that a CIBA client registered for
// RS256 ID tokens gets its CIBA tokens signed with RS256, as the token
// endpoint signs its other tokens, and that go-oidc verifies them against
// the published keys.
func TestCIBATokensFollowClientAlg(t *testing.T) {
	w := newCIBAWorld(t, withClients(oidcprovider.ClientConfig{ID: "legacy", Secret: cibaSecret,
		RedirectURIs: []string{rpCallback}, CIBAMode: "poll", IDTokenAlg: "RS256"}))
	legacy := merchant{t: t, e: w.e, id: "legacy", secret: cibaSecret}
	a := legacy.start(url.Values{"login_hint": {"ada@example.com"}, "binding_message": {"Order 1"}})
	if a.status != http.StatusOK {
		t.Fatalf("backchannel: %d %s", a.status, a.raw)
	}
	w.answer(t, deviceclient.Answer{Approve: true, Number: a.num("binding_number")})
	w.e.clock.Advance(6 * time.Second)
	tok := legacy.poll(a.str("auth_req_id"))
	if tok.status != http.StatusOK {
		t.Fatalf("tokens: %d %s", tok.status, tok.raw)
	}
	for name, raw := range map[string]string{"id_token": tok.str("id_token"), "access_token": tok.str("access_token")} {
		jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256, jose.ES256})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if alg := jws.Signatures[0].Header.Algorithm; alg != string(jose.RS256) {
			t.Errorf("%s signed with %s, want RS256", name, alg)
		}
	}
	p, err := gooidc.NewProvider(t.Context(), w.e.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	v := p.Verifier(&gooidc.Config{ClientID: "legacy", SupportedSigningAlgs: []string{"RS256"}})
	if _, err := v.Verify(t.Context(), tok.str("id_token")); err != nil {
		t.Fatalf("verify RS256 ID token: %v", err)
	}

}
