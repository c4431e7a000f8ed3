package authserver

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
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
	"github.com/assent-auth/assent/store"
)

var paymentDetailsRE = regexp.MustCompile(`name="details" value="([^"]*)"`)

type paymentClaims struct {
	ACR     string            `json:"acr"`
	AMR     []string          `json:"amr"`
	Details []json.RawMessage `json:"authorization_details"`
	Exempt  string            `json:"psd2_exemption"`
}

// checkoutDetails is the canonical form of paymentDetails (the order of
// the parser's fields).
func checkoutDetails(amount, payee string) string {
	return `[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"` + amount +
		`"},"creditorName":"` + payee + `","creditorAccount":{"iban":"DE89370400440532013000"}}]`
}

// TestOIDCCheckoutPayment drives checkout step-up with a go-oidc relying
// party: a low-value payment passes on an mfa session under the PSD2
// exemption, a larger one stops at the payment page and needs a fresh TOTP
// code, the tokens and the token response carry the approved details, and
// malformed or altered details end at the client with
// invalid_authorization_details.
func TestOIDCCheckoutPayment(t *testing.T) {
	e, b := newCheckoutEnv(t, noTRA(t))
	key := b.enrollTOTP()
	device := b.enrollApp(t.Context())
	e.clock.Advance(3 * time.Hour) // the browser is a known device by now
	b.signOut()
	p := e.rp("web")
	verifier := oauth2.GenerateVerifier()
	pkce := oauth2.S256ChallengeOption(verifier)
	checkout := func(state, details string, extra ...oauth2.AuthCodeOption) string {
		return p.cfg.AuthCodeURL(state, append([]oauth2.AuthCodeOption{pkce, oauth2.SetAuthURLParam("acr_values", "mfa"),
			oauth2.SetAuthURLParam("authorization_details", details)}, extra...)...)
	}
	redeem := func(t *testing.T, u *url.URL, state string) (*oauth2.Token, paymentClaims, paymentClaims) {
		t.Helper()
		code := callbackOf(t, u, state).Get("code")
		if code == "" {
			t.Fatalf("no code at %v", u)
		}
		tok, idt, _ := p.exchange(code, verifier)
		var id paymentClaims
		if err := idt.Claims(&id); err != nil {
			t.Fatal(err)
		}
		var at paymentClaims
		b, _ := json.Marshal(jwtClaims(tok.AccessToken))
		json.Unmarshal(b, &at)
		return tok, id, at
	}
	totpNow := func() string {
		e.clock.Advance(30 * time.Second) // a new time step: codes are single-use
		c, _ := totp.GenerateCode(key, e.clock.Now())
		return c
	}

	var pageID string
	t.Run("LargerNeedsFreshSecondFactor", func(t *testing.T) {
		want := checkoutDetails("89.90", "Acme Shop")
		u, _ := b.authorize(checkout("s2", paymentDetails("89.90", "EUR", "Acme Shop")))
		if u.Path != "/signin" || u.Query().Get("acr") != "mfa" {
			t.Fatalf("ended at %v, want the sign-in page asking for mfa", u)
		}
		r := b.signInMFA(u, key)
		// Signed in at mfa a moment ago, the payment still needs its own
		// second factor: no exemption covers it.
		u, r = b.authorize(e.ts.URL + r.header.Get("Location"))
		if r.status != http.StatusOK || u.Path != "/oidc/resume" {
			t.Fatalf("ended at %v (%d), want the payment page", u, r.status)
		}
		pageID = u.Query().Get("id")
		mustContain(t, "payment page", r.body, "EUR 89.90")
		mustContain(t, "payment page", r.body, "Acme Shop (DE89370400440532013000)")
		mustContain(t, "payment page", r.body, `<strong class="client">Example Web Shop</strong>`)
		m := paymentDetailsRE.FindStringSubmatch(r.body)
		if m == nil || html.UnescapeString(m[1]) != want {
			t.Fatalf("details on the page: %v", m)
		}
		// A wrong code is refused and the page stays.
		r = b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {pageID}, "details": {want}, "code": {"000000"}, "decision": {"approve"}})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("wrong code: %d", r.status)
		}
		// The session alone is not enough: prompt=none cannot pay.
		u, _ = b.authorize(checkout("s2n", paymentDetails("89.90", "EUR", "Acme Shop"), oauth2.SetAuthURLParam("prompt", "none")))
		if got := callbackOf(t, u, "s2n").Get("error"); got != "interaction_required" {
			t.Errorf("prompt=none: error %q", got)
		}
		r = b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {pageID}, "details": {want}, "code": {totpNow()}, "decision": {"approve"}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("approve: %d %s", r.status, truncate(r.body, 500))
		}
		u, _ = b.authorize(e.ts.URL + r.header.Get("Location"))
		tok, id, at := redeem(t, u, "s2")
		if len(id.Details) != 1 || string(id.Details[0]) != strings.Trim(want, "[]") || id.Exempt != "" ||
			!slices.Contains(id.AMR, "otp") || slices.Contains(id.AMR, "rba") || id.ACR != "mfa" {
			t.Errorf("ID token = %+v, want the details, no exemption, otp in amr", id)
		}
		if len(at.Details) != 1 || at.Exempt != "" {
			t.Errorf("access token = %+v", at)
		}
		status, in := p.postForm(e, "/oauth/introspect", url.Values{"token": {tok.AccessToken}})
		if status != http.StatusOK || in["active"] != true || !sameJSON(in["authorization_details"], want) {
			t.Errorf("introspection: %d %v", status, in)
		}
		if !sameJSON(tok.Extra("authorization_details"), want) {
			t.Errorf("token response authorization_details = %v, want %s", tok.Extra("authorization_details"), want)
		}
	})

	t.Run("LowValueExempt", func(t *testing.T) {
		want := checkoutDetails("20.00", "Acme Shop")
		// After a strongly authenticated payment to this payee, a small one
		// passes on the mfa session under the low-value exemption.
		u, _ := b.authorize(checkout("s1", paymentDetails("20.00", "EUR", "Acme Shop")))
		tok, id, at := redeem(t, u, "s1")
		if len(id.Details) != 1 || string(id.Details[0]) != strings.Trim(want, "[]") || id.Exempt != "low_value" ||
			!slices.Contains(id.AMR, "rba") || id.ACR != "mfa" {
			t.Errorf("ID token = %+v, want the details, exemption low_value, rba in amr, acr mfa", id)
		}
		if len(at.Details) != 1 || at.Exempt != "low_value" {
			t.Errorf("access token = %+v", at)
		}
		if !sameJSON(tok.Extra("authorization_details"), want) {
			t.Errorf("token response authorization_details = %v, want %s", tok.Extra("authorization_details"), want)
		}
		if ev := e.lastEvent("oidc.payment"); ev.Outcome != "ok" || ev.Details["exemption"] != "low_value" || ev.Details["amount"] != "20.00" {
			t.Errorf("oidc.payment = %+v", ev)
		}
	})

	t.Run("ApprovalOnceOnly", func(t *testing.T) {
		r := b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {pageID}, "details": {checkoutDetails("89.90", "Acme Shop")},
			"code": {totpNow()}, "decision": {"approve"}})
		if r.status != http.StatusBadRequest {
			t.Errorf("second approval of a finished request: %d", r.status)
		}
	})

	t.Run("DetailsChangedBeforeApproval", func(t *testing.T) {
		u, r := b.authorize(checkout("s3", paymentDetails("250.00", "EUR", "Acme Shop")))
		if r.status != http.StatusOK {
			t.Fatalf("ended at %v (%d), want the payment page", u, r.status)
		}
		r = b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {u.Query().Get("id")}, "details": {checkoutDetails("2.50", "Acme Shop")},
			"code": {totpNow()}, "decision": {"approve"}})
		loc, _ := url.Parse(r.header.Get("Location"))
		if r.status != http.StatusSeeOther || callbackOf(t, loc, "s3").Get("error") != "invalid_authorization_details" {
			t.Errorf("altered details: %d %v", r.status, loc)
		}
		if ev := e.lastEvent("oidc.payment"); ev.Outcome != "denied" {
			t.Errorf("oidc.payment = %+v", ev)
		}
	})

	t.Run("Cancel", func(t *testing.T) {
		u, r := b.authorize(checkout("s4", paymentDetails("250.00", "EUR", "Acme Shop")))
		if r.status != http.StatusOK {
			t.Fatalf("ended at %v (%d), want the payment page", u, r.status)
		}
		r = b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {u.Query().Get("id")}, "decision": {"cancel"}})
		loc, _ := url.Parse(r.header.Get("Location"))
		if callbackOf(t, loc, "s4").Get("error") != "access_denied" {
			t.Errorf("cancel: %d %v", r.status, loc)
		}
	})

	t.Run("MalformedDetails", func(t *testing.T) {
		for name, details := range map[string]string{
			"float amount":  `[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":89.9},"creditorName":"A"}]`,
			"negative":      paymentDetails("-1.00", "EUR", "A"),
			"zero":          paymentDetails("0.00", "EUR", "A"),
			"currency":      paymentDetails("10.00", "XXX", "A"),
			"unknown field": `[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"1.00"},"creditorName":"A","x":{"y":1}}]`,
			"not an array":  `{"type":"payment_initiation"}`,
			"oversize":      paymentDetails("1.00", "EUR", strings.Repeat("A", 5000)),
			"empty":         "",
		} {
			u, _ := b.authorize(checkout("bad", details))
			q := callbackOf(t, u, "bad")
			if q.Get("error") != "invalid_authorization_details" || q.Get("error_description") == "" || q.Get("code") != "" {
				t.Errorf("%s: callback %v", name, q)
			}
		}
	})

	t.Run("ApproveInApp", func(t *testing.T) {
		want := checkoutDetails("120.00", "Acme Shop")
		conn := connectApp(t, device)
		u, r := b.authorize(checkout("s6", paymentDetails("120.00", "EUR", "Acme Shop")))
		if r.status != http.StatusOK {
			t.Fatalf("ended at %v (%d), want the payment page", u, r.status)
		}
		id := u.Query().Get("id")
		r = b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {id}, "details": {want}, "decision": {"app"}})
		m := pushNumberRE.FindStringSubmatch(r.body)
		if r.status != http.StatusOK || m == nil {
			t.Fatalf("app request: %d %s", r.status, truncate(r.body, 500))
		}
		number, _ := strconv.Atoi(m[1])
		msg := nextOfType(t, conn, push.MsgRequest)
		if v := msg.Request; v.Kind != store.PushPayment || v.Amount != "120.00" || v.Currency != "EUR" ||
			v.Payee != "Acme Shop (DE89370400440532013000)" || v.RPName != "web" {
			t.Fatalf("the app shows %+v", v)
		}
		finish := url.Values{"csrf": {b.csrf()}, "id": {id}, "details": {want}, "decision": {"app_finish"}}
		if r := b.post("/oidc/payment", finish); r.status != http.StatusAccepted {
			t.Fatalf("finish before the app answered: %d", r.status)
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
		// Details swapped between the app's approval and the finish fail.
		swapped := url.Values{"csrf": {b.csrf()}, "id": {id}, "details": {checkoutDetails("1.20", "Acme Shop")}, "decision": {"app_finish"}}
		if r := b.post("/oidc/payment", swapped); r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Location"), "invalid_authorization_details") {
			t.Fatalf("swapped details: %d %q", r.status, r.header.Get("Location"))
		}
		// That ended the request; a new one goes through.
		u, r = b.authorize(checkout("s7", paymentDetails("120.00", "EUR", "Acme Shop")))
		id = u.Query().Get("id")
		r = b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {id}, "details": {want}, "decision": {"app"}})
		m = pushNumberRE.FindStringSubmatch(r.body)
		if m == nil {
			t.Fatalf("app request: %d %s", r.status, truncate(r.body, 500))
		}
		number, _ = strconv.Atoi(m[1])
		msg = nextOfType(t, conn, push.MsgRequest)
		if d, err = device.Sign(*msg.Request, deviceclient.Answer{Approve: true, Number: number}); err != nil {
			t.Fatal(err)
		}
		conn.Send(d)
		nextOfType(t, conn, push.MsgResult)
		finish.Set("id", id)
		r = b.post("/oidc/payment", finish)
		if r.status != http.StatusSeeOther {
			t.Fatalf("finish: %d %s", r.status, truncate(r.body, 500))
		}
		u, _ = b.authorize(e.ts.URL + r.header.Get("Location"))
		tok, idc, _ := redeem(t, u, "s7")
		if len(idc.Details) != 1 || string(idc.Details[0]) != strings.Trim(want, "[]") || idc.Exempt != "" ||
			!slices.Contains(idc.AMR, "swk") || !slices.Contains(idc.AMR, "mca") {
			t.Errorf("ID token = %+v, want the details and the app's swk mca", idc)
		}
		if !sameJSON(tok.Extra("authorization_details"), want) {
			t.Errorf("token response authorization_details = %v", tok.Extra("authorization_details"))
		}
	})

	t.Run("NoDetailsNoClaims", func(t *testing.T) {
		u, _ := b.authorize(p.cfg.AuthCodeURL("s5", pkce))
		tok, id, _ := redeem(t, u, "s5")
		if id.Details != nil || id.Exempt != "" || tok.Extra("authorization_details") != nil {
			t.Errorf("a plain request carries payment claims: %+v", id)
		}
	})
}

