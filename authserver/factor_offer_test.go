package authserver

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/descope/virtualwebauthn"
	"github.com/pquerna/otp/totp"
)

// TestStepUpOffersWhatTheLevelNeeds: a relying party asking for a
// phishing-resistant sign-in gets the passkey form only, and a code from
// the authenticator app is refused (and audited) for a user who has a
// passkey; a user without one is shown what they have.
func TestStepUpOffersWhatTheLevelNeeds(t *testing.T) {
	e := newEnv(t, withPasskeys)
	ada := e.browser()
	ada.signUp("ada@example.com", "correct horse battery")
	ada.addPasskey(newSoftKey(virtualwebauthn.AuthenticatorOptions{}), "Ada's key")
	key := ada.enrollTOTP()
	ada.signOut()
	nextCode := func(key string) string {
		e.clock.Advance(30 * time.Second)
		code, err := totp.GenerateCode(key, e.clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return code
	}

	r := ada.submit("/signin", "/signin", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery"}, "acr": {"phr"}})
	wantRedirect(t, "password", r, "/signin/factor")
	page := ada.get("/signin/factor").body
	mustContain(t, "factor page", page, `data-passkey="second_factor"`)
	if strings.Contains(page, `action="/signin/factor/totp"`) {
		t.Error("a phishing-resistant step-up offers the authenticator app")
	}
	r = ada.post("/signin/factor/totp", url.Values{"csrf": {ada.csrf()}, "code": {nextCode(key)}})
	if r.status != http.StatusForbidden {
		t.Fatalf("TOTP for a phr step-up: %d", r.status)
	}
	if ev := e.lastEvent("signin.method_refused"); ev.Details["method"] != "totp" || ev.Details["offer"] != "passkey" {
		t.Errorf("audit = %+v", ev)
	}
	if r := ada.get("/account"); r.status == http.StatusOK {
		t.Fatal("signed in with a refused method")
	}

	// An ordinary challenge offers both, passkey and app code.
	ada2 := e.browser()
	wantRedirect(t, "password", ada2.signIn("ada@example.com", "correct horse battery"), "/signin/factor")
	page = ada2.get("/signin/factor").body
	mustContain(t, "factor page", page, `action="/signin/factor/totp"`)
	mustContain(t, "factor page", page, `data-passkey="second_factor"`)

	// Bob has only the app: he is shown it, and the session's acr says
	// what he reached.
	bob := e.browser()
	bob.signUp("bob@example.com", "correct horse battery")
	bobKey := bob.enrollTOTP()
	bob.signOut()
	r = bob.submit("/signin", "/signin", url.Values{"email": {"bob@example.com"}, "password": {"correct horse battery"}, "acr": {"phr"}})
	wantRedirect(t, "password", r, "/signin/factor")
	mustContain(t, "factor page", bob.get("/signin/factor").body, `action="/signin/factor/totp"`)
	r = bob.post("/signin/factor/totp", url.Values{"csrf": {bob.csrf()}, "code": {nextCode(bobKey)}})
	if r.status != http.StatusSeeOther {
		t.Fatalf("Bob's TOTP: %d", r.status)
	}
}
