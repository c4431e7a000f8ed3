package authserver

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestSessionsPageSignsOutOthers: the account's sessions page lists each
// browser signed in, this one first, and signs out every other one.
func TestSessionsPageSignsOutOthers(t *testing.T) {
	e := newEnv(t)
	home := e.browser()
	home.signUp("ada@example.com", "correct horse battery")
	e.clock.Advance(time.Minute)
	phone := e.browser()
	wantSignedIn(t, "second browser", phone.signIn("ada@example.com", "correct horse battery"))

	page := home.get("/account/sessions")
	if page.status != http.StatusOK {
		t.Fatalf("sessions page: %d", page.status)
	}
	if n := strings.Count(page.body, `<li class="factor`); n != 2 {
		t.Errorf("sessions listed: %d, want 2", n)
	}
	if i, j := strings.Index(page.body, "factor current"), strings.Index(page.body, `class="factor"`); i < 0 || j < i {
		t.Errorf("this browser is not listed first")
	}
	if strings.Contains(page.body, "id_hash") {
		t.Error("session ids on the page")
	}

	r := home.submit("/account/sessions", "/account/sessions/signout-others", url.Values{})
	wantRedirect(t, "sign out others", r, "/account/sessions?done=signed_out")
	if r := phone.get("/account"); r.status != http.StatusSeeOther {
		t.Errorf("the other browser is still signed in: %d", r.status)
	}
	if r := home.get("/account"); r.status != http.StatusOK {
		t.Errorf("this browser was signed out too: %d", r.status)
	}
	if ev := e.lastEvent("sessions.signed_out_others"); ev.Details["sessions"] != "1" {
		t.Errorf("audit = %+v", ev)
	}
	mustContain(t, "sessions page", home.get("/account/sessions").body, "You are signed in only here.")
}
