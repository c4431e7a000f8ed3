package authserver

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/assent-auth/assent/acr"
	"github.com/assent-auth/assent/profiles"
)

// requestLink asks for a sign-in link for email from the sign-in page.
func (b *browser) requestLink(email string) response {
	b.t.Helper()
	return b.submit("/signin", "/signin/link", url.Values{"email": {email}})
}

// openLink opens a mailed sign-in link and presses its button.
func (b *browser) openLink(link string) response {
	b.t.Helper()
	page := b.get(link)
	if page.status != http.StatusOK {
		b.t.Fatalf("GET %s: %d", link, page.status)
	}
	return b.submit(link, "/signin/link/open", url.Values{"t": {formToken(b.t, page.body)}})
}

func (m *mailEnv) sessionAMR(b *browser) []string {
	m.t.Helper()
	sess, err := m.srv.session(cookieRequest(b))
	if err != nil {
		m.t.Fatalf("no session: %v", err)
	}
	return sess.AMR
}

func TestSignInLinkOverSMTP(t *testing.T) {
	t.Parallel()
	m := newAdaMailEnv(t)
	b := m.browser()
	mustContain(t, "sign-in page", b.get("/signin").body, `formaction="/signin/link"`)

	// The answer is the same for a known and an unknown address.
	known := b.requestLink("Ada@Example.com")
	unknown := m.browser().requestLink("nobody@example.com")
	if known.status != http.StatusOK || unknown.status != http.StatusOK {
		t.Fatalf("link requests: %d and %d", known.status, unknown.status)
	}
	// The same page but for the address typed in (the code form keeps it).
	if sameButFor(known.body, "Ada@Example.com") != sameButFor(unknown.body, "nobody@example.com") {
		t.Errorf("answers differ for a known and an unknown address")
	}
	mustContain(t, "sent page", known.body, "sign-in link is on its way")
	m.srv.acct.wg.Wait()
	msg := m.waitMail(1)
	if msg.to != "ada@example.com" || msg.subject != "Your sign-in link" {
		t.Errorf("link mail to %q subject %q", msg.to, msg.subject)
	}
	link := m.linkPath(msg, "/signin/link/open?t=")

	// Opening the link does nothing by itself (mail scanners open links).
	if r := b.get(link); r.status != http.StatusOK || slices.Contains(m.auditKinds(), "signin.succeeded") {
		t.Fatalf("GET of the link: %d", r.status)
	}
	// Opened in another browser, it is refused, and stays good for the
	// browser that asked for it.
	other := m.browser()
	r := other.openLink(link)
	if r.status != http.StatusBadRequest {
		t.Fatalf("link in another browser: %d", r.status)
	}
	mustContain(t, "other browser", r.body, "opened in a different browser")
	if ev := m.lastEvent("signin.failed"); ev.Details["reason"] != "other_browser" {
		t.Errorf("audit: %+v", ev.Details)
	}

	r = b.openLink(link)
	wantSignedIn(t, "sign-in link", r)
	if amr := m.sessionAMR(b); !slices.Equal(amr, []string{"email"}) || acr.Of(amr) != acr.SingleFactor {
		t.Errorf("session amr %v, acr %q; want [email], 1", amr, acr.Of(amr))
	}
	if ev := m.lastEvent("signin.succeeded"); ev.Details["amr"] != "email" || ev.Details["via"] != "email_link" || ev.Details["risk_decision"] == "" {
		t.Errorf("signin.succeeded = %+v", ev.Details)
	}

	// Used once: the same browser cannot use it again, even with its
	// nonce back.
	b.signOut()
	if r := b.openLink(link); r.status != http.StatusBadRequest {
		t.Errorf("link reused: %d", r.status)
	}
	// The unknown address got nothing.
	time.Sleep(100 * time.Millisecond)
	for _, got := range m.smtp.Messages() {
		if slices.Contains(got.To, "nobody@example.com") {
			t.Error("mail sent to an unknown address")
		}
	}
}

