package authserver

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/assent-auth/assent/oidcprovider"
)

// TestClientDisplayName: a client's display name, from the configuration
// file or the admin API, is what the consent page and the list of
// connected applications show, escaped; a client without one shows its id.
func TestClientDisplayName(t *testing.T) {
	const name = `Acme <b>Books</b> & "Co"`
	const escaped = `Acme &lt;b&gt;Books&lt;/b&gt; &amp; &#34;Co&#34;`
	e := newEnv(t, withClients(
		oidcprovider.ClientConfig{ID: "books", Name: name, Secret: rpSecret, RedirectURIs: []string{rpCallback}},
		oidcprovider.ClientConfig{ID: "plain", Secret: rpSecret, RedirectURIs: []string{rpCallback}},
	))
	b := e.browser()
	b.signUp("ada@example.com", password)
	verifier := oauth2.GenerateVerifier()

	consent := func(p *rp) (*url.URL, response) {
		t.Helper()
		u, r := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		if r.status != http.StatusOK || u.Path != "/oidc/resume" {
			t.Fatalf("%s: ended at %v (%d), want the consent page", p.cfg.ClientID, u, r.status)
		}
		return u, r
	}
	allow := func(u *url.URL) {
		t.Helper()
		if r := b.submit(u.RequestURI(), "/oidc/consent", url.Values{"id": {u.Query().Get("id")}, "decision": {"allow"}}); r.status != http.StatusSeeOther {
			t.Fatalf("allow: %d", r.status)
		}
	}

	u, r := consent(e.rp("books"))
	mustContain(t, "consent page", r.body, escaped)
	if strings.Contains(r.body, "<b>Books") {
		t.Errorf("the display name reached the page unescaped")
	}
	allow(u)
	u, r = consent(e.rp("plain"))
	mustContain(t, "consent page without a name", r.body, "plain")
	allow(u)

	// Registered through the admin API, as `assent client create --name`.
	cr := e.admin("POST", "/admin/v1/clients", map[string]any{"id": "svc", "name": "Service Desk", "redirect_uris": []string{rpCallback}})
	var view struct {
		Name   string `json:"name"`
		Secret string `json:"secret"`
	}
	if cr.status != http.StatusCreated || json.Unmarshal([]byte(cr.body), &view) != nil || view.Name != "Service Desk" {
		t.Fatalf("create client: %d %s", cr.status, cr.body)
	}
	for id, want := range map[string]string{"svc": "Service Desk", "books": name, "plain": ""} {
		g := e.admin("GET", "/admin/v1/clients/"+id, nil)
		var v struct{ Name *string }
		if err := json.Unmarshal([]byte(g.body), &v); err != nil || want != "" && (v.Name == nil || *v.Name != want) || want == "" && v.Name != nil {
			t.Errorf("client %s's view: %s", id, g.body)
		}
	}
	svc := e.rp("svc")
	svc.cfg.ClientSecret = view.Secret
	u, r = consent(svc)
	mustContain(t, "stored client's consent page", r.body, "Service Desk")
	allow(u)

	apps := b.get("/security/apps").body
	for _, want := range []string{escaped, "Service Desk", `data-client="plain"`, `data-client="books"`} {
		mustContain(t, "apps page", apps, want)
	}
	if strings.Contains(apps, "<b>Books") {
		t.Errorf("the display name reached the apps page unescaped")
	}

	// Names that could disguise the client are refused.
	for _, bad := range []string{"Bank\u202egnp.exe", "Line\nbreak", " padded", strings.Repeat("x", 101)} {
		r := e.admin("POST", "/admin/v1/clients", map[string]any{"id": "bad", "name": bad, "redirect_uris": []string{rpCallback}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "client.name") {
			t.Errorf("name %q: %d %s", bad, r.status, r.body)
		}
	}
}
