package authserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/pquerna/otp/totp"
	"golang.org/x/oauth2"

	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/store"
)

// highPaymentRisk is the default policy with every payment in the high
// band, where the engine steps up to phr.
func highPaymentRisk(t *testing.T) envOption {
	pol, err := risk.LoadPolicy(bytes.Replace(risk.DefaultPolicyYAML(), []byte("payment: {}"), []byte("payment: {weight: 65}"), 1))
	if err != nil {
		t.Fatal(err)
	}
	return func(c *Config) { c.RiskPolicy = pol }
}

// checkoutClient starts checkout requests for the first-party client web
// and redeems their codes with go-oidc.
type checkoutClient struct {
	t        *testing.T
	e        *env
	p        *rp
	verifier string
}

func newCheckoutClient(t *testing.T, e *env) *checkoutClient {
	return &checkoutClient{t: t, e: e, p: e.rp("web"), verifier: oauth2.GenerateVerifier()}
}

func (c *checkoutClient) url(state, amount string) string {
	return c.p.cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(c.verifier), oauth2.SetAuthURLParam("acr_values", "mfa"),
		oauth2.SetAuthURLParam("authorization_details", paymentDetails(amount, "EUR", "Acme Shop")))
}

// redeem exchanges the code at u and returns the ID token's claims.
func (c *checkoutClient) redeem(u *url.URL, state string) paymentClaims {
	c.t.Helper()
	code := callbackOf(c.t, u, state).Get("code")
	if code == "" {
		c.t.Fatalf("no code at %v", u)
	}
	_, idt, _ := c.p.exchange(code, c.verifier)
	var claims paymentClaims
	if err := idt.Claims(&claims); err != nil {
		c.t.Fatal(err)
	}
	return claims
}

// approveWithPasskey approves the payment request id for details on the
// step-up page with an assertion of k, follows the page back to the
// client and redeems the code at state.
func (c *checkoutClient) approveWithPasskey(what string, b *browser, k *softKey, id, details, state string) paymentClaims {
	c.t.Helper()
	r := b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {id}, "details": {details}, "decision": {"passkey"},
		"credential": {k.assert(c.t, b.paymentPasskeyOptions(id, details))}})
	if r.status != http.StatusSeeOther {
		c.t.Fatalf("%s: %d %s", what, r.status, truncate(r.body, 500))
	}
	u, _ := b.authorize(c.e.ts.URL + r.header.Get("Location"))
	return c.redeem(u, state)
}