func TestSignInLinkExpiresAndFollowsAccountState(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t)
	t.Cleanup(m.srv.acct.wg.Wait) // before the server stops
	ctx := t.Context()
	if _, err := m.profiles.Create(ctx, profiles.NewUser{Email: "ada@example.com", Password: "correct horse battery", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	// Unverified with a password: someone else may have registered the
	// address, so no link is mailed (and the answer is the same).
	if _, err := m.profiles.Create(ctx, profiles.NewUser{Email: "squat@example.com", Password: "correct horse battery"}); err != nil {
		t.Fatal(err)
	}
	b := m.browser()
	if r := b.requestLink("squat@example.com"); r.status != http.StatusOK {
		t.Fatalf("request: %d", r.status)
	}

	// Expired after 15 minutes.
	b.requestLink("ada@example.com")
	link := m.linkPath(m.waitMail(1), "/signin/link/open?t=")
	m.clock.Advance(profiles.SignInLinkTTL + time.Second)
	if r := b.openLink(link); r.status != http.StatusBadRequest {
		t.Errorf("expired link: %d", r.status)
	}

	// Bound to the account's state: a password change voids it.
	b.requestLink("ada@example.com")
	link = m.linkPath(m.waitMail(2), "/signin/link/open?t=")
	ident, _ := m.profiles.GetByEmail(ctx, "ada@example.com")
	tok, err := m.profiles.ResetLink(ctx, ident.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.profiles.ResetPassword(ctx, tok, "a brand new passphrase"); err != nil {
		t.Fatal(err)
	}
	if r := b.openLink(link); r.status != http.StatusBadRequest {
		t.Errorf("link after a password change: %d", r.status)
	}

	// A forged token is refused.
	b.requestLink("ada@example.com")
	link = m.linkPath(m.waitMail(3), "/signin/link/open?t=")
	tok = formToken(t, b.get(link).body)
	if r := b.submit(link, "/signin/link/open", url.Values{"t": {tamper(tok)}}); r.status != http.StatusBadRequest {
		t.Errorf("forged link: %d", r.status)
	}
	wantSignedIn(t, "fresh link", b.openLink(link))

	m.srv.acct.wg.Wait()
	time.Sleep(100 * time.Millisecond)
	for _, got := range m.smtp.Messages() {
		if slices.Contains(got.To, "squat@example.com") {
			t.Error("link mailed to an unverified account with a password")
		}
	}
}

func TestSignInLinkLimits(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t)
	t.Cleanup(m.srv.acct.wg.Wait) // before the server stops
	if _, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "ada@example.com", Password: "correct horse battery", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	b := m.browser()
	for range maxSignInLinkMailsPerEmail + 2 {
		if r := b.requestLink("ada@example.com"); r.status != http.StatusOK {
			t.Fatalf("request: %d", r.status)
		}
	}
	m.srv.acct.wg.Wait()
	m.smtp.Wait(t, maxSignInLinkMailsPerEmail, 10*time.Second)
	time.Sleep(100 * time.Millisecond)
	if n := len(m.smtp.Messages()); n != maxSignInLinkMailsPerEmail {
		t.Errorf("%d link mails, want %d", n, maxSignInLinkMailsPerEmail)
	}
	var last response
	for i := range maxSignInLinkRequestsPerNet {
		last = b.requestLink("user" + itoa3(i) + "@example.com")
	}
	if last.status != http.StatusTooManyRequests {
		t.Errorf("bulk requests from one network: last answer %d, want 429", last.status)
	}
}

// TestSignInLinkAsksForSecondFactor: a link from a new browser is a risk
// challenge; a user with TOTP is asked for it, and the session then
// records both methods.
func TestSignInLinkAsksForSecondFactor(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t)
	t.Cleanup(m.srv.acct.wg.Wait) // before the server stops
	if _, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "ada@example.com", Password: "correct horse battery", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	home := m.browser()
	wantSignedIn(t, "sign-in", home.signIn("ada@example.com", "correct horse battery"))
	key := home.enrollTOTP()

	b := m.browser()
	b.requestLink("ada@example.com")
	link := m.linkPath(m.waitMail(1), "/signin/link/open?t=")
	r := b.openLink(link)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/signin/factor" {
		t.Fatalf("link from a new browser: %d to %q, want the second factor", r.status, r.header.Get("Location"))
	}
	if ev := m.lastEvent("risk.assessed"); ev.Outcome != "challenge" {
		t.Errorf("assessment %q", ev.Outcome)
	}
	if r := b.get("/account"); r.status != http.StatusSeeOther {
		t.Fatalf("signed in before the second factor: %d", r.status)
	}
	b.get("/signin/factor")
	m.clock.Advance(30 * time.Second)
	code, _ := totp.GenerateCode(key, m.clock.Now())
	r = b.post("/signin/factor/totp", url.Values{"csrf": {b.csrf()}, "code": {code}})
	wantSignedIn(t, "TOTP step", r)
	amr := m.sessionAMR(b)
	if !slices.Contains(amr, "email") || slices.Contains(amr, "pwd") || !slices.Contains(amr, "otp") || acr.Of(amr) != acr.MFA {
		t.Errorf("session amr %v (acr %q), want email + otp, mfa", amr, acr.Of(amr))
	}
}

