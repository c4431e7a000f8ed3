package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestBrowserUpstreamCrossOrigin drives headless Chromium through a sign-in
// at an upstream provider on a third origin: a relying party asks this
// server, whose sign-in page sends the user on to another assentd (the
// upstream), whose sign-in form's answer is redirected back here and on to
// the relying party. Chromium applies the upstream page's form-action to
// every redirect its form submission follows, and that page allows only
// itself and this server, so the last hop to the relying party must not
// be a redirect of that chain.
func TestBrowserUpstreamCrossOrigin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rp, callbacks := startRelyingParty(t)
	const secret = "rp-secret-0123456789-abcdefghijklmnopqr"
	const upSecret = "upstream-secret-0123456789-abcdefghijk"
	hereAddr := freeAddr(t)
	if err := os.Mkdir(filepath.Join(dir, "up"), 0o700); err != nil {
		t.Fatal(err)
	}
	up := startServerWithConfig(t, filepath.Join(dir, "up"), "clients:\n  - id: here\n    secret: "+upSecret+
		"\n    first_party: true\n    redirect_uris: [http://"+hereAddr+"/signin/upstream/up/callback]\n")
	const pass = "a long passphrase"
	up.createUser("lin@example.com", pass)
	cfg := filepath.Join(dir, "here.yaml")
	if err := os.WriteFile(cfg, []byte("upstreams:\n  - id: up\n    name: Upstream ID\n    issuer: "+up.url+
		"\n    client_id: here\n    client_secret: "+upSecret+"\n"+
		"clients:\n  - id: web\n    secret: "+secret+"\n    first_party: true\n    redirect_uris: ["+rp.URL+"/cb]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServerOn(t, filepath.Join(dir, "here"), hereAddr, "-config", cfg)

	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	provider, err := gooidc.NewProvider(ctx, s.url)
	if err != nil {
		t.Fatal(err)
	}
	web := oauth2.Config{ClientID: "web", ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: rp.URL + "/cb",
		Scopes: []string{gooidc.ScopeOpenID, "email"}}
	bctx := newTab(ctx, t)
	recordCSPViolations(bctx, t)
	step, _ := pageDriver(bctx, t, s)
	verifier := oauth2.GenerateVerifier()
	step("authorization request", chromedp.Navigate(web.AuthCodeURL("up", oauth2.S256ChallengeOption(verifier))),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/signin/upstream/up"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/signin/upstream/up"] button`)))
	step("upstream sign-in page", chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("email"), "lin@example.com"), chromedp.SendKeys(chromedp.ID("password"), pass),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)))
	idt := redeemCode(ctx, t, "upstream", provider, web, awaitCode(bctx, t, s, callbacks, "upstream", "/cb", "up"), verifier)
	var claims struct {
		AMR []string `json:"amr"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if idt.Subject == "" || !slices.Contains(claims.AMR, "fed") {
		t.Errorf("ID token after the upstream sign-in: %+v", claims)
	}
}