// paymentPasskeyOptions asks for the payment page's passkey options as its
// script does.
func (b *browser) paymentPasskeyOptions(id, details string) string {
	b.t.Helper()
	body, _ := json.Marshal(map[string]string{"id": id, "details": details})
	req, _ := http.NewRequest("POST", b.e.ts.URL+"/oidc/payment/passkey-options", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", b.e.ts.URL)
	req.Header.Set("X-CSRF-Token", b.csrf())
	r := b.do(req)
	if r.status != http.StatusOK {
		b.t.Fatalf("payment passkey options: %d %s", r.status, r.body)
	}
	return r.body
}

// TestOIDCCheckoutStepUpPasskey: a payment the risk engine steps up to phr
// is met with a user-verified passkey whose challenge is linked to the
// details; the page offers nothing else and nothing else approves it; the
// tokens say which passkey (hwk gives phrh, a synced one phr).
func TestOIDCCheckoutStepUpPasskey(t *testing.T) {
	t.Parallel()
	e, b := newCheckoutEnv(t, withPasskeys, highPaymentRisk(t))
	key := b.enrollTOTP()
	bound := newSoftKey(virtualwebauthn.AuthenticatorOptions{})
	wantRedirect(t, "add passkey", b.addPasskey(bound, "Security key"), "/security?done=passkey_added")
	synced := newSoftKey(virtualwebauthn.AuthenticatorOptions{BackupEligible: true, BackupState: true})
	wantRedirect(t, "add synced passkey", b.addPasskey(synced, "Phone"), "/security?done=passkey_added")
	e.clock.Advance(3 * time.Hour)
	b.signOut()
	c := newCheckoutClient(t, e)
	totpNow := func() string {
		e.clock.Advance(30 * time.Second)
		code, _ := totp.GenerateCode(key, e.clock.Now())
		return code
	}

	// Signed in with password and TOTP: mfa, not phishing resistant.
	u, _ := b.authorize(c.url("s1", "89.90"))
	if u.Path != "/signin" {
		t.Fatalf("ended at %v, want the sign-in page", u)
	}
	r := b.signInMFA(u, key)
	u, r = b.authorize(e.ts.URL + r.header.Get("Location"))
	if r.status != http.StatusOK || u.Path != "/oidc/resume" {
		t.Fatalf("ended at %v (%d) %s, want the payment page", u, r.status, truncate(r.body, 500))
	}
	if ev := e.lastEvent("risk.assessed"); ev.Details["acr"] != "phr" || ev.Details["event"] != string(risk.KindPayment) {
		t.Fatalf("assessment = %+v, want a payment stepped up to phr", ev.Details)
	}
	id := u.Query().Get("id")
	want := checkoutDetails("89.90", "Acme Shop")
	mustContain(t, "step-up page", r.body, `data-passkey-options="/oidc/payment/passkey-options"`)
	for _, offered := range []string{`name="code"`, `value="app"`} {
		if strings.Contains(r.body, offered) {
			t.Errorf("the step-up page offers %s", offered)
		}
	}
	// A TOTP code does not approve a payment stepped up to phr, and the
	// request stays for the passkey.
	r = b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {id}, "details": {want}, "code": {totpNow()}, "decision": {"approve"}})
	if r.status != http.StatusForbidden {
		t.Fatalf("TOTP at a phr step-up: %d %s", r.status, truncate(r.body, 500))
	}
	// Nor does an assertion linked to other details.
	r = b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {id}, "details": {want}, "decision": {"passkey"},
		"credential": {bound.assert(t, b.paymentPasskeyOptions(id, checkoutDetails("1.00", "Acme Shop")))}})
	if r.status != http.StatusUnauthorized {
		t.Fatalf("assertion linked to other details: %d", r.status)
	}
	claims := c.approveWithPasskey("passkey approval", b, bound, id, want, "s1")
	if claims.ACR != "phrh" || !slices.Contains(claims.AMR, "hwk") || !slices.Contains(claims.AMR, "user") ||
		len(claims.Details) != 1 || string(claims.Details[0]) != strings.Trim(want, "[]") || claims.Exempt != "" {
		t.Errorf("ID token = %+v, want acr phrh, hwk user and the details", claims)
	}
	if ev := e.lastEvent("oidc.payment"); ev.Outcome != "ok" || ev.Details["amount"] != "89.90" {
		t.Errorf("oidc.payment = %+v", ev)
	}

	// A synced passkey is phishing resistant but not hardware bound: phr.
	u, r = b.authorize(c.url("s2", "45.00"))
	if r.status != http.StatusOK || u.Path != "/oidc/resume" {
		t.Fatalf("ended at %v (%d), want the payment page", u, r.status)
	}
	id, want = u.Query().Get("id"), checkoutDetails("45.00", "Acme Shop")
	if claims := c.approveWithPasskey("synced passkey approval", b, synced, id, want, "s2"); claims.ACR != "phr" || !slices.Contains(claims.AMR, "swk") || !slices.Contains(claims.AMR, "user") {
		t.Errorf("ID token = %+v, want acr phr and swk user", claims)
	}
}

