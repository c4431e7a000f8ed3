package authserver

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/risk"
)

// TestAdminAssessRisk scores what-if events against a user's real history
// and records nothing.
func TestAdminAssessRisk(t *testing.T) {
	e := newEnv(t, behindProxy)
	const email, pw = "riku@example.com", "rikus passphrase"
	ident, err := e.profiles.Create(t.Context(), profiles.NewUser{Email: email, Password: pw})
	if err != nil {
		t.Fatal(err)
	}
	if r := e.browser().signInFrom("193.166.3.1", email, pw); r.status != http.StatusSeeOther {
		t.Fatalf("sign-in from Finland: %d", r.status)
	}
	before := len(e.auditEvents())

	type answer struct {
		UserID     string          `json:"user_id"`
		DryRun     bool            `json:"dry_run"`
		Assessment risk.Assessment `json:"assessment"`
	}
	assess := func(body any) answer {
		t.Helper()
		r := e.admin("POST", "/admin/v1/users/"+email+"/risk/assess", body)
		var a answer
		if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &a) != nil {
			t.Fatalf("assess %v: %d %s", body, r.status, r.body)
		}
		if a.UserID != ident.ID || !a.DryRun || a.Assessment.PolicyVersion == "" {
			t.Errorf("answer %+v", a)
		}
		return a
	}
	codes := func(a risk.Assessment) []risk.Code {
		var cs []risk.Code
		for _, r := range a.Reasons {
			cs = append(cs, r.Code)
		}
		return cs
	}

	// From home, on a browser never seen: the unknown device alone.
	a := assess(map[string]any{"ip": "193.166.3.1"}).Assessment
	if a.Decision != risk.DecisionChallenge || !slices.Equal(codes(a), []risk.Code{risk.CodeUnknownDevice}) {
		t.Errorf("from home: %s %v", a.Decision, codes(a))
	}
	// A moment later from the United States: a new country, impossible
	// travel, denied.
	a = assess(map[string]any{"kind": "login", "ip": "8.8.8.8"}).Assessment
	if a.Decision != risk.DecisionDeny || !a.Has(risk.CodeNewCountry) || !a.Has(risk.CodeImpossibleTravel) {
		t.Errorf("from the US: %s %v", a.Decision, codes(a))
	}
	// A first payment of EUR 2,500: an amount anomaly.
	a = assess(map[string]any{"kind": "payment", "ip": "193.166.3.1",
		"payment": map[string]any{"amount": 250000, "currency": "eur", "payee": "FI2112345600000785"}}).Assessment
	if !a.Has(risk.CodeAmountAnomaly) || a.Decision == risk.DecisionAllow {
		t.Errorf("payment: %s %v", a.Decision, codes(a))
	}

	for _, tc := range []struct {
		path   string
		body   string
		status int
	}{
		{"/admin/v1/users/" + email + "/risk/assess", `{"ip":"not an address"}`, http.StatusUnprocessableEntity},
		{"/admin/v1/users/" + email + "/risk/assess", `{"ip":"193.166.3.1","kind":"teleport"}`, http.StatusUnprocessableEntity},
		{"/admin/v1/users/" + email + "/risk/assess", `{"ip":"193.166.3.1","kind":"payment"}`, http.StatusUnprocessableEntity},
		{"/admin/v1/users/" + email + "/risk/assess", `{"ip":"193.166.3.1","extra":1}`, http.StatusBadRequest},
		{"/admin/v1/users/nobody@example.com/risk/assess", `{"ip":"193.166.3.1"}`, http.StatusNotFound},
	} {
		r := e.admin("POST", tc.path, tc.body)
		if r.status != tc.status || r.header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s %s: %d %s, want a %d problem", tc.path, tc.body, r.status, r.body, tc.status)
		}
	}
	req, _ := http.NewRequest("POST", e.ts.URL+"/admin/v1/users/"+email+"/risk/assess", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("without the admin token: %d", resp.StatusCode)
	}

	if after := len(e.auditEvents()); after != before {
		t.Errorf("a dry run recorded %d audit events", after-before)
	}
}
