package e2e

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// TestBrowserCheckoutLiveWait drives headless Chromium through checkout
// step-up against the real assentd: a relying party redirects with
// authorization_details, the shopper signs in and approves the sign-in and
// then the payment in the app (a deviceclient phone over the websocket).
// Nobody presses Continue: both waiting pages move on by themselves when
// the app answers (push.js on the server-sent events), and the relying
// party gets a code whose tokens carry the details.
func TestBrowserCheckoutLiveWait(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	rp, callbacks := startRelyingParty(t)
	const secret = "shop-secret-0123456789-abcdefghijklmnop"
	s := startServerWithConfig(t, dir, "clients:\n  - id: shop\n    secret: "+secret+"\n    first_party: true\n    redirect_uris: ["+rp.URL+"/cb]\n")
	s.createUser("ada@example.com", "a long passphrase")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	phone, conn := connectPhone(ctx, t, s, "ada@example.com")

	provider, err := gooidc.NewProvider(ctx, s.url)
	if err != nil {
		t.Fatal(err)
	}
	oc := oauth2.Config{ClientID: "shop", ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: rp.URL + "/cb",
		Scopes: []string{gooidc.ScopeOpenID}}
	verifier := oauth2.GenerateVerifier()
	details := `[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"89.90"},"creditorName":"Acme Shop"}]`
	authURL := oc.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("acr_values", "mfa"),
		oauth2.SetAuthURLParam("authorization_details", details))

	bctx := newTab(ctx, t)
	recordCSPViolations(bctx, t)
	step, text := pageDriver(bctx, t, s)
	// approve answers the app's next request, of kind, with the number the
	// waiting page shows.
	approve := func(kind string) {
		t.Helper()
		number, err := strconv.Atoi(strings.TrimSpace(text(".push-number strong")))
		if err != nil {
			t.Fatal(err)
		}
		approveInApp(ctx, t, conn, phone, kind, number)
	}

	step("sign-in page", chromedp.Navigate(authURL), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"), chromedp.SendKeys(chromedp.ID("password"), "a long passphrase"),
		chromedp.Click(chromedp.CSS(`form[action="/signin"] button[type=submit]`)))
	step("second factor", chromedp.WaitVisible(chromedp.CSS(`form[action="/signin/factor/push"] button`)),
		chromedp.Click(chromedp.CSS(`form[action="/signin/factor/push"] button`)))
	approve("signin")
	// The sign-in page moves on by itself to the payment page.
	step("payment page", chromedp.WaitVisible(chromedp.CSS(`form[action="/oidc/payment"] button[value="app"]`)))
	if got := text(".amount"); got != "EUR 89.90" {
		t.Fatalf("payment page shows %q", got)
	}
	step("approve in the app", chromedp.Click(chromedp.CSS(`form[action="/oidc/payment"] button[value="app"]`)),
		chromedp.WaitVisible(chromedp.CSS(`form[data-push-events="/oidc/payment/push/events"]`)))
	approve("payment")
	// So does the payment page, to the relying party.
	code := awaitCode(bctx, t, s, callbacks, "payment", "/cb", "st")
	idt := redeemCode(ctx, t, "payment", provider, oc, code, verifier)
	var claims struct {
		AMR     []string          `json:"amr"`
		Details []json.RawMessage `json:"authorization_details"`
	}
	if err := idt.Claims(&claims); err != nil || len(claims.Details) != 1 || !strings.Contains(string(claims.Details[0]), `"amount":"89.90"`) ||
		!strings.Contains(strings.Join(claims.AMR, " "), "mca") {
		t.Fatalf("ID token claims %+v (%v)", claims, err)
	}
}
