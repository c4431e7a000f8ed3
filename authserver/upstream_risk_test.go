package authserver

import (
	"net/http"
	"testing"
)

// TestUpstreamSignInAsksForSecondFactor: a linked upstream account is one
// factor. From a browser the account has not used, the risk engine
// challenges, and the account's authenticator app is asked for before any
// session exists: a hijacked upstream account alone does not get in.
func TestUpstreamSignInAsksForSecondFactor(t *testing.T) {
	t.Parallel()
	p := newUpstreamPair(t, nil, nil)
	if r := p.up.admin("POST", "/admin/v1/users", map[string]any{"email": "ada@example.com", "name": "Ada", "password": password}); r.status != http.StatusCreated {
		t.Fatalf("upstream user: %d %s", r.status, r.body)
	}
	p.upB.signIn("ada@example.com", password)
	_, r := p.continueWith(t)
	wantRedirect(t, "first upstream sign-in", r, "/account")
	p.downB.enrollTOTP()
	p.downB.signOut()

	// Another browser, never used by the account.
	p.downB = p.down.browser()
	_, r = p.continueWith(t)
	wantRedirect(t, "upstream sign-in from a new browser", r, "/signin/factor")
	if r := p.downB.get("/account"); r.status != http.StatusSeeOther {
		t.Fatalf("signed in before the second factor: %d", r.status)
	}
	if ev := p.down.lastEvent("signin.second_factor_required"); ev.Details["first"] != "fed" {
		t.Errorf("second factor event = %+v", ev)
	}
}