// TestOIDCCheckoutStepUpAfterAppSignIn: a session approved in the app
// (mca) would hide a passkey's phishing resistance, so the stepped-up
// approval carries the passkey's own methods and reaches phrh.
func TestOIDCCheckoutStepUpAfterAppSignIn(t *testing.T) {
	t.Parallel()
	e, b := newCheckoutEnv(t, withPasskeys, highPaymentRisk(t))
	device := b.enrollApp(t.Context())
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{})
	wantRedirect(t, "add passkey", b.addPasskey(k, "Security key"), "/security?done=passkey_added")
	e.clock.Advance(3 * time.Hour)
	b.signOut()
	conn := connectApp(t, device)
	c := newCheckoutClient(t, e)

	u, _ := b.authorize(c.url("s", "89.90"))
	r := b.submit(u.RequestURI(), "/signin", url.Values{"email": {"ada@example.com"}, "password": {password},
		"return_to": {u.Query().Get("return_to")}, "acr": {"mfa"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin/factor" {
		t.Fatalf("password step: %d %q", r.status, r.header.Get("Location"))
	}
	b.get("/signin/factor")
	b.approvePush(conn, device)
	r = b.post("/signin/factor/push/finish", url.Values{"csrf": {b.csrf()}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("push sign-in: %d %s", r.status, truncate(r.body, 500))
	}
	u, r = b.authorize(e.ts.URL + r.header.Get("Location"))
	if r.status != http.StatusOK || u.Path != "/oidc/resume" {
		t.Fatalf("ended at %v (%d), want the payment page", u, r.status)
	}
	id, want := u.Query().Get("id"), checkoutDetails("89.90", "Acme Shop")
	if strings.Contains(r.body, `value="app"`) {
		t.Error("the step-up page offers the app")
	}
	r = b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {id}, "details": {want}, "decision": {"app"}})
	if r.status != http.StatusForbidden {
		t.Fatalf("app approval at a phr step-up: %d", r.status)
	}
	if claims := c.approveWithPasskey("passkey approval", b, k, id, want, "s"); claims.ACR != "phrh" || !slices.Equal(claims.AMR, []string{"hwk", "user"}) || len(claims.Details) != 1 {
		t.Errorf("ID token = %+v, want acr phrh, amr hwk user and the details", claims)
	}
}

// TestOIDCCheckoutStepUpWithoutPasskey: a user with no passkey cannot meet
// a step-up to phr, so the request ends at the client as before.
func TestOIDCCheckoutStepUpWithoutPasskey(t *testing.T) {
	t.Parallel()
	e, b := newCheckoutEnv(t, withPasskeys, highPaymentRisk(t))
	key := b.enrollTOTP()
	e.clock.Advance(3 * time.Hour)
	b.signOut()
	c := newCheckoutClient(t, e)
	u, _ := b.authorize(c.url("s", "89.90"))
	r := b.signInMFA(u, key)
	u, _ = b.authorize(e.ts.URL + r.header.Get("Location"))
	q := callbackOf(t, u, "s")
	if q.Get("error") != "access_denied" || q.Get("error_description") != "step_up_required" || q.Get("code") != "" {
		t.Errorf("callback %v, want access_denied step_up_required", q)
	}
}