func TestPasswordlessSignUpOverSMTP(t *testing.T) {
	t.Parallel()
	m := newMailEnv(t)
	t.Cleanup(m.srv.acct.wg.Wait) // before the server stops
	if _, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "taken@example.com", Password: "correct horse battery", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	b := m.browser()
	r := b.submit("/signup", "/signup", url.Values{"email": {"lin@example.com"}, "name": {"Lin"}})
	if r.status != http.StatusOK {
		t.Fatalf("password-less sign-up: %d %s", r.status, truncate(r.body, 500))
	}
	mustContain(t, "sign-up answer", r.body, "confirm your address and sign in")
	// Not signed in by the sign-up itself.
	if r := b.get("/account"); r.status != http.StatusSeeOther {
		t.Fatalf("signed in before the link: %d", r.status)
	}
	// An address in use gets the same answer (but for the address typed
	// in, which the code form keeps), not "taken".
	taken := m.browser().submit("/signup", "/signup", url.Values{"email": {"taken@example.com"}, "name": {"Lin"}})
	if taken.status != http.StatusOK || sameButFor(taken.body, "taken@example.com") != sameButFor(r.body, "lin@example.com") {
		t.Errorf("sign-up with a taken address answers differently: %d", taken.status)
	}
	ident, err := m.profiles.GetByEmail(t.Context(), "lin@example.com")
	if err != nil || ident.EmailVerified || ident.HasPassword {
		t.Fatalf("new account: %+v %v", ident, err)
	}

	// A password sign-in of the password-less account fails like a wrong
	// password.
	wrong := m.browser().signIn("taken@example.com", "not the password")
	nopw := m.browser().signIn("lin@example.com", "any password at all")
	if nopw.status != http.StatusUnauthorized || csrfRE.ReplaceAllString(nopw.body, "") != strings.ReplaceAll(csrfRE.ReplaceAllString(wrong.body, ""), "taken@example.com", "lin@example.com") {
		t.Errorf("password sign-in of a password-less account: %d", nopw.status)
	}

	m.srv.acct.wg.Wait()
	msg := m.waitMailWhere(1, func(r received) bool { return r.to == "lin@example.com" })
	link := m.linkPath(msg, "/signin/link/open?t=")
	r = b.openLink(link)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account?nudge=passkey_after_link" {
		t.Fatalf("link: %d to %q", r.status, r.header.Get("Location"))
	}
	mustContain(t, "account page", b.get(r.header.Get("Location")).body, "Add a passkey")
	if ident, _ := m.profiles.GetByEmail(t.Context(), "lin@example.com"); !ident.EmailVerified {
		t.Error("address not verified by the link")
	}
	if ev := m.lastEvent("email.verified"); ev.Details["via"] != "signin_link" {
		t.Errorf("email.verified = %+v", ev.Details)
	}

	// A password reset lets the user set a password.
	b.signOut()
	b.submit("/reset", "/reset", url.Values{"email": {"lin@example.com"}})
	m.srv.acct.wg.Wait()
	reset := m.linkPath(m.waitMailWhere(1, func(r received) bool { return strings.Contains(r.text, "/reset/password?t=") }), "/reset/password?t=")
	tok := formToken(t, b.get(reset).body)
	if r := b.submit(reset, "/reset/password", url.Values{"t": {tok}, "password": {"a brand new passphrase"}}); r.status != http.StatusOK {
		t.Fatalf("reset: %d %s", r.status, truncate(r.body, 500))
	}
	wantSignedIn(t, "password after reset", m.browser().signIn("lin@example.com", "a brand new passphrase"))
}

