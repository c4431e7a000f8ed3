package authserver

import (
	"encoding/json"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/push/deviceclient"
)

var mailedCodeRE = regexp.MustCompile(`\b([A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5}-[A-Z2-7]{5})\b`)

// TestAdminEnrollmentCodeByMail: with "send": "email" the operator never
// sees the code; the user gets it (and its QR code) by mail through a real
// SMTP server and enrolls their app with it.
func TestAdminEnrollmentCodeByMail(t *testing.T) {
	m := newMailEnv(t)
	ctx := t.Context()
	if _, err := m.profiles.Create(ctx, profiles.NewUser{Email: "ada@example.com", Name: "Ada", Password: password, EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.profiles.Create(ctx, profiles.NewUser{Email: "bob@example.com", Password: password}); err != nil {
		t.Fatal(err)
	}
	r := m.admin("POST", "/admin/v1/users/ada@example.com/app-enrollments", map[string]any{"send": "email"})
	if r.status != http.StatusAccepted {
		t.Fatalf("mail enrollment: %d %s", r.status, r.body)
	}
	var ans map[string]any
	if err := json.Unmarshal([]byte(r.body), &ans); err != nil || ans["sent"] != "email" || ans["sent_to"] != "ada@example.com" || ans["expires_at"] == nil {
		t.Fatalf("answer = %s", r.body)
	}
	if _, ok := ans["code"]; ok || mailedCodeRE.MatchString(r.body) {
		t.Fatalf("the answer shows the code: %s", r.body)
	}
	if ev := m.lastEvent("app_device.enrollment_started"); ev.Actor != "admin" || ev.Details["sent"] != "email" {
		t.Errorf("audit = %+v", ev)
	}

	msg := m.waitMail(1)
	if msg.to != "ada@example.com" || msg.subject != "Your code to set up the app" {
		t.Fatalf("mail %q to %q", msg.subject, msg.to)
	}
	code := mailedCodeRE.FindStringSubmatch(msg.text)
	if code == nil {
		t.Fatalf("no code in:\n%s", msg.text)
	}
	mustContain(t, "mail", msg.text, "The code works once, until 12:10 UTC.")
	mustContain(t, "HTML part", msg.html, code[1])
	mustContain(t, "HTML part", msg.html, `src="data:image/png;base64,`)
	// The code and its QR, never anything else: no link in either part.
	if l := linkRE.FindAllString(msg.text+html.UnescapeString(strings.ReplaceAll(msg.html, `src="data:`, "")), -1); len(l) != 0 {
		t.Errorf("links in the enrollment mail: %v", l)
	}
	if _, err := deviceclient.Activate(ctx, nil, m.ts.URL, code[1], "Ada's phone", "cli"); err != nil {
		t.Fatalf("activate with the mailed code: %v", err)
	}

	// The old way still shows the code; bad requests change nothing.
	if r := m.admin("POST", "/admin/v1/users/ada@example.com/app-enrollments", nil); r.status != http.StatusCreated || !strings.Contains(r.body, `"code"`) {
		t.Errorf("shown enrollment: %d %s", r.status, r.body)
	}
	for _, tc := range []struct {
		user string
		body any
		want int
	}{
		{"ada@example.com", map[string]any{"send": "pigeon"}, http.StatusUnprocessableEntity},
		{"ada@example.com", map[string]any{"send": "email", "cc": "eve@example.com"}, http.StatusBadRequest},
		{"bob@example.com", map[string]any{"send": "email"}, http.StatusConflict}, // unverified address
		{"nobody@example.com", map[string]any{"send": "email"}, http.StatusNotFound},
	} {
		if r := m.admin("POST", "/admin/v1/users/"+tc.user+"/app-enrollments", tc.body); r.status != tc.want || !strings.Contains(r.header.Get("Content-Type"), "problem+json") {
			t.Errorf("%s %v: %d %s, want %d", tc.user, tc.body, r.status, r.body, tc.want)
		}
	}
	n := 0
	for _, msg := range m.smtp.Messages() {
		if !isNotice(parseMail(t, msg.Data)) {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d enrollment mails sent, want 1", n)
	}
}

// TestAdminEnrollmentMailWithoutSMTP: a server without mail says so.
func TestAdminEnrollmentMailWithoutSMTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if r := e.admin("POST", "/admin/v1/users", map[string]any{"email": "ada@example.com", "password": password}); r.status != http.StatusCreated {
		t.Fatal(r.body)
	}
	if r := e.admin("POST", "/admin/v1/users/ada@example.com/app-enrollments", map[string]any{"send": "email"}); r.status != http.StatusServiceUnavailable {
		t.Errorf("without SMTP: %d %s", r.status, r.body)
	}
}
