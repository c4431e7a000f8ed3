package authserver

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/profiles"
)

func testProfileSchema(t *testing.T) *profiles.Schema {
	t.Helper()
	s := &profiles.Schema{
		Purposes: []profiles.Purpose{
			{Name: "marketing_email", Description: "News and offers by e-mail", Version: "2025-01"},
			{Name: "profiling", Description: "Recommendations from your interests", Version: "1"},
		},
		Attributes: []profiles.Attribute{
			{Name: "given_name", Label: "Given name", Type: profiles.TypeString, Scope: "profile_ext", Claim: "given_name"},
			{Name: "phone", Label: "Mobile", Type: profiles.TypePhone, Sensitivity: profiles.SensitivityMedium, Purposes: []string{"marketing_email"}},
			{Name: "tier", Type: profiles.TypeEnum, Values: []string{"basic", "gold"}},
			{Name: "interests", Label: "Interests", Type: profiles.TypeMultiSelect, Values: []string{"ski", "golf", "sail"},
				Scope: "interests", Claim: "interests", Purposes: []string{"profiling"}},
			{Name: "national_id", Type: profiles.TypeString, Sensitivity: profiles.SensitivityHigh},
		},
		Prompts: []profiles.PromptRule{
			{Attributes: []string{"phone"}, OnSignIn: 2},
			{Attributes: []string{"interests"}, Scope: "interests"},
		},
	}
	if err := s.Validate(); err != nil {
		t.Fatal(err)
	}
	return s
}

func newProfilesEnv(t *testing.T, schema *profiles.Schema) *env {
	t.Helper()
	e := &env{t: t, dir: t.TempDir(), clock: newClock(), master: newEnvMaster(), schema: schema}
	e.start(withClients(oidcprovider.ClientConfig{ID: "web", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true}))
	return e
}

func newEnvMaster() []byte { return []byte("0123456789abcdef0123456789abcdef") }

