package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
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
	chrome := chromium(t)
	dir := t.TempDir()
	callbacks := make(chan string, 2)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		callbacks <- r.URL.RawQuery
		w.Write([]byte("back at the shop"))
	}))
	defer rp.Close()
	const secret = "shop-secret-0123456789-abcdefghijklmnop"
	cfg := filepath.Join(dir, "assent.yaml")
	if err := os.WriteFile(cfg, []byte("clients:\n  - id: shop\n    secret: "+secret+"\n    first_party: true\n    redirect_uris: ["+rp.URL+"/cb]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, filepath.Join(dir, "data"), "-config", cfg)
	if out, errOut, code := s.cli("a long passphrase\n", "user", "create", "--email", "ada@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %d %q %q", code, out, errOut)
	}
	out, errOut, code := s.cli("", "device", "enroll", "--user", "ada@example.com")
	m := codeRE.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("device enroll: %d %q %q", code, out, errOut)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	phone, err := deviceclient.Activate(ctx, nil, s.url, m[1], "Phone", "cli")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := phone.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

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

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	defer acancel()
	bctx, bcancel := chromedp.NewContext(actx)
	defer bcancel()
	if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.cspViolations = []; document.addEventListener("securitypolicyviolation", function (e) { window.cspViolations.push(e.violatedDirective + " " + e.blockedURI); });`,
	}); err != nil {
		t.Fatal(err)
	}
	step := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v\nserver log:\n%s", what, err, tail(s.log.String(), 4000))
		}
	}
	text := func(sel string) string {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			v, err := chromedp.Run(bctx, chromedp.Text(chromedp.CSS(sel)))
			if err == nil {
				return v
			}
			if time.Now().After(deadline) {
				t.Fatalf("text of %s: %v\nserver log:\n%s", sel, err, tail(s.log.String(), 4000))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// approve answers the app's next request, of kind, with the number the
	// waiting page shows.
	approve := func(kind string) {
		t.Helper()
		number, err := strconv.Atoi(strings.TrimSpace(text(".push-number strong")))
		if err != nil {
			t.Fatal(err)
		}
		for {
			msg, err := conn.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Type != push.MsgRequest {
				continue
			}
			if msg.Request.Kind != kind {
				t.Fatalf("the app got %+v, want a %s request", msg.Request, kind)
			}
			d, err := phone.Sign(*msg.Request, deviceclient.Answer{Approve: true, Number: number})
			if err != nil {
				t.Fatal(err)
			}
			if err := conn.Send(d); err != nil {
				t.Fatal(err)
			}
			break
		}
		for {
			msg, err := conn.Next(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if msg.Type == push.MsgResult {
				if !msg.OK {
					t.Fatalf("decision refused: %+v", msg)
				}
				return
			}
		}
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
	var query string
	select {
	case query = <-callbacks:
	case <-time.After(20 * time.Second):
		loc, _ := chromedp.Run(bctx, chromedp.Location())
		body, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		csp, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.cspViolations)`))
		t.Fatalf("the payment page did not move on: at %s: %q\nCSP violations: %s", loc, body, csp)
	}
	q, err := url.ParseQuery(query)
	if err != nil || q.Get("state") != "st" || q.Get("code") == "" {
		t.Fatalf("callback %q", query)
	}
	tok, err := oc.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&gooidc.Config{ClientID: "shop"}).Verify(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	var claims struct {
		AMR     []string          `json:"amr"`
		Details []json.RawMessage `json:"authorization_details"`
	}
	if err := idt.Claims(&claims); err != nil || len(claims.Details) != 1 || !strings.Contains(string(claims.Details[0]), `"amount":"89.90"`) ||
		!strings.Contains(strings.Join(claims.AMR, " "), "mca") {
		t.Fatalf("ID token claims %+v (%v)", claims, err)
	}
}
