package authserver

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/assent-auth/assent/push/deviceclient"
)

// TestCIBAUserCode: a client registered with
// backchannel_user_code_parameter (through the admin API) must send the
// user's user code: missing_user_code without one, invalid_user_code for
// a wrong one, for a user who has none and for an unknown user alike, and
// for every code after five wrong ones; with the right code the request
// reaches the user's app. Discovery advertises the parameter.
func TestCIBAUserCode(t *testing.T) {
	w := newCIBAWorld(t)
	e := w.e
	r := e.admin("POST", "/admin/v1/clients", map[string]any{"id": "bank", "ciba_mode": "poll", "backchannel_user_code_parameter": true})
	if r.status != http.StatusCreated || !strings.Contains(r.body, `"backchannel_user_code_parameter": true`) {
		t.Fatalf("create client: %d %s", r.status, r.body)
	}
	var secret struct {
		Secret string `json:"secret"`
	}
	if err := json.Unmarshal([]byte(r.body), &secret); err != nil {
		t.Fatal(err)
	}
	bank := merchant{t: t, e: e, id: "bank", secret: secret.Secret}

	p, err := gooidc.NewProvider(t.Context(), e.ts.URL)
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		UserCode bool `json:"backchannel_user_code_parameter_supported"`
	}
	if err := p.Claims(&disc); err != nil || !disc.UserCode {
		t.Fatalf("discovery: %+v %v", disc, err)
	}

	start := func(hint, code string) cibaAnswer {
		f := url.Values{"login_hint": {hint}, "binding_message": {"Order 1"}}
		if code != "" {
			f.Set("user_code", code)
		}
		return bank.start(f)
	}
	wantOAuthError(t, "no user_code", start("ada@example.com", ""), 400, "missing_user_code")
	wantOAuthError(t, "a user without a code", start("ada@example.com", "Shop42"), 400, "invalid_user_code")
	wantOAuthError(t, "an unknown user", start("nobody@example.com", "Shop42"), 400, "invalid_user_code")
	// Clients not registered for it go on without one.
	if a := w.shop.start(url.Values{"login_hint": {"ada@example.com"}}); a.status != http.StatusOK {
		t.Fatalf("shop without user_code: %d %s", a.status, a.raw)
	}
	w.answer(t, deviceclient.Answer{})

	ada, err := e.profiles.GetByEmail(t.Context(), "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.profiles.SetUserCode(t.Context(), ada.ID, "Shop42"); err != nil {
		t.Fatal(err)
	}
	wantOAuthError(t, "a wrong code", start("ada@example.com", "Shop43"), 400, "invalid_user_code")
	a := start("ada@example.com", "Shop42")
	if a.status != http.StatusOK || a.str("auth_req_id") == "" {
		t.Fatalf("the right code: %d %s", a.status, a.raw)
	}
	if view := w.answer(t, deviceclient.Answer{}); !strings.Contains(view.RPName, "Order 1") {
		t.Errorf("the app got %+v", view)
	}

	// Guessing stops: after five wrong codes even the right one is refused.
	for range maxUserCodeFailures {
		start("ada@example.com", "Guess1")
	}
	wantOAuthError(t, "the right code after guesses", start("ada@example.com", "Shop42"), 400, "invalid_user_code")
	if ev := e.lastEvent("ciba.user_code_invalid"); ev.Details["client_id"] != "bank" {
		t.Errorf("audit: %+v", ev)
	}
}

// TestUserCodePage: the user sets, sees and removes their user code on the
// security page; a code outside the policy is refused with the field's
// message.
func TestUserCodePage(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.signUp("ada@example.com", password)
	for _, bad := range []string{"12", ""} {
		if r := b.submit("/security", "/security/user-code", url.Values{"code": {bad}}); r.status != http.StatusBadRequest {
			t.Fatalf("code %q: %d", bad, r.status)
		} else {
			mustContain(t, "refusal", r.body, "4 to 16 letters and digits")
		}
	}
	r := b.submit("/security", "/security/user-code", url.Values{"code": {"Shop42"}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/security?done=user_code_set" {
		t.Fatalf("set: %d %q", r.status, r.header.Get("Location"))
	}
	page := b.get("/security?done=user_code_set").body
	mustContain(t, "security page", page, `data-user-code="set"`)
	mustContain(t, "security page", page, "Approval request code saved.")
	ada, _ := e.profiles.GetByEmail(t.Context(), "ada@example.com")
	if ok, err := e.profiles.CheckUserCode(t.Context(), ada.ID, "Shop42"); err != nil || !ok {
		t.Fatalf("stored code: %v %v", ok, err)
	}
	if r := b.submit("/security", "/security/user-code", url.Values{"remove": {"1"}}); r.status != http.StatusSeeOther {
		t.Fatalf("remove: %d", r.status)
	}
	if strings.Contains(b.get("/security").body, `data-user-code="set"`) {
		t.Error("the page still shows a code after removing it")
	}
	if ok, _ := e.profiles.CheckUserCode(t.Context(), ada.ID, "Shop42"); ok {
		t.Error("the removed code still matches")
	}
}