func decodeProblem(t *testing.T, r response) Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json (%d %s)", ct, r.status, r.body)
	}
	var p Problem
	if err := json.Unmarshal([]byte(r.body), &p); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestProfileAdminAttributes(t *testing.T) {
	t.Parallel()
	e := newProfilesEnv(t, testProfileSchema(t))
	r := e.admin("POST", "/admin/v1/users", map[string]any{"email": "ada@example.com", "password": password})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	path := "/admin/v1/users/ada@example.com/attributes"

	// Every bad field at once, as RFC 9457 field errors; nothing stored.
	r = e.admin("PATCH", path, map[string]any{"attributes": map[string]any{
		"phone": "12", "tier": "platinum", "shoe_size": "42", "interests": []string{"ski", "chess"}, "given_name": 7,
	}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad PATCH: %d %s", r.status, r.body)
	}
	p := decodeProblem(t, r)
	if len(p.Errors) != 1 || p.Errors[0].Field != "attributes.given_name" || p.Errors[0].Code != "type" {
		t.Errorf("wrong-type problem = %+v", p)
	}
	r = e.admin("PATCH", path, map[string]any{"attributes": map[string]any{
		"phone": "12", "tier": "platinum", "shoe_size": "42", "interests": []string{"ski", "chess"},
	}})
	p = decodeProblem(t, r)
	got := map[string]string{}
	for _, fe := range p.Errors {
		got[fe.Field] = fe.Code
		if fe.Detail == "" {
			t.Errorf("field error %+v has no detail", fe)
		}
	}
	want := map[string]string{"attributes.phone": "invalid", "attributes.tier": "not_allowed", "attributes.shoe_size": "unknown", "attributes.interests": "not_allowed"}
	if r.status != http.StatusUnprocessableEntity || len(got) != len(want) {
		t.Fatalf("problem = %d %+v, want %v", r.status, p, want)
	}
	for f, c := range want {
		if got[f] != c {
			t.Errorf("field %s: code %q, want %q", f, got[f], c)
		}
	}
	if r := e.admin("GET", path, nil); strings.Contains(r.body, "platinum") || !strings.Contains(r.body, `"attributes": {}`) {
		t.Errorf("a rejected PATCH stored something: %s", r.body)
	}
	for _, body := range []string{`{"attributes": {}}`, `{"attributes": {"tier": "gold"}, "extra": 1}`, `[`} {
		if r := e.admin("PATCH", path, body); r.status/100 != 4 {
			t.Errorf("PATCH %s = %d", body, r.status)
		}
	}

	r = e.admin("PATCH", path, map[string]any{"attributes": map[string]any{
		"phone": "+358 40 123 4567", "tier": "gold", "interests": []string{"sail", "ski"}, "national_id": "010190-123A",
	}})
	if r.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	var attrs struct {
		Attributes map[string]any                 `json:"attributes"`
		Collected  map[string]profiles.Collection `json:"collected"`
	}
	json.Unmarshal([]byte(r.body), &attrs)
	if attrs.Attributes["phone"] != "+358401234567" || attrs.Attributes["national_id"] != "010190-123A" ||
		!slices.Equal(toStrings(attrs.Attributes["interests"]), []string{"ski", "sail"}) || attrs.Collected["tier"].Channel != "admin" {
		t.Errorf("attributes = %+v", attrs)
	}
	// The user record shows high-sensitivity values redacted.
	r = e.admin("GET", "/admin/v1/users/ada@example.com", nil)
	if strings.Contains(r.body, "010190-123A") || !strings.Contains(r.body, "[redacted]") || !strings.Contains(r.body, "+358401234567") {
		t.Errorf("user record: %s", r.body)
	}
	r = e.admin("GET", "/admin/v1/users?limit=10", nil)
	if strings.Contains(r.body, "010190-123A") {
		t.Errorf("user list shows a high-sensitivity value: %s", r.body)
	}
	// null removes.
	r = e.admin("PATCH", path, map[string]any{"attributes": map[string]any{"tier": nil}})
	if r.status != http.StatusOK || strings.Contains(r.body, `"gold"`) {
		t.Errorf("remove: %d %s", r.status, r.body)
	}
	if r := e.admin("GET", "/admin/v1/profile-schema", nil); !strings.Contains(r.body, `"marketing_email"`) {
		t.Errorf("schema: %s", r.body)
	}
	if r := e.admin("GET", "/admin/v1/users/nobody@example.com/attributes", nil); r.status != http.StatusNotFound {
		t.Errorf("unknown user: %d", r.status)
	}
	if ev := e.lastEvent("profile.updated"); ev.Details["channel"] != "admin" {
		t.Errorf("audit = %+v", ev)
	}
}

func toStrings(v any) []string {
	var out []string
	l, _ := v.([]any)
	for _, x := range l {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// TestConsentGatesClaims: the same client gets the claim after consent
// and not after withdrawal, in the ID token and from userinfo.
func TestConsentGatesClaims(t *testing.T) {
	t.Parallel()
	schema := testProfileSchema(t)
	schema.Prompts = nil
	e := newProfilesEnv(t, schema)
	b := e.browser()
	b.signUp("ada@example.com", password)

	// The profile page: a bad value is shown with a clear message.
	r := b.submit("/account/profile", "/account/profile", url.Values{"attr.given_name": {"Ada"}, "attr.interests": {"ski", "chess"}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad profile: %d", r.status)
	}
	mustContain(t, "profile page", r.body, "Choose only listed values.")
	r = b.submit("/account/profile", "/account/profile", url.Values{"attr.given_name": {"Ada"}, "attr.interests": {"golf", "ski"}})
	wantRedirect(t, "save profile", r, "/account/profile?done=saved")
	mustContain(t, "profile page", b.get("/account/profile").body, `value="golf" checked`)

	p := e.rp("web", "profile_ext", "interests")
	verifier := oauth2.GenerateVerifier()
	flow := func(state string) (map[string]any, map[string]any) {
		t.Helper()
		u, _ := b.authorize(p.cfg.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)))
		tok, idt, _ := p.exchange(callbackOf(t, u, state).Get("code"), verifier)
		var idc map[string]any
		idt.Claims(&idc)
		ui, err := p.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		var uic map[string]any
		ui.Claims(&uic)
		return idc, uic
	}
	idc, uic := flow("s1")
	for what, c := range map[string]map[string]any{"ID token": idc, "userinfo": uic} {
		if c["given_name"] != "Ada" {
			t.Errorf("%s before consent: given_name = %v (needs no consent)", what, c["given_name"])
		}
		if _, ok := c["interests"]; ok {
			t.Errorf("%s before consent releases interests: %v", what, c)
		}
	}

	r = b.submit("/account/profile", "/account/consents", url.Values{"consent.profiling": {"yes"}})
	wantRedirect(t, "consent", r, "/account/profile?done=consents")
	idc, uic = flow("s2")
	for what, c := range map[string]map[string]any{"ID token": idc, "userinfo": uic} {
		if !slices.Equal(toStrings(c["interests"]), []string{"ski", "golf"}) {
			t.Errorf("%s after consent: interests = %v", what, c["interests"])
		}
	}

	r = b.submit("/account/profile", "/account/consents", url.Values{})
	wantRedirect(t, "withdraw", r, "/account/profile?done=consents")
	idc, uic = flow("s3")
	for what, c := range map[string]map[string]any{"ID token": idc, "userinfo": uic} {
		if _, ok := c["interests"]; ok {
			t.Errorf("%s after withdrawal releases interests: %v", what, c)
		}
	}

	// The history is kept and the admin API lists it.
	r = e.admin("GET", "/admin/v1/users/ada@example.com/consents", nil)
	var cs struct {
		Consents []profiles.ConsentState `json:"consents"`
		History  []struct {
			Purpose, Channel, Version string
			Granted                   bool
		} `json:"history"`
	}
	json.Unmarshal([]byte(r.body), &cs)
	if len(cs.History) != 2 || !cs.History[0].Granted || cs.History[1].Granted || cs.History[0].Channel != "account" || cs.History[0].Version != "1" {
		t.Errorf("consent history = %+v", cs.History)
	}
	if len(cs.Consents) != 2 || cs.Consents[1].Granted {
		t.Errorf("consent states = %+v", cs.Consents)
	}
	mustContain(t, "profile page", b.get("/account/profile").body, "withdrawn")
	if ev := e.lastEvent("consent.withdrawn"); ev.Details["purpose"] != "profiling" {
		t.Errorf("audit = %+v", ev)
	}
	// Discovery advertises the profile scopes and claims.
	d := e.browser().get("/.well-known/openid-configuration").body
	mustContain(t, "discovery", d, `"interests"`)
	mustContain(t, "discovery", d, `"given_name"`)
}

// TestProgressiveProfiling: one question card on the second sign-in, one
// when a client requests a scope whose claims are missing; skippable
// unless required.
func TestProgressiveProfiling(t *testing.T) {
	t.Parallel()
	e := newProfilesEnv(t, testProfileSchema(t))
	b := e.browser()
	b.signUp("ada@example.com", password) // sign-in 1: nothing asked
	b.signOut()

	r := b.signIn("ada@example.com", password)
	loc := r.header.Get("Location")
	if r.status != http.StatusSeeOther || !strings.HasPrefix(loc, "/account/ask?rule=0&") {
		t.Fatalf("second sign-in went to %d %q, want the question card", r.status, loc)
	}
	page := b.get(loc)
	mustContain(t, "question card", page.body, `name="attr.phone"`)
	mustContain(t, "question card", page.body, "News and offers by e-mail") // what it is used for, and consent
	mustContain(t, "question card", page.body, `name="skip"`)
	r = b.submit(loc, "/account/ask", url.Values{"rule": {"0"}, "return_to": {"/account?asked=1"}, "skip": {"1"}})
	wantRedirect(t, "skip", r, "/account?asked=1")

	// A scope whose claim is missing: the card comes before the code.
	p := e.rp("web", "interests")
	verifier := oauth2.GenerateVerifier()
	u, page := b.authorize(p.cfg.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier)))
	if u.Path != "/account/ask" || u.Query().Get("rule") != "1" {
		t.Fatalf("authorization went to %v, want the question card for rule 1", u)
	}
	mustContain(t, "question card", page.body, `name="consent.profiling"`)
	// A bad answer is refused with a clear message.
	r = b.submit(u.RequestURI(), "/account/ask", url.Values{"rule": {"1"}, "return_to": {u.Query().Get("return_to")}, "attr.interests": {"chess"}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("bad answer: %d", r.status)
	}
	mustContain(t, "question card", r.body, "Choose only listed values.")
	r = b.submit(u.RequestURI(), "/account/ask", url.Values{"rule": {"1"}, "return_to": {u.Query().Get("return_to")},
		"attr.interests": {"sail"}, "consent.profiling": {"yes"}})
	if r.status != http.StatusSeeOther || !strings.HasPrefix(r.header.Get("Location"), "/oidc/resume?") {
		t.Fatalf("answer: %d %q", r.status, r.header.Get("Location"))
	}
	u, _ = b.authorize(e.ts.URL + r.header.Get("Location"))
	_, idt, _ := p.exchange(callbackOf(t, u, "s1").Get("code"), verifier)
	var c map[string]any
	idt.Claims(&c)
	if !slices.Equal(toStrings(c["interests"]), []string{"sail"}) {
		t.Errorf("ID token after answering: interests = %v", c["interests"])
	}
	ident, _ := e.profiles.GetByEmail(t.Context(), "ada@example.com")
	if col := ident.Collected["interests"]; col.Channel != profiles.ChannelPrompt || col.At.IsZero() {
		t.Errorf("collected = %+v", col)
	}
	// Answered: the next authorization asks nothing.
	u, _ = b.authorize(p.cfg.AuthCodeURL("s2", oauth2.S256ChallengeOption(verifier)))
	callbackOf(t, u, "s2")

	// A required rule cannot be skipped and holds up the client.
	schema := testProfileSchema(t)
	schema.Prompts = []profiles.PromptRule{{Attributes: []string{"given_name"}, Scope: "profile_ext", Required: true}}
	e2 := newProfilesEnv(t, schema)
	b2 := e2.browser()
	b2.signUp("bob@example.com", password)
	p2 := e2.rp("web", "profile_ext")
	u, page = b2.authorize(p2.cfg.AuthCodeURL("s1", oauth2.S256ChallengeOption(verifier)))
	if u.Path != "/account/ask" {
		t.Fatalf("went to %v", u)
	}
	if strings.Contains(page.body, `name="skip"`) {
		t.Error("a required card offers to skip")
	}
	back := u.Query().Get("return_to")
	r = b2.submit(u.RequestURI(), "/account/ask", url.Values{"rule": {"0"}, "return_to": {back}, "skip": {"1"}})
	if r.status != http.StatusUnprocessableEntity {
		t.Errorf("skipping a required card: %d", r.status)
	}
	// Going around the card does not complete the request either.
	u, _ = b2.authorize(e2.ts.URL + back)
	if u.Path != "/account/ask" {
		t.Errorf("going around a required card reached %v", u)
	}
	r = b2.submit(u.RequestURI(), "/account/ask", url.Values{"rule": {"0"}, "return_to": {back}, "attr.given_name": {"Bob"}})
	u, _ = b2.authorize(e2.ts.URL + r.header.Get("Location"))
	callbackOf(t, u, "s1")
}

func TestExportAndErase(t *testing.T) {
	t.Parallel()
	e := newProfilesEnv(t, testProfileSchema(t))
	b := e.browser()
	b.signUp("ada@example.com", password)
	other := e.browser()
	other.signUp("bob@example.com", password)
	b.submit("/account/profile", "/account/profile", url.Values{"attr.given_name": {"Ada"}, "attr.phone": {"+358401234567"}})
	b.submit("/account/profile", "/account/consents", url.Values{"consent.marketing_email": {"yes"}})
	ident, _ := e.profiles.GetByEmail(t.Context(), "ada@example.com")

	r := b.get("/account/export")
	if r.status != http.StatusOK || !strings.Contains(r.header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("export: %d %v", r.status, r.header)
	}
	var x profiles.Export
	if err := json.Unmarshal([]byte(r.body), &x); err != nil {
		t.Fatal(err)
	}
	if x.Identity.Email != "ada@example.com" || x.Identity.Attributes["phone"] != "+358401234567" || len(x.ConsentHistory) != 1 ||
		len(x.Sessions) != 1 || len(x.SignIns) != 1 || len(x.AuditEvents) == 0 {
		t.Errorf("export = %+v", x)
	}
	for _, secret := range []string{"password_hash", "$argon2id", "id_hash", "wrapped_key"} {
		if strings.Contains(r.body, secret) {
			t.Errorf("export holds %s", secret)
		}
	}
	if r := e.admin("GET", "/admin/v1/users/ada@example.com/export", nil); r.status != http.StatusOK || !strings.Contains(r.body, `"marketing_email"`) {
		t.Errorf("admin export: %d", r.status)
	}

	// Deleting needs the address typed.
	r = b.submit("/account/profile", "/account/delete", url.Values{"confirm": {"bob@example.com"}})
	if r.status != http.StatusUnprocessableEntity {
		t.Fatalf("delete with the wrong address: %d", r.status)
	}
	mustContain(t, "profile page", r.body, "Type the e-mail address of this account")
	// An old sign-in cannot erase: a session left open is not enough.
	e.clock.Advance(11 * time.Minute)
	r = b.submit("/account/profile", "/account/delete", url.Values{"confirm": {"Ada@Example.com"}})
	if r.status != http.StatusForbidden {
		t.Fatalf("delete on an old sign-in: %d", r.status)
	}
	mustContain(t, "profile page", r.body, "sign in again")
	b.signOut()
	b.signIn("ada@example.com", password)
	before := len(e.auditEvents())
	r = b.submit("/account/profile", "/account/delete", url.Values{"confirm": {"Ada@Example.com"}})
	wantRedirect(t, "delete", r, "/signin?erased=1")
	mustContain(t, "sign-in page", b.get("/signin?erased=1").body, "Your account and its data are deleted.")
	wantRedirect(t, "account after erasure", b.get("/account"), "/signin?return_to=%2Faccount")
	if r := e.admin("GET", "/admin/v1/users/ada@example.com", nil); r.status != http.StatusNotFound {
		t.Errorf("user after erasure: %d", r.status)
	}
	evs := e.auditEvents()
	if len(evs) != before+1 || evs[len(evs)-1].Kind != "user.erased" {
		t.Errorf("audit: %d events before, %d after (last %+v); want one more, user.erased", before, len(evs), evs[len(evs)-1])
	}
	for _, ev := range evs {
		if ev.Actor == ident.ID || ev.Subject == ident.ID {
			t.Errorf("event %d still names the user: %+v", ev.Seq, ev)
		}
	}
	// The other user is untouched; an admin erasure works the same way.
	if r := e.admin("POST", "/admin/v1/users/bob@example.com/erase", nil); r.status != http.StatusOK || !strings.Contains(r.body, `"erased": true`) {
		t.Errorf("admin erase: %d %s", r.status, r.body)
	}
	if r := e.admin("POST", "/admin/v1/users/bob@example.com/erase", nil); r.status != http.StatusNotFound {
		t.Errorf("second admin erase: %d", r.status)
	}
	_ = gooidc.ScopeOpenID
}