// TestOIDCCheckoutAppLiveWait: the payment page waiting for the app gets
// the sign-in push page's live wait: its event stream and status poll
// report the approval the device sends over its websocket, and only to
// the browser session that asked.
func TestOIDCCheckoutAppLiveWait(t *testing.T) {
	t.Parallel()
	e, b := newCheckoutEnv(t, noTRA(t))
	key := b.enrollTOTP()
	device := b.enrollApp(t.Context())
	e.clock.Advance(3 * time.Hour)
	b.signOut()
	c := newCheckoutClient(t, e)
	conn := connectApp(t, device)

	u, _ := b.authorize(c.url("s", "120.00"))
	r := b.signInMFA(u, key)
	u, r = b.authorize(e.ts.URL + r.header.Get("Location"))
	if r.status != http.StatusOK || u.Path != "/oidc/resume" {
		t.Fatalf("ended at %v (%d), want the payment page", u, r.status)
	}
	// The page's forms end at the client: its origin, and only it, joins
	// form-action, or the browser would refuse the last redirect.
	if csp := r.header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://rp.example;") {
		t.Errorf("payment page CSP %q", csp)
	}
	id, want := u.Query().Get("id"), checkoutDetails("120.00", "Acme Shop")
	r = b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {id}, "details": {want}, "decision": {"app"}})
	nm, wm := pushNumberRE.FindStringSubmatch(r.body), pushWaitRE.FindStringSubmatch(r.body)
	if r.status != http.StatusOK || nm == nil || wm == nil {
		t.Fatalf("waiting page: %d %s", r.status, truncate(r.body, 800))
	}
	for _, s := range []string{`data-push-events="/oidc/payment/push/events"`, `data-push-status="/oidc/payment/push/status"`,
		`data-push-countdown="120"`, `href="/oidc/resume?id=` + id + `"`, `/static/push.js`, `name="decision" value="app_finish"`} {
		mustContain(t, "waiting page", r.body, s)
	}
	number, _ := strconv.Atoi(nm[1])
	pushID := wm[1]

	// Another browser, or another request's id, learns nothing.
	other := e.browser()
	if r := other.get("/oidc/payment/push/status?id=" + pushID); r.status != http.StatusUnauthorized {
		t.Errorf("status for another browser: %d", r.status)
	}
	if r := b.get("/oidc/payment/push/events?id=x" + pushID); r.status != http.StatusUnauthorized {
		t.Errorf("events for another id: %d", r.status)
	}
	pollState := func() string {
		t.Helper()
		r := b.get("/oidc/payment/push/status?id=" + pushID)
		var st struct{ State string }
		if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &st) != nil {
			t.Fatalf("status: %d %s", r.status, r.body)
		}
		return st.State
	}
	if s := pollState(); s != store.PushPending {
		t.Fatalf("polled state %q, want pending", s)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	states := make(chan string, 4)
	go func() {
		defer close(states)
		req, _ := http.NewRequestWithContext(ctx, "GET", e.ts.URL+"/oidc/payment/push/events?id="+pushID, nil)
		resp, err := b.c.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" {
			return
		}
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				states <- v
			}
		}
	}()
	if s := <-states; s != store.PushPending {
		t.Fatalf("first event %q, want pending", s)
	}

	msg := nextOfType(t, conn, push.MsgRequest)
	if msg.Request.ID != pushID || msg.Request.Kind != store.PushPayment || msg.Request.Amount != "120.00" {
		t.Fatalf("the app got %+v", msg.Request)
	}
	d, err := device.Sign(*msg.Request, deviceclient.Answer{Approve: true, Number: number})
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.Send(d); err != nil {
		t.Fatal(err)
	}
	if res := nextOfType(t, conn, push.MsgResult); !res.OK {
		t.Fatalf("decision refused: %+v", res)
	}
	select {
	case s, ok := <-states:
		if !ok || s != store.PushApproved {
			t.Fatalf("event after the approval %q (open %v), want approved", s, ok)
		}
	case <-ctx.Done():
		t.Fatal("the waiting page heard nothing")
	}
	if s := pollState(); s != store.PushApproved {
		t.Fatalf("polled state %q, want approved", s)
	}

	// What the page's script then submits finishes the payment.
	r = b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {id}, "details": {want}, "decision": {"app_finish"}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("finish: %d %s", r.status, truncate(r.body, 500))
	}
	u, _ = b.authorize(e.ts.URL + r.header.Get("Location"))
	if claims := c.redeem(u, "s"); !slices.Contains(claims.AMR, "mca") || len(claims.Details) != 1 {
		t.Errorf("ID token = %+v, want the app's approval and the details", claims)
	}
}

func TestCSPSource(t *testing.T) {
	t.Parallel()
	for uri, want := range map[string]string{
		"https://rp.example/cb?x=1":        "https://rp.example",
		"http://127.0.0.1:9000/callback":   "http://127.0.0.1:9000",
		"https://[::1]:8443/cb":            "https://[::1]:8443",
		"com.example.app:/oauth2redirect":  "com.example.app:",
		"https://rp.example;script-src/cb": "",
		"https://rp.example'/cb":           "",
		"not a uri":                        "",
		"":                                 "",
	} {
		if got := cspSource(uri); got != want {
			t.Errorf("cspSource(%q) = %q, want %q", uri, got, want)
		}
	}
}
