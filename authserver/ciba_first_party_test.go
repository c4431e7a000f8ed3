package authserver

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/risk"
)

// TestCIBAFirstPartyRiskDeny: a first-party client (the operator's call
// centre) is told at once that the risk engine denied a known customer,
// with access_denied and a reason code it can show, while a third-party
// client still gets an unknown user's answer for the same customer, and
// an unknown customer gets that answer from both.
func TestCIBAFirstPartyRiskDeny(t *testing.T) {
	pol, err := risk.LoadPolicy(bytes.Replace(risk.DefaultPolicyYAML(), []byte("payment: {}"), []byte("payment: {weight: 90}"), 1))
	if err != nil {
		t.Fatal(err)
	}
	w := newCIBAWorld(t, func(c *Config) { c.RiskPolicy = pol }, withClients(
		oidcprovider.ClientConfig{ID: "shop", Secret: cibaSecret, RedirectURIs: []string{rpCallback}, CIBAMode: "poll"},
		oidcprovider.ClientConfig{ID: "callcentre", Secret: cibaSecret, RedirectURIs: []string{rpCallback}, CIBAMode: "poll", FirstParty: true},
	))
	callcentre := merchant{t: t, e: w.e, id: "callcentre", secret: cibaSecret}
	pay := func(hint string) url.Values {
		return url.Values{"login_hint": {hint}, "authorization_details": {paymentDetails("5.00", "EUR", "Acme Shop")}}
	}

	denied := callcentre.start(pay("ada@example.com"))
	wantOAuthError(t, "first-party client, denied customer", denied, http.StatusForbidden, "access_denied")
	if denied.body["auth_req_id"] != nil {
		t.Errorf("a refused request got an auth_req_id: %s", denied.raw)
	}
	ev := w.e.lastEvent("ciba.requested")
	code := ev.Details["risk_reason"]
	if ev.Actor != "callcentre" || ev.Outcome != "denied" || ev.Details["reason"] != "risk_denied" || code == "" {
		t.Fatalf("ciba.requested = %+v", ev)
	}
	if got, want := denied.str("error_description"), "risk_denied: "+code; got != want {
		t.Errorf("error_description %q, want %q", got, want)
	}
	if code != string(risk.CodeSensitiveKind) {
		t.Errorf("primary reason %q, want %q (the payment weight)", code, risk.CodeSensitiveKind)
	}
	if strings.Contains(string(denied.raw), "ada") || strings.Contains(string(denied.raw), ev.Subject) {
		t.Errorf("the answer carries personal data: %s", denied.raw)
	}

	// An unknown customer is not told apart, even to a first-party client.
	if u := callcentre.start(pay("nobody@example.com")); u.status != http.StatusOK || u.body["binding_number"] == nil {
		t.Errorf("first-party client, unknown customer: %d %s", u.status, u.raw)
	}
	// A third-party client keeps the enumeration-safe answer.
	a, u := w.shop.start(pay("ada@example.com")), w.shop.start(pay("nobody@example.com"))
	if a.status != http.StatusOK || len(a.body) != len(u.body) || a.body["binding_number"] == nil {
		t.Fatalf("third-party answers differ: known %d %s, unknown %d %s", a.status, a.raw, u.status, u.raw)
	}
	wantOAuthError(t, "third-party client, denied customer", w.shop.poll(a.str("auth_req_id")), 400, "authorization_pending")
}
