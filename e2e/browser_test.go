package e2e

import (
	"context"
	"encoding/base32"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"
)

// chromium finds Debian's chromium. The browser test must run wherever
// `make test` runs, so a missing browser is a failure, not a skip.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed; `make test` installs it through scripts/test-deps.sh (apt-get install chromium)")
	return ""
}

// totpCode is the TOTP code of key at time at, from Debian's oathtool when
// it is installed (an implementation independent of the server's) and
// from github.com/pquerna/otp otherwise.
func totpCode(t *testing.T, key string, at time.Time) string {
	t.Helper()
	if _, err := exec.LookPath("oathtool"); err == nil {
		out, err := exec.Command("oathtool", "--totp", "-b", "--now", at.UTC().Format("2006-01-02 15:04:05 UTC"), key).Output()
		if err != nil {
			t.Fatalf("oathtool: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	if _, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(key); err != nil {
		t.Fatalf("the page shows a key that is not base32: %q", key)
	}
	code, err := totp.GenerateCode(key, at)
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// TestBrowserStrongAuthentication drives headless Chromium with a virtual
// authenticator (CDP WebAuthn domain) through the real pages of a real
// assentd: sign up, add a passkey on the security page, sign out, sign
// back in with only the passkey; set up an authenticator app and sign in
// with password and code; use a recovery code once, and not twice.
func TestBrowserStrongAuthentication(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	// http://localhost is a secure context, and localhost a valid RP ID.
	base := fmt.Sprintf("http://localhost:%d", port)
	s := startServerOn(t, data, fmt.Sprintf("127.0.0.1:%d", port), "-issuer", base)

	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	bctx := newTab(ctx, t)
	step, text := pageDriver(bctx, t, s)
	location := func() string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Location())
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimPrefix(v, base)
	}
	waitPath := func(prefix string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !strings.HasPrefix(location(), prefix) {
			if time.Now().After(deadline) {
				t.Fatalf("still at %s, waiting for %s\nserver log:\n%s", location(), prefix, tail(s.log.String(), 4000))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	// leave clicks sel and waits until the browser has loaded another
	// document, so that what follows cannot see the page the click was on.
	leave := func(what, sel string) {
		t.Helper()
		if _, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.stillHere = true`)); err != nil {
			t.Fatal(err)
		}
		step(what, chromedp.Click(chromedp.CSS(sel)))
		deadline := time.Now().Add(20 * time.Second)
		for {
			gone, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`window.stillHere !== true`))
			if err == nil && gone {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the page did not change\nserver log:\n%s", what, tail(s.log.String(), 4000))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// open navigates to path and waits for the element sel.
	open := func(path, sel string) {
		t.Helper()
		step("open "+path, chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(sel)))
	}
	// arrive waits for the path and then for the element sel.
	arrive := func(path, sel string) {
		t.Helper()
		waitPath(path)
		step("page "+path, chromedp.WaitVisible(chromedp.CSS(sel)))
	}
	signOut := func() {
		t.Helper()
		open("/account", `form[action="/signout"] button`)
		leave("sign out", `form[action="/signout"] button`)
		arrive("/signin?signed_out=1", "#email")
	}
	signInWithPassword := func() {
		t.Helper()
		open("/signin", "#password")
		step("password", chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
			chromedp.SendKeys(chromedp.ID("password"), "correct horse battery staple"))
		leave("password", `form[action="/signin"] button[type=submit]`)
		arrive("/signin/factor", "h1")
	}

	// 1. Sign up on the real page.
	open("/signup", "#password")
	step("sign up", chromedp.SendKeys(chromedp.ID("name"), "Ada"),
		chromedp.SendKeys(chromedp.ID("email"), "ada@example.com"),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery staple"))
	leave("sign up", `form[action="/signup"] button[type=submit]`)
	arrive("/account", ".who")

	// 2. A platform authenticator that holds discoverable credentials and
	// verifies the user.
	if _, err := chromedp.Call(bctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		t.Fatalf("WebAuthn.enable: %v", err)
	}
	auth, err := chromedp.Call(bctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}

	// 3. Add a passkey on the security page.
	addButton := `form[data-passkey="register"] [data-passkey-start]`
	leave("security page", "a.security-link")
	arrive("/security", addButton)
	step("name the passkey", chromedp.SendKeys(chromedp.ID("passkey-name"), "Test laptop"))
	leave("add passkey", addButton)
	arrive("/security?done=passkey_added", ".factor-name")
	if got := text(".factor-name"); got != "Test laptop" {
		t.Fatalf("passkey listed as %q", got)
	}
	creds, err := chromedp.Call(bctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: auth.AuthenticatorID})
	if err != nil || len(creds.Credentials) != 1 || !creds.Credentials[0].IsResidentCredential {
		t.Fatalf("authenticator credentials: %+v %v", creds, err)
	}

	// 4. Sign out, and back in with only the passkey: no e-mail, no
	// password. The sign-in page's pending autofill request (conditional
	// mediation) is answered by the authenticator, which stands in for the
	// person picking the passkey from the e-mail field's suggestions.
	open("/account", `form[action="/signout"] button`)
	leave("sign out", `form[action="/signout"] button`)
	arrive("/account", ".who")
	if who := text(".who"); who != "ada@example.com" {
		t.Fatalf("signed in as %q", who)
	}
	ev := lastAudit(t, s, "signin.succeeded")
	if ev.Details["amr"] != "hwk user" || ev.Details["method"] != "passkey" {
		t.Fatalf("passkey sign-in recorded as %+v", ev.Details)
	}

	// The same with the "Sign in with a passkey" button, in a browser
	// without autofill for passkeys and without the WebAuthn JSON helpers
	// (as older browsers are), so the script's own encoding is used.
	if _, err := chromedp.Call(bctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);
delete PublicKeyCredential.parseRequestOptionsFromJSON;
delete PublicKeyCredential.parseCreationOptionsFromJSON;
delete PublicKeyCredential.prototype.toJSON;`,
	}); err != nil {
		t.Fatal(err)
	}
	signOut()
	passkeyButton := `form[data-passkey="signin"] [data-passkey-start]`
	if native, err := chromedp.Run(bctx, chromedp.Evaluate[bool](`"toJSON" in PublicKeyCredential.prototype || "parseRequestOptionsFromJSON" in PublicKeyCredential`)); err != nil || native {
		t.Fatalf("the WebAuthn JSON helpers are still there: %v", err)
	}
	step("passkey button", chromedp.WaitVisible(chromedp.CSS(passkeyButton)))
	leave("passkey button", passkeyButton)
	arrive("/account", ".who")
	if ev := lastAudit(t, s, "signin.succeeded"); ev.Details["amr"] != "hwk user" {
		t.Fatalf("passkey button sign-in recorded as %+v", ev.Details)
	}

	// 5. Set up an authenticator app; confirm it with a code computed
	// outside the server.
	open("/security", `form[action="/security/totp"] button`)
	leave("begin TOTP", `form[action="/security/totp"] button`)
	arrive("/security/totp", ".totp-key")
	key := strings.ReplaceAll(text(".totp-key"), " ", "")
	step("first code", chromedp.SendKeys(chromedp.ID("code"), totpCode(t, key, time.Now())))
	leave("confirm TOTP", `form[action="/security/totp/confirm"] button`)
	arrive("/security?done=totp_added", ".totp-status")

	// 6. Recovery codes, shown once.
	leave("recovery codes", `form[action="/security/recovery"] button`)
	arrive("/security/recovery", ".recovery-codes")
	codes := strings.Fields(text(".recovery-codes"))
	if len(codes) != 10 {
		t.Fatalf("recovery codes: %q", codes)
	}

	// 7. Password and TOTP. The code of the next time step: the one that
	// confirmed the app is spent.
	signOut()
	signInWithPassword()
	step("TOTP", chromedp.WaitVisible(chromedp.ID("code")),
		chromedp.SendKeys(chromedp.ID("code"), totpCode(t, key, time.Now().Add(30*time.Second))))
	leave("TOTP", `form[action="/signin/factor/totp"] button`)
	arrive("/account", ".who")
	if ev := lastAudit(t, s, "signin.succeeded"); ev.Details["amr"] != "pwd otp mfa" {
		t.Fatalf("TOTP sign-in recorded as %+v", ev.Details)
	}

	// 8. A recovery code works once...
	useRecovery := func() {
		t.Helper()
		step("recovery code", chromedp.Click(chromedp.CSS("details.recovery summary")),
			chromedp.WaitVisible(chromedp.ID("recovery-code")),
			chromedp.SendKeys(chromedp.ID("recovery-code"), codes[0]))
		leave("recovery code", `form[action="/signin/factor/recovery"] button`)
	}
	signOut()
	signInWithPassword()
	useRecovery()
	arrive("/security?recovery_left=9", ".notice")
	if n := text(".notice"); !strings.Contains(n, "9 codes are left") {
		t.Fatalf("notice after a recovery code: %q", n)
	}

	// 9. ...and not twice.
	signOut()
	signInWithPassword()
	useRecovery()
	arrive("/signin/factor", ".error")
	if msg := text(".error"); !strings.Contains(msg, "already used") {
		t.Fatalf("error for a used recovery code: %q", msg)
	}

	// 10. The operator sees the factors, and can remove one.
	out, errOut, code := s.cli("", "user", "factors", "ada@example.com", "--json")
	var factors []struct{ ID, Kind, Name string }
	if code != 0 || json.Unmarshal([]byte(out), &factors) != nil || len(factors) != 3 {
		t.Fatalf("user factors: %d %s %s", code, out, errOut)
	}
	out, _, code = s.cli("", "user", "factors", "ada@example.com")
	if code != 0 || !strings.Contains(out, "Test laptop") || !strings.Contains(out, "9 of 10 left") {
		t.Fatalf("user factors: %d\n%s", code, out)
	}
	out, errOut, code = s.cli("", "user", "remove-factor", "ada@example.com", "totp")
	if code != 0 || !strings.Contains(out, "Removed totp") {
		t.Fatalf("remove-factor: %d %s %s", code, out, errOut)
	}
	if _, errOut, code = s.cli("", "user", "remove-factor", "ada@example.com", "totp"); code != 1 || !strings.Contains(errOut, "no factor totp") {
		t.Fatalf("removing it again: %d %s", code, errOut)
	}
}

type auditEvent struct {
	Kind    string            `json:"kind"`
	Details map[string]string `json:"details"`
}

// lastAudit returns the newest audit event of kind, read with the CLI.
func lastAudit(t *testing.T, s *server, kind string) auditEvent {
	t.Helper()
	out, errOut, code := s.cli("", "audit", "--json", "--limit", "1000")
	var evs []auditEvent
	if code != 0 || json.Unmarshal([]byte(out), &evs) != nil {
		t.Fatalf("audit: %d %s", code, errOut)
	}
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == kind {
			return evs[i]
		}
	}
	t.Fatalf("no %s event", kind)
	return auditEvent{}
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}

// TestPasskeyConfigErrors checks that a bad relying party setting is
// refused at start with the field named.
func TestPasskeyConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "assent.yaml")
	os.WriteFile(cfg, []byte("issuer: https://login.example.com\npasskey_rp_id: 10.0.0.1\npasskey_origins: [\"https://evil.test\"]\n"), 0o600)
	out, err := exec.Command(filepath.Join(bin, "assentd"), "-config", cfg, "-data", filepath.Join(dir, "data")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "passkey_rp_id") {
		t.Fatalf("bad RP ID accepted: %v %s", err, out)
	}
	os.WriteFile(cfg, []byte("issuer: https://login.example.com\npasskey_rp_id: example.com\npasskey_origins: [\"https://evil.test\", \"https://login.example.com/path\"]\n"), 0o600)
	out, err = exec.Command(filepath.Join(bin, "assentd"), "-config", cfg, "-data", filepath.Join(dir, "data")).CombinedOutput()
	if err == nil || strings.Count(string(out), "passkey_origins") != 2 {
		t.Fatalf("bad origins: %v %s", err, out)
	}
}
