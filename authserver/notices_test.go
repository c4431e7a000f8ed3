package authserver

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/risk"
)

// TestFactorNotices: a new way in, one fewer, new recovery codes and a
// used recovery code are each mailed with the "this wasn't me" link.
func TestFactorNotices(t *testing.T) {
	m := newMailEnv(t)
	if _, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "ada@example.com", Password: "correct horse battery", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	b := m.browser()
	wantSignedIn(t, "sign-in", b.signIn("ada@example.com", "correct horse battery"))
	b.enrollTOTP()
	want := func(n int, subject string) received {
		t.Helper()
		msg := m.waitMailWhere(n, func(r received) bool { return isNotice(r) && !strings.HasPrefix(r.subject, "New sign-in") })
		if msg.subject != subject {
			t.Fatalf("notice %d: subject %q, want %q", n, msg.subject, subject)
		}
		m.linkPath(msg, "/report?t=")
		return msg
	}
	want(1, "A new way to sign in was added to your account")
	if ev := m.lastEvent("security.notice"); ev.Details["notice"] != "factor_added" {
		t.Errorf("notice audit = %+v", ev)
	}
	r := b.submit("/security", "/security/recovery", url.Values{})
	codes := recoveryRE.FindAllStringSubmatch(r.body, -1)
	if len(codes) != 10 {
		t.Fatalf("recovery codes page: %d, %d codes", r.status, len(codes))
	}
	want(2, "New recovery codes for your account")
	b.signOut()
	b.signIn("ada@example.com", "correct horse battery")
	wantRedirect(t, "recovery code", b.post("/signin/factor/recovery", url.Values{"csrf": {b.csrf()}, "code": {codes[0][1]}}), "/security?recovery_left=9")
	msg := want(3, "A recovery code was used on your account")
	mustContain(t, "recovery notice", msg.text, "Where: 127.0.0.1")
}

func TestSecurityNoticeAndThisWasntMe(t *testing.T) {
	m := newMailEnv(t)
	ident, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "ada@example.com", Name: "Ada", Password: "correct horse battery", EmailVerified: true})
	if err != nil {
		t.Fatal(err)
	}
	// A sign-in from a browser never seen before: the user is told, by
	// mail, when, where and with what.
	intruder := m.browser()
	wantSignedIn(t, "sign-in", intruder.signIn("ada@example.com", "correct horse battery"))
	msg := m.waitMailWhere(1, isNotice)
	if msg.to != "ada@example.com" || msg.subject != "New sign-in to your account" {
		t.Fatalf("notice to %q subject %q", msg.to, msg.subject)
	}
	mustContain(t, "notice", msg.text, "When: 2026-03-01 12:00 UTC")
	mustContain(t, "notice", msg.text, "Where: 127.0.0.1")
	if ev := m.lastEvent("security.notice"); ev.Subject != ident.ID || ev.Details["notice"] != "signin" || ev.Outcome != "queued" {
		t.Errorf("notice audit = %+v", ev)
	}

	// "This wasn't me": the link shows a button (mail scanners open links,
	// they do not press buttons), and pressing it locks the account and
	// ends every session.
	owner := m.browser()
	link := m.linkPath(msg, "/report?t=")
	page := owner.get(link)
	if page.status != http.StatusOK {
		t.Fatalf("report page: %d", page.status)
	}
	if r := intruder.get("/account"); r.status != http.StatusOK {
		t.Fatalf("opening the link already did something: %d", r.status)
	}
	tok := formToken(t, page.body)
	r := owner.submit(link, "/report", url.Values{"t": {tok}})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Your account is locked") {
		t.Fatalf("report: %d %s", r.status, truncate(r.body, 500))
	}
	if r := intruder.get("/account"); r.status != http.StatusSeeOther {
		t.Errorf("the intruder's session survived the report: %d", r.status)
	}
	if r := m.browser().signIn("ada@example.com", "correct horse battery"); r.status != http.StatusUnauthorized {
		t.Errorf("sign-in after the report: %d", r.status)
	}
	if ev := m.lastEvent("security.reported"); ev.Subject != ident.ID {
		t.Errorf("report audit = %+v", ev)
	}
	if at, _ := m.db.LastReport(t.Context(), ident.ID); !at.Equal(m.clock.Now()) {
		t.Errorf("last report = %v, want now", at)
	}
	// A forged link does nothing.
	if r := owner.submit(link, "/report", url.Values{"t": {tok + "x"}}); r.status != http.StatusBadRequest {
		t.Errorf("forged report: %d", r.status)
	}

	// A password reset is the way back in, and the risk engine still
	// remembers the report on the next sign-in.
	m.clock.Advance(time.Minute)
	owner.submit("/reset", "/reset", url.Values{"email": {"ada@example.com"}})
	m.srv.acct.wg.Wait()
	reset := m.waitMailWhere(1, func(r received) bool { return r.subject == "Reset your password" })
	rl := m.linkPath(reset, "/reset/password?t=")
	rp := owner.get(rl)
	if r := owner.submit(rl, "/reset/password", url.Values{"t": {formToken(t, rp.body)}, "password": {"a brand new passphrase"}}); r.status != http.StatusOK {
		t.Fatalf("reset: %d %s", r.status, truncate(r.body, 500))
	}
	owner.signIn("ada@example.com", "a brand new passphrase")
	if a := m.lastAssessment(); !strings.Contains(a.Details["reason_codes"], "reported_not_me") {
		t.Errorf("assessment after the report = %+v", a.Details)
	}
}

func TestLockNotice(t *testing.T) {
	m := newMailEnv(t)
	if _, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "bo@example.com", Password: "correct horse battery", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	b := m.browser()
	for i := range 5 {
		b.signIn("bo@example.com", "wrong guess "+string(rune('a'+i)))
	}
	msg := m.waitMailWhere(1, isNotice)
	if msg.subject != "Your account was locked" {
		t.Errorf("subject %q", msg.subject)
	}
	m.linkPath(msg, "/report?t=")
}

func TestRecoveryAssessedByRisk(t *testing.T) {
	src := strings.Replace(string(risk.DefaultPolicyYAML()), "deny: []", "deny: [203.0.113.0/24]", 1)
	p, err := risk.LoadPolicy([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	m := newMailEnv(t, behindProxy, func(c *Config) { c.RiskPolicy = p })
	if _, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "cy@example.com", Password: "correct horse battery", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	b := m.browser()
	b.submit("/reset", "/reset", url.Values{"email": {"cy@example.com"}})
	m.srv.acct.wg.Wait()
	link := m.linkPath(m.waitMail(1), "/reset/password?t=")
	page := b.get(link)
	form := url.Values{"csrf": {b.csrf()}, "t": {formToken(t, page.body)}, "password": {"a brand new passphrase"}}
	req, _ := http.NewRequest("POST", m.ts.URL+"/reset/password", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", "203.0.113.7")
	if r := b.do(req); r.status != http.StatusForbidden {
		t.Fatalf("reset from a denied network: %d", r.status)
	}
	if r := m.browser().signIn("cy@example.com", "correct horse battery"); r.status != http.StatusSeeOther {
		t.Errorf("the old password stopped working after a refused reset: %d", r.status)
	}
	if a := m.lastAssessment(); a.Details["event"] != "recovery" && a.Details["event"] != "login" {
		t.Errorf("assessment = %+v", a.Details)
	}
	if ev := m.lastEvent("password_reset.denied"); ev.Outcome != "denied" {
		t.Errorf("audit = %+v", ev)
	}
}
