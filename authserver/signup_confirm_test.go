package authserver

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/profiles"
)

// TestSignUpConfirmEmail checks the enumeration-safe sign-up with a
// password (Config.SignUpConfirmEmail): the same answer whether the
// address is new or registered, nobody signed in by it, the registered
// account left as it was and its owner told by mail, and the new account
// confirmed by its mailed link and signed in with its password.
func TestSignUpConfirmEmail(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t, func(c *Config) { c.SignUpConfirmEmail = true })
	if _, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "taken@example.com", Password: "correct horse battery", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}

	b := m.browser()
	r := b.submit("/signup", "/signup", url.Values{"email": {"ada@example.com"}, "name": {"Ada"}, "password": {"analytical engine 1843"}})
	if r.status != http.StatusOK {
		t.Fatalf("sign-up: %d %s", r.status, truncate(r.body, 500))
	}
	mustContain(t, "sign-up answer", r.body, "a message to confirm your address is on its way")
	if r := b.get("/account"); r.status != http.StatusSeeOther {
		t.Fatalf("signed in by the sign-up: %d", r.status)
	}

	other := m.browser()
	taken := other.submit("/signup", "/signup", url.Values{"email": {"taken@example.com"}, "name": {"Ada"}, "password": {"someone else's guess"}})
	if taken.status != r.status || sameButFor(taken.body, "taken@example.com") != sameButFor(r.body, "ada@example.com") {
		t.Errorf("sign-up with a registered address answers differently: %d\n%s", taken.status, truncate(taken.body, 2000))
	}
	if ev := m.lastEvent("user.signup_existing"); ev.Details["via"] != "signup" {
		t.Errorf("user.signup_existing = %+v", ev)
	}
	if r := other.get("/account"); r.status != http.StatusSeeOther {
		t.Errorf("signed in to the registered account by a sign-up: %d", r.status)
	}
	// The registered account keeps its password; the attempt's does not work.
	if r := m.browser().signIn("taken@example.com", "someone else's guess"); r.status != http.StatusUnauthorized {
		t.Errorf("the sign-up attempt's password signs in to the registered account: %d", r.status)
	}
	notice := m.waitMailWhere(1, func(r received) bool { return r.to == "taken@example.com" })
	if notice.subject != "Someone tried to create an account with your address" {
		t.Errorf("mail to the registered address: %q", notice.subject)
	}
	wantSignedIn(t, "owner's password", m.browser().signIn("taken@example.com", "correct horse battery"))

	// Sign-ups cannot flood the owner's mailbox: a few notices per window.
	for range 2 * maxSignInLinkMailsPerEmail {
		m.browser().submit("/signup", "/signup", url.Values{"email": {"taken@example.com"}, "password": {"someone else's guess"}})
	}
	notices := func() int {
		n := 0
		for _, got := range m.smtp.Messages() {
			if slices.Contains(got.To, "taken@example.com") && strings.Contains(string(got.Data), "Someone tried to create an account") {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(10 * time.Second); notices() < maxSignInLinkMailsPerEmail && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond) // anything more queued would be delivered by now
	if n := notices(); n != maxSignInLinkMailsPerEmail {
		t.Errorf("%d sign-ups with a registered address sent %d notices, want %d", 2*maxSignInLinkMailsPerEmail+1, n, maxSignInLinkMailsPerEmail)
	}

	if ident, err := m.profiles.GetByEmail(t.Context(), "ada@example.com"); err != nil || ident.EmailVerified || !ident.HasPassword {
		t.Fatalf("new account before the link: %+v %v", ident, err)
	}
	link := m.linkPath(m.waitMailWhere(1, func(r received) bool { return r.to == "ada@example.com" }), "/verify?t=")
	if r := b.submit(link, "/verify", url.Values{"t": {formToken(t, b.get(link).body)}}); r.status != http.StatusOK {
		t.Fatalf("verify: %d %s", r.status, truncate(r.body, 500))
	}
	if ident, _ := m.profiles.GetByEmail(t.Context(), "ada@example.com"); !ident.EmailVerified {
		t.Error("address not confirmed by the link")
	}
	wantSignedIn(t, "new account's password", b.signIn("ada@example.com", "analytical engine 1843"))
}
