package authserver

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/profiles"
)

// TestRetention: unverified accounts past the limit and inactive ones are
// erased by the retention run, which reports what it did; others stay.
func TestRetention(t *testing.T) {
	t.Parallel()
	schema := testProfileSchema(t)
	schema.Retention = profiles.Retention{Unverified: 7 * 24 * time.Hour, Inactive: 365 * 24 * time.Hour}
	e := newProfilesEnv(t, schema)
	create := func(email string, unverified bool) {
		t.Helper()
		if r := e.admin("POST", "/admin/v1/users", map[string]any{"email": email, "password": password, "unverified": unverified}); r.status != http.StatusCreated {
			t.Fatalf("create %s: %d %s", email, r.status, r.body)
		}
	}
	create("old-unverified@example.com", true)
	create("dormant@example.com", false)
	create("active@example.com", false)
	e.clock.Advance(8 * 24 * time.Hour)
	create("new-unverified@example.com", true)
	b := e.browser()
	e.clock.Advance(360 * 24 * time.Hour)
	b.signIn("active@example.com", password)
	e.clock.Advance(10 * 24 * time.Hour) // dormant: 378 days without a sign-in; active: 10 days

	before := len(e.auditEvents())
	e.srv.purgeExpired(t.Context())
	for email, want := range map[string]bool{"old-unverified@example.com": false, "dormant@example.com": false,
		"active@example.com": true, "new-unverified@example.com": false} {
		_, err := e.profiles.GetByEmail(t.Context(), email)
		if (err == nil) != want {
			t.Errorf("%s: kept = %v, want %v", email, err == nil, want)
		}
	}
	// new-unverified is 370 days old by now: unverified past the limit too.
	evs := e.auditEvents()[before:]
	reasons := map[string]int{}
	for _, ev := range evs {
		if ev.Kind == "user.erased" {
			reasons[ev.Details["reason"]]++
			if !strings.HasPrefix(ev.Subject, "erased:") || ev.Details["via"] != "retention" {
				t.Errorf("erasure event = %+v", ev)
			}
		}
	}
	if reasons["unverified"] != 2 || reasons["inactive"] != 1 {
		t.Errorf("erased by reason = %v, want 2 unverified and 1 inactive", reasons)
	}
	sum := e.lastEvent("retention.completed")
	if sum.Details["checked"] != "4" || sum.Details["unverified"] != "2" || sum.Details["inactive"] != "1" {
		t.Errorf("report = %+v", sum.Details)
	}
	// A second run finds nothing more.
	e.srv.purgeExpired(t.Context())
	if sum := e.lastEvent("retention.completed"); sum.Details["checked"] != "1" || sum.Details["unverified"] != "0" {
		t.Errorf("second report = %+v", sum.Details)
	}
}
