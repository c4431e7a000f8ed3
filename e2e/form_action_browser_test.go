package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestBrowserCodeFlowCrossOrigin drives headless Chromium through the
// authorization code flow of relying parties on another origin (another
// loopback port) against the real assentd. Chromium applies the page's
// form-action to every redirect a form submission follows, so each page
// whose form finishes the request must allow the relying party's origin:
// the sign-in page (a password alone), the second-factor page (TOTP), the
// app's waiting page (which submits itself when the app approves) and a
// third-party client's consent page. Each time the relying party receives
// its code and redeems it for a verified ID token.
func TestBrowserCodeFlowCrossOrigin(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rp, callbacks := startRelyingParty(t)
	const secret = "rp-secret-0123456789-abcdefghijklmnopqr"
	clients := "clients:\n" +
		"  - id: web\n    secret: " + secret + "\n    first_party: true\n    redirect_uris: [" + rp.URL + "/cb]\n" +
		"  - id: partner\n    secret: " + secret + "\n    redirect_uris: [" + rp.URL + "/partner]\n"
	s := startServerWithConfig(t, dir, clients)
	if strings.HasPrefix(rp.URL, s.url) || !strings.HasPrefix(rp.URL, "http://127.0.0.1:") {
		t.Fatalf("relying party %s must be another origin than %s", rp.URL, s.url)
	}
	const pass = "a long passphrase"
	s.createUser("ada@example.com", pass)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	provider, err := gooidc.NewProvider(ctx, s.url)
	if err != nil {
		t.Fatal(err)
	}
	oauthConfig := func(client, path string) oauth2.Config {
		return oauth2.Config{ClientID: client, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: rp.URL + path,
			Scopes: []string{gooidc.ScopeOpenID, "email"}}
	}
	web, partner := oauthConfig("web", "/cb"), oauthConfig("partner", "/partner")

	bctx := newTab(ctx, t)
	recordCSPViolations(bctx, t)
	step, text := pageDriver(bctx, t, s)
	// signIn fills in the sign-in page the authorization request led to.
	signIn := func() {
		t.Helper()
		step("sign-in page", chromedp.WaitVisible(chromedp.ID("password")),
			chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"), chromedp.SendKeys(chromedp.ID("password"), pass),
			chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)))
	}
	// redeem waits for the relying party's callback at path, which the
	// page's last form submission must reach, and redeems its code.
	redeem := func(what string, oc oauth2.Config, path, state, verifier string) []string {
		t.Helper()
		idt := redeemCode(ctx, t, what, provider, oc, awaitCode(bctx, t, s, callbacks, what, path, state), verifier)
		var claims struct {
			AMR []string `json:"amr"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		return claims.AMR
	}
	start := func(oc oauth2.Config, state string, extra ...oauth2.AuthCodeOption) string {
		t.Helper()
		verifier := oauth2.GenerateVerifier()
		step("authorization request "+state, chromedp.Navigate(oc.AuthCodeURL(state, append(extra, oauth2.S256ChallengeOption(verifier))...)))
		return verifier
	}
	stepUp := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("acr_values", "mfa"), oauth2.SetAuthURLParam("max_age", "0")}

	// 1. A password alone: the user has no second factor yet.
	v := start(web, "pwd")
	signIn()
	if amr := redeem("password", web, "/cb", "pwd", v); !slices.Equal(amr, []string{"pwd"}) {
		t.Errorf("password sign-in: amr %v", amr)
	}

	// 2. An authenticator app, added on the security page; then the
	// second-factor page finishes the request.
	step("security page", chromedp.Navigate(s.url+"/security"), chromedp.WaitVisible(chromedp.CSS(`form[action="/security/totp"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/security/totp"] button`)))
	key := strings.ReplaceAll(text(".totp-key"), " ", "")
	step("confirm TOTP", chromedp.SendKeys(chromedp.ID("code"), totpCode(t, key, time.Now())),
		chromedp.Click(chromedp.CSS(`form[action="/security/totp/confirm"] button`)), chromedp.WaitVisible(chromedp.CSS(".totp-status")))
	v = start(web, "totp", stepUp...)
	signIn()
	// The code of the next time step: the one that confirmed the app is spent.
	step("TOTP", chromedp.WaitVisible(chromedp.CSS(`form[action="/signin/factor/totp"] #code`)),
		chromedp.SendKeys(chromedp.CSS(`form[action="/signin/factor/totp"] #code`), totpCode(t, key, time.Now().Add(30*time.Second))),
		chromedp.Click(chromedp.CSS(`form[action="/signin/factor/totp"] button`)))
	if amr := redeem("TOTP", web, "/cb", "totp", v); !slices.Contains(amr, "otp") || !slices.Contains(amr, "mfa") {
		t.Errorf("TOTP sign-in: amr %v", amr)
	}

	// 3. The app: its waiting page submits itself when the phone approves.
	phone, conn := connectPhone(ctx, t, s, "ada@example.com")
	v = start(web, "app", stepUp...)
	signIn()
	step("choose the app", chromedp.WaitVisible(chromedp.CSS(`form[action="/signin/factor/push"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/signin/factor/push"] button`)))
	number, err := strconv.Atoi(strings.TrimSpace(text(".push-number strong")))
	if err != nil {
		t.Fatal(err)
	}
	approveInApp(ctx, t, conn, phone, "signin", number)
	if amr := redeem("app", web, "/cb", "app", v); !slices.Contains(amr, "mca") {
		t.Errorf("app sign-in: amr %v", amr)
	}

	// 4. A third-party client: the consent page finishes the request.
	v = start(partner, "consent")
	step("consent page", chromedp.WaitVisible(chromedp.CSS(`form[action="/oidc/consent"] button[value="allow"]`)),
		chromedp.Click(chromedp.CSS(`form[action="/oidc/consent"] button[value="allow"]`)))
	redeem("consent", partner, "/partner", "consent", v)
}

// TestBrowserUpstreamStart: the sign-in page's "Continue with" button
// posts to this server, which redirects to the upstream provider's
// authorization endpoint on another origin; Chromium follows that
// redirect only because the sign-in page's form-action allows it.
func TestBrowserUpstreamStart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	reached := make(chan url.Values, 1)
	var upstream *httptest.Server
	upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			w.Header().Set("Content-Type", "application/json")
			fmt.Fprintf(w, `{"issuer":%q,"authorization_endpoint":%q,"token_endpoint":%q,"jwks_uri":%q,"id_token_signing_alg_values_supported":["ES256"]}`,
				upstream.URL, upstream.URL+"/authorize", upstream.URL+"/token", upstream.URL+"/jwks")
		case "/authorize":
			select {
			case reached <- r.URL.Query():
			default:
			}
			w.Write([]byte("the upstream provider"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer upstream.Close()
	s := startServerWithConfig(t, dir, "upstreams:\n  - id: acme\n    name: Acme ID\n    issuer: "+upstream.URL+
		"\n    client_id: assent\n    client_secret: upstream-secret\n")

	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	bctx := newTab(ctx, t)
	recordCSPViolations(bctx, t)
	step, _ := pageDriver(bctx, t, s)
	step("sign-in page", chromedp.Navigate(s.url+"/signin"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/signin/upstream/acme"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/signin/upstream/acme"] button`)))
	select {
	case q := <-reached:
		if q.Get("client_id") != "assent" || q.Get("state") == "" || q.Get("code_challenge") == "" {
			t.Errorf("upstream authorization request %v", q)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("the browser never reached the upstream provider: %s\nserver log:\n%s", pageState(bctx), tail(s.log.String(), 4000))
	}
}