// sameJSON reports whether a decoded JSON value equals the JSON text want.
func sameJSON(got any, want string) bool {
	var w any
	if json.Unmarshal([]byte(want), &w) != nil {
		return false
	}
	return reflect.DeepEqual(got, w)
}

// signInMFA signs in with the password and a TOTP code from key on the
// sign-in page an authorization request sent the browser to; it returns
// the answer to the TOTP step, which points back to the request.
func (b *browser) signInMFA(signin *url.URL, key string) response {
	b.t.Helper()
	form := url.Values{"email": {"ada@example.com"}, "password": {password}, "return_to": {signin.Query().Get("return_to")},
		"acr": {signin.Query().Get("acr")}}
	r := b.submit(signin.RequestURI(), "/signin", form)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin/factor" {
		b.t.Fatalf("password step: %d %q", r.status, r.header.Get("Location"))
	}
	b.get("/signin/factor")
	b.e.clock.Advance(30 * time.Second)
	code, _ := totp.GenerateCode(key, b.e.clock.Now())
	r = b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}})
	if r.status != http.StatusSeeOther {
		b.t.Fatalf("TOTP step: %d %s", r.status, truncate(r.body, 500))
	}
	return r
}

// TestOIDCCheckoutPasskey approves a checkout payment with a passkey whose
// challenge is linked to the payment details: an assertion over a
// challenge for other details is refused.
func TestOIDCCheckoutPasskey(t *testing.T) {
	e, b := newCheckoutEnv(t, withPasskeys, noTRA(t))
	k := newSoftKey(virtualwebauthn.AuthenticatorOptions{})
	wantRedirect(t, "add passkey", b.addPasskey(k, "Laptop"), "/security?done=passkey_added")
	e.clock.Advance(3 * time.Hour)
	p := e.rp("web")
	verifier := oauth2.GenerateVerifier()
	want := checkoutDetails("89.90", "Acme Shop")
	u, r := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("acr_values", "mfa"),
		oauth2.SetAuthURLParam("authorization_details", paymentDetails("89.90", "EUR", "Acme Shop"))))
	if u.Path != "/signin" {
		t.Fatalf("ended at %v, want the sign-in page", u)
	}
	// Signing in with the passkey is not approving the payment: no
	// exemption covers it, so it needs its own linked assertion.
	b.get(u.RequestURI())
	r = b.post("/signin/passkey", url.Values{"csrf": {b.csrf()}, "credential": {k.assert(t, b.passkeyOptions("signin").body)},
		"return_to": {u.Query().Get("return_to")}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("passkey sign-in: %d %s", r.status, truncate(r.body, 500))
	}
	u, r = b.authorize(e.ts.URL + r.header.Get("Location"))
	if r.status != http.StatusOK || u.Path != "/oidc/resume" {
		t.Fatalf("ended at %v (%d), want the payment page", u, r.status)
	}
	mustContain(t, "payment page", r.body, `data-passkey-options="/oidc/payment/passkey-options"`)
	id := u.Query().Get("id")
	options := func(details string) response {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"id": id, "details": details})
		req, _ := http.NewRequest("POST", e.ts.URL+"/oidc/payment/passkey-options", strings.NewReader(string(body)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Origin", e.ts.URL)
		req.Header.Set("X-CSRF-Token", b.csrf())
		r := b.do(req)
		if r.status != http.StatusOK {
			t.Fatalf("passkey options: %d %s", r.status, r.body)
		}
		return r
	}
	approve := func(details, credential string) response {
		return b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {id}, "details": {details}, "decision": {"passkey"},
			"credential": {credential}})
	}

	// An assertion over a challenge linked to EUR 1.00 does not approve
	// EUR 89.90, and one for 89.90 cannot be posted as 1.00.
	cheap := checkoutDetails("1.00", "Acme Shop")
	if r := approve(want, k.assert(t, options(cheap).body)); r.status != http.StatusUnauthorized {
		t.Fatalf("assertion linked to other details: %d", r.status)
	}
	if ev := e.lastEvent("signin.failed"); ev.Details["reason"] != "payment_not_linked" {
		t.Errorf("refusal = %+v, want payment_not_linked", ev.Details)
	}
	if r := approve(cheap, k.assert(t, options(want).body)); r.status != http.StatusUnauthorized {
		t.Fatalf("details changed after the assertion: %d", r.status)
	}
	if ev := e.lastEvent("signin.failed"); ev.Details["reason"] != "payment_not_linked" {
		t.Errorf("refusal = %+v, want payment_not_linked", ev.Details)
	}
	r = approve(want, k.assert(t, options(want).body))
	if r.status != http.StatusSeeOther {
		t.Fatalf("approve: %d %s", r.status, truncate(r.body, 500))
	}
	u, _ = b.authorize(e.ts.URL + r.header.Get("Location"))
	code := callbackOf(t, u, "s").Get("code")
	tok, idt, _ := p.exchange(code, verifier)
	var c paymentClaims
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	if len(c.Details) != 1 || string(c.Details[0]) != strings.Trim(want, "[]") || !slices.Contains(c.AMR, "hwk") ||
		!slices.Contains(c.AMR, "user") || c.Exempt != "" {
		t.Errorf("ID token = %+v, want the details and a user-verified passkey", c)
	}
	if !sameJSON(tok.Extra("authorization_details"), want) {
		t.Errorf("token response authorization_details = %v", tok.Extra("authorization_details"))
	}
}
