package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
)

// newTab starts headless Chromium with a profile of its own and returns
// the context of its first tab. The browser ends with ctx or with the
// test, whichever comes first.
func newTab(ctx context.Context, t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	bctx, bcancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		bcancel()
		acancel()
	})
	return bctx
}

// recordCSPViolations makes every document the tab loads collect its
// Content-Security-Policy violations in window.cspViolations, which
// pageState reports.
func recordCSPViolations(bctx context.Context, t *testing.T) {
	t.Helper()
	if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.cspViolations = []; document.addEventListener("securitypolicyviolation", function (e) { window.cspViolations.push(e.violatedDirective + " " + e.blockedURI); });`,
	}); err != nil {
		t.Fatal(err)
	}
}

// pageState says where the tab is, what its page says and which CSP
// violations it recorded, for the message of a test that waited in vain.
func pageState(bctx context.Context) string {
	loc, _ := chromedp.Run(bctx, chromedp.Location())
	body, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	csp, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`JSON.stringify(window.cspViolations)`))
	return fmt.Sprintf("at %s: %q\nCSP violations: %s", loc, body, csp)
}

// pageDriver returns step, which runs actions in the tab and fails the
// test with the server's log when one fails, and text, which reads an
// element's text, waiting for it to be there; a query that races a page
// load is tried again.
func pageDriver(bctx context.Context, t *testing.T, s *server) (step func(what string, steps ...chromedp.Action[chromedp.Void]), text func(sel string) string) {
	step = func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v\nserver log:\n%s", what, err, tail(s.log.String(), 4000))
		}
	}
	text = func(sel string) string {
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
	return step, text
}

// callback is a request that reached a relying party.
type callback struct{ path, query string }

// startRelyingParty serves relying-party redirect URIs on a loopback port
// of their own, another origin than the server's, and hands every
// request but the favicon's to the test.
func startRelyingParty(t *testing.T) (*httptest.Server, <-chan callback) {
	t.Helper()
	callbacks := make(chan callback, 4)
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/favicon.ico" {
			http.NotFound(w, r)
			return
		}
		callbacks <- callback{r.URL.Path, r.URL.RawQuery}
		w.Write([]byte("back at the relying party"))
	}))
	t.Cleanup(rp.Close)
	return rp, callbacks
}

// awaitCode waits for the relying party's callback at path, which the
// tab's last form submission must reach, and returns its code after
// checking the state.
func awaitCode(bctx context.Context, t *testing.T, s *server, callbacks <-chan callback, what, path, state string) string {
	t.Helper()
	var cb callback
	select {
	case cb = <-callbacks:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: the relying party got no callback: %s\nserver log:\n%s", what, pageState(bctx), tail(s.log.String(), 4000))
	}
	q, err := url.ParseQuery(cb.query)
	if err != nil || cb.path != path || q.Get("state") != state || q.Get("code") == "" {
		t.Fatalf("%s: callback %s?%s, want %s with a code and state %s", what, cb.path, cb.query, path, state)
	}
	return q.Get("code")
}

// redeemCode exchanges code with its PKCE verifier, as the relying party
// of oc, and returns the verified ID token.
func redeemCode(ctx context.Context, t *testing.T, what string, provider *gooidc.Provider, oc oauth2.Config, code, verifier string) *gooidc.IDToken {
	t.Helper()
	tok, err := oc.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("%s: redeem the code: %v", what, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&gooidc.Config{ClientID: oc.ClientID}).Verify(ctx, raw)
	if err != nil {
		t.Fatalf("%s: ID token: %v", what, err)
	}
	return idt
}

// connectPhone enrolls an app device for email with the CLI, activates
// it and connects it to the server's websocket until the test ends.
func connectPhone(ctx context.Context, t *testing.T, s *server, email string) (*deviceclient.Identity, *deviceclient.Conn) {
	t.Helper()
	out, errOut, code := s.cli("", "device", "enroll", "--user", email)
	m := codeRE.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("device enroll: %d %q %q", code, out, errOut)
	}
	phone, err := deviceclient.Activate(ctx, nil, s.url, m[1], "Phone", "cli")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := phone.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return phone, conn
}

// approveInApp answers the phone's next request, which must be of kind,
// with number and waits for the server to accept the decision.
func approveInApp(ctx context.Context, t *testing.T, conn *deviceclient.Conn, phone *deviceclient.Identity, kind string, number int) {
	t.Helper()
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