// signInCodeRE finds the sign-in code in a sign-in link mail.
var signInCodeRE = regexp.MustCompile(`enter this code \(never tell it[^)]*\): (\d{8})`)

// TestSignInCodeOverSMTP: the code in a sign-in link mail, typed into the
// browser that asked (the mail read on a phone), signs in once; another
// browser, a wrong code and an unknown address get the same refusal, and
// wrong codes for an address are limited.
func TestSignInCodeOverSMTP(t *testing.T) {
	t.Parallel()
	m := newAdaMailEnv(t)
	b := m.browser()
	sent := b.requestLink("ada@example.com")
	mustContain(t, "sent page", sent.body, `action="/signin/link/code"`)
	m.srv.acct.wg.Wait()
	msg := m.waitMail(1)
	found := signInCodeRE.FindStringSubmatch(msg.text)
	if found == nil {
		t.Fatalf("no code in the mail:\n%s", msg.text)
	}
	code := found[1]
	enter := func(b *browser, email, code string) response {
		t.Helper()
		return b.submit("/signin", "/signin/link/code", url.Values{"email": {email}, "code": {code}})
	}

	// Another browser with a link request (and nonce) of its own.
	other := m.browser()
	other.requestLink("nobody@example.com")
	wrong := fmt.Sprintf("%08d", (mustAtoi(t, code)+1)%100_000_000)
	refusals := map[string]response{
		"another browser":    enter(other, "ada@example.com", code),
		"a wrong code":       enter(b, "ada@example.com", wrong),
		"an unknown address": enter(b, "nobody@example.com", code),
	}
	for name, r := range refusals {
		if r.status != http.StatusBadRequest {
			t.Errorf("%s: %d", name, r.status)
		}
		mustContain(t, name, r.body, "That code cannot sign you in")
	}
	if ev := m.lastEvent("signin.failed"); ev.Details["reason"] != "invalid_code" || ev.Details["via"] != "email_code" {
		t.Errorf("signin.failed = %+v", ev.Details)
	}

	r := enter(b, "Ada@example.com", code)
	wantSignedIn(t, "sign-in code", r)
	if ev := m.lastEvent("signin.succeeded"); ev.Details["amr"] != "email" || ev.Details["via"] != "email_code" {
		t.Errorf("signin.succeeded = %+v", ev.Details)
	}
	// Used once, and the link that came with it is spent too.
	b.signOut()
	if r := enter(b, "ada@example.com", code); r.status != http.StatusBadRequest {
		t.Errorf("code reused: %d", r.status)
	}

	// Wrong codes for an address are limited, whatever the browser.
	for i := range maxSignInCodeFailures {
		enter(m.browser(), "ada@example.com", fmt.Sprintf("%08d", i))
	}
	if r := enter(m.browser(), "ada@example.com", code); r.status != http.StatusTooManyRequests {
		t.Errorf("after %d wrong codes: %d, want 429", maxSignInCodeFailures, r.status)
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// sameButFor is a page without its CSRF token and the address typed in,
// to compare the answers for two addresses.
func sameButFor(body, email string) string {
	return strings.ReplaceAll(csrfRE.ReplaceAllString(body, ""), email, "")
}

// newAdaMailEnv is a mail environment with ada@example.com registered,
// verified, with a password.
func newAdaMailEnv(t *testing.T) *mailEnv {
	t.Helper()
	m := newMailEnv(t)
	t.Cleanup(m.srv.acct.wg.Wait) // before the server stops
	if _, err := m.profiles.Create(t.Context(), profiles.NewUser{Email: "ada@example.com", Name: "Ada", Password: "correct horse battery", EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	return m
}
