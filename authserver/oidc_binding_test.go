package authserver

import (
	"net/http"
	"net/url"
	"regexp"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/assent-auth/assent/oidcprovider"
)

var errorAlertRE = regexp.MustCompile(`<p class="error" role="alert">[^<]*</p>`)

// sameAsUnknown fails unless r is the page an unknown request id gets.
func sameAsUnknown(t *testing.T, what string, r, unknown response) {
	t.Helper()
	if r.status != unknown.status || errorAlertRE.FindString(r.body) == "" ||
		errorAlertRE.FindString(r.body) != errorAlertRE.FindString(unknown.body) {
		t.Errorf("%s: %d %q, want the unknown request's page %d %q", what, r.status,
			errorAlertRE.FindString(r.body), unknown.status, errorAlertRE.FindString(unknown.body))
	}
}

// TestConsentBoundToBrowser: another signed-in user who knows the id of
// ada's authorization request can neither see nor decline its consent
// page, and is answered as for an unknown id; ada still can.
func TestConsentBoundToBrowser(t *testing.T) {
	e := newClientsEnv(t, newECKey(t, "k1"))
	b := e.browser()
	b.signUp("ada@example.com", password)
	mallory := e.browser()
	mallory.signUp("mallory@example.com", password)
	p := e.rp("thirdparty")
	verifier := oauth2.GenerateVerifier()

	u, r := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	if r.status != http.StatusOK || u.Path != "/oidc/resume" {
		t.Fatalf("ended at %v (%d), want the consent page", u, r.status)
	}
	id := u.Query().Get("id")
	unknown := mallory.submit("/security", "/oidc/consent", url.Values{"id": {"no-such-request"}, "decision": {"deny"}})
	if unknown.status != http.StatusBadRequest {
		t.Fatalf("unknown id: %d", unknown.status)
	}

	for _, decision := range []string{"deny", "allow"} {
		r = mallory.submit("/security", "/oidc/consent", url.Values{"id": {id}, "decision": {decision}})
		sameAsUnknown(t, "another user's "+decision, r, unknown)
	}
	sameAsUnknown(t, "another user's resume", mallory.get("/oidc/resume?id="+url.QueryEscape(id)),
		mallory.get("/oidc/resume?id=no-such-request"))
	// The same user in a browser that did not start the request is no
	// different.
	other := e.browser()
	other.signIn("ada@example.com", password)
	sameAsUnknown(t, "another browser's deny", other.submit("/security", "/oidc/consent", url.Values{"id": {id}, "decision": {"deny"}}), unknown)

	// The request is untouched: ada's browser still gets its page, and
	// her answer counts.
	if u, r := b.authorize(e.ts.URL + "/oidc/resume?id=" + url.QueryEscape(id)); r.status != http.StatusOK || u.Path != "/oidc/resume" {
		t.Fatalf("after the others' answers ada's request ended at %v (%d)", u, r.status)
	}
	r = b.submit("/oidc/resume?id="+url.QueryEscape(id), "/oidc/consent", url.Values{"id": {id}, "decision": {"deny"}})
	loc, _ := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusSeeOther || callbackOf(t, loc, "s").Get("error") != "access_denied" {
		t.Fatalf("ada's deny: %d %v", r.status, loc)
	}
}

// TestPaymentPageBoundToBrowser: another signed-in user who knows the id
// of ada's checkout cannot cancel it (nor ask for its passkey challenge),
// and is answered as for an unknown id; ada can.
func TestPaymentPageBoundToBrowser(t *testing.T) {
	e := newEnv(t, noTRA(t), withClients(
		oidcprovider.ClientConfig{ID: "web", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true}))
	b := e.browser()
	b.signUp("ada@example.com", password)
	key := b.enrollTOTP()
	e.clock.Advance(3 * time.Hour)
	b.signOut()
	mallory := e.browser()
	mallory.signUp("mallory@example.com", password)
	p := e.rp("web")
	authURL := p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
		oauth2.SetAuthURLParam("acr_values", "mfa"),
		oauth2.SetAuthURLParam("authorization_details", paymentDetails("250.00", "EUR", "Acme Shop")))

	u, _ := b.authorize(authURL)
	r := b.signInMFA(u, key)
	u, r = b.authorize(e.ts.URL + r.header.Get("Location"))
	if r.status != http.StatusOK || u.Path != "/oidc/resume" {
		t.Fatalf("ended at %v (%d), want the payment page", u, r.status)
	}
	mustContain(t, "payment page", r.body, "EUR 250.00")
	id := u.Query().Get("id")

	mallory.get("/security")
	unknown := mallory.post("/oidc/payment", url.Values{"csrf": {mallory.csrf()}, "id": {"no-such-request"}, "decision": {"cancel"}})
	if unknown.status != http.StatusBadRequest {
		t.Fatalf("unknown id: %d", unknown.status)
	}
	r = mallory.post("/oidc/payment", url.Values{"csrf": {mallory.csrf()}, "id": {id}, "decision": {"cancel"}})
	sameAsUnknown(t, "another user's cancel", r, unknown)
	r = mallory.post("/oidc/payment", url.Values{"csrf": {mallory.csrf()}, "id": {id}, "decision": {"approve"},
		"details": {checkoutDetails("250.00", "Acme Shop")}, "code": {"000000"}})
	sameAsUnknown(t, "another user's approval", r, unknown)
	for _, ev := range e.auditEvents() {
		if ev.Kind == "oidc.payment" {
			t.Errorf("another user's answers were recorded as a payment decision: %+v", ev)
		}
	}

	// Ada's page is still there, and her cancel ends the request.
	if u, r := b.authorize(e.ts.URL + "/oidc/resume?id=" + url.QueryEscape(id)); r.status != http.StatusOK || u.Path != "/oidc/resume" {
		t.Fatalf("after the other user's answers ada's request ended at %v (%d)", u, r.status)
	}
	r = b.post("/oidc/payment", url.Values{"csrf": {b.csrf()}, "id": {id}, "decision": {"cancel"}})
	loc, _ := url.Parse(r.header.Get("Location"))
	if r.status != http.StatusSeeOther || callbackOf(t, loc, "s").Get("error") != "access_denied" {
		t.Fatalf("ada's cancel: %d %v", r.status, loc)
	}
}
