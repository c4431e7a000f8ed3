package authserver

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/store"
)

// behindProxy trusts the loopback peer, so tests can sign in "from"
// addresses around the world with X-Forwarded-For.
func behindProxy(c *Config) {
	c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}
}

func (b *browser) signInFrom(ip, email, password string) response {
	b.t.Helper()
	r := b.get("/signin")
	m := csrfRE.FindStringSubmatch(r.body)
	form := url.Values{"csrf": {m[1]}, "email": {email}, "password": {password}}
	req, _ := http.NewRequest("POST", b.e.ts.URL+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Forwarded-For", ip)
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36")
	return b.do(req)
}

// lastAssessment returns the newest risk.assessed audit event.
func (e *env) lastAssessment() store.AuditEvent {
	e.t.Helper()
	evs := e.auditEvents()
	for i := len(evs) - 1; i >= 0; i-- {
		if evs[i].Kind == "risk.assessed" {
			return evs[i]
		}
	}
	e.t.Fatal("no risk.assessed event")
	return store.AuditEvent{}
}

func TestRiskNewDeviceAndCountry(t *testing.T) {
	e := newEnv(t, behindProxy)
	const email, pw = "riku@example.com", "rikus passphrase"
	if _, err := e.profiles.Create(t.Context(), profiles.NewUser{Email: email, Password: pw}); err != nil {
		t.Fatal(err)
	}
	home := e.browser()

	// First sign-in ever, from Finland, on a new browser: challenged for the
	// unknown device. With no second factor to step up to, the default
	// policy lets the user in, sends a security notice and nudges them to
	// add a passkey.
	r := home.signInFrom("193.166.3.1", email, pw)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account?nudge=add_passkey" {
		t.Fatalf("first sign-in: %d %q", r.status, r.header.Get("Location"))
	}
	a := e.lastAssessment()
	if a.Details["decision"] != "challenge" || !strings.Contains(a.Details["reason_codes"], "unknown_device") || a.Details["country"] != "FI" {
		t.Errorf("first assessment = %+v", a.Details)
	}
	if !strings.Contains(strings.Join(e.auditKinds(), " "), "security.notice") {
		t.Error("no security notice recorded")
	}
	if r := home.get("/account?nudge=add_passkey"); !strings.Contains(r.body, "Add a passkey") {
		t.Error("account page does not nudge to add a passkey")
	}

	// The same browser a day later from home: the device is now known.
	e.clock.Advance(24 * time.Hour)
	r = home.signInFrom("193.166.3.1", email, pw)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" {
		t.Fatalf("sign-in from the known device: %d %q", r.status, r.header.Get("Location"))
	}
	if a := e.lastAssessment(); a.Details["decision"] != "allow" {
		t.Errorf("known device assessment = %+v", a.Details)
	}

	// Ten minutes later, a new browser in the United States: new device,
	// new country, impossible travel. Denied, with the same answer as a
	// wrong password, and the reasons in the audit log.
	e.clock.Advance(10 * time.Minute)
	thief := e.browser()
	r = thief.signInFrom("8.8.8.8", email, pw)
	if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "not right") {
		t.Fatalf("impossible-travel sign-in: %d", r.status)
	}
	if r := thief.get("/account"); r.status != http.StatusSeeOther {
		t.Errorf("the denied browser has a session: %d", r.status)
	}
	a = e.lastAssessment()
	for _, code := range []string{"unknown_device", "new_country", "impossible_travel"} {
		if !strings.Contains(a.Details["reason_codes"], code) {
			t.Errorf("reasons %q lack %s", a.Details["reason_codes"], code)
		}
	}
	if a.Details["decision"] != "deny" || a.Details["policy_version"] == "" {
		t.Errorf("assessment = %+v", a.Details)
	}
	var reasons []risk.Reason
	if err := json.Unmarshal([]byte(a.Details["reasons"]), &reasons); err != nil || len(reasons) < 3 || reasons[0].Detail == "" {
		t.Errorf("reasons = %v, %v", reasons, err)
	}

	// The operator sees the same story through the admin API.
	resp := e.admin("GET", "/admin/v1/users/"+email+"/risk?limit=5", nil)
	if resp.status != http.StatusOK || !strings.Contains(resp.body, "impossible_travel") || !strings.Contains(resp.body, `"decision": "deny"`) {
		t.Errorf("admin risk: %d %s", resp.status, resp.body)
	}
}

func TestRiskDenyListedNetworkBeforePassword(t *testing.T) {
	src := strings.Replace(string(risk.DefaultPolicyYAML()), "deny: []", "deny: [203.0.113.0/24]", 1)
	src = strings.Replace(src, `version: "assent-default-1"`, `version: "test-deny"`, 1)
	p, err := risk.LoadPolicy([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, behindProxy, func(c *Config) { c.RiskPolicy = p })
	e.profiles.Create(t.Context(), profiles.NewUser{Email: "sam@example.com", Password: "sams passphrase"})
	good := e.browser().signInFrom("203.0.113.9", "sam@example.com", "sams passphrase")
	unknown := e.browser().signInFrom("203.0.113.9", "nobody@example.com", "sams passphrase")
	if good.status != http.StatusUnauthorized || unknown.status != http.StatusUnauthorized {
		t.Fatalf("deny-listed network: %d / %d, want 401 both", good.status, unknown.status)
	}
	for _, ev := range e.auditEvents() {
		if ev.Kind == "signin.succeeded" || ev.Kind == "signin.failed" {
			t.Errorf("a password was checked from a denied network: %+v", ev)
		}
		if ev.Kind == "signin.denied" && ev.Subject != "" {
			t.Errorf("a pre-password denial names an account: %+v", ev)
		}
	}
	if r := e.admin("GET", "/admin/v1/risk/policy", nil); !strings.Contains(r.body, `"version": "test-deny"`) || !strings.Contains(r.body, "203.0.113.0/24") {
		t.Errorf("risk policy: %s", r.body)
	}
}

func TestLowRiskSkipsSecondFactorOnKnownDevice(t *testing.T) {
	e := newEnv(t, withPasskeys)
	b := e.browser()
	b.signUp("ada@example.com", "correct horse battery")
	b.enrollTOTP()
	b.signOut()

	// Two hours later on the same browser: the device is known, the risk
	// is low, and the password is enough; the session says so with "rba".
	e.clock.Advance(2 * time.Hour)
	wantRedirect(t, "known device", b.signIn("ada@example.com", "correct horse battery"), "/account")
	if ev := e.lastEvent("signin.succeeded"); ev.Details["amr"] != "pwd rba" || ev.Details["risk_decision"] != "allow" {
		t.Errorf("signin.succeeded = %+v", ev.Details)
	}

	// A new browser is an unknown device: the second factor is asked for.
	other := e.browser()
	wantRedirect(t, "new device", other.signIn("ada@example.com", "correct horse battery"), "/signin/factor")
	if a := e.lastAssessment(); a.Details["decision"] != "challenge" || !strings.Contains(a.Details["reason_codes"], "unknown_device") {
		t.Errorf("assessment = %+v", a.Details)
	}
	if r := other.get("/account"); r.status != http.StatusSeeOther {
		t.Errorf("a password alone gave the new browser a session: %d", r.status)
	}
}
