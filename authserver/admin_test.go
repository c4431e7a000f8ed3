package authserver

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

func TestAdminAuth(t *testing.T) {
	e := newEnv(t)
	for _, auth := range []string{"", "Bearer ", "Bearer wrong-token", "Basic " + testAdminToken, "Bearer " + testAdminToken + "x"} {
		req, _ := http.NewRequest("GET", e.ts.URL+"/admin/v1/users", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("Authorization %q: %d %s", auth, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	}
}

func TestAdminUserLifecycle(t *testing.T) {
	e := newEnv(t)
	r := e.admin("POST", "/admin/v1/users", map[string]any{"email": "Lea@Example.com", "name": "Lea", "password": "leas passphrase"})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var u struct {
		ID            string `json:"id"`
		Email         string `json:"email"`
		EmailVerified bool   `json:"email_verified"`
		HasPassword   bool   `json:"has_password"`
		Locked        bool   `json:"locked"`
	}
	json.Unmarshal([]byte(r.body), &u)
	if u.Email != "lea@example.com" || !u.EmailVerified || !u.HasPassword || u.ID == "" {
		t.Fatalf("created user = %+v", u)
	}
	if strings.Contains(r.body, "password_hash") || strings.Contains(r.body, "argon2") {
		t.Errorf("admin API leaks the password hash: %s", r.body)
	}
	for _, key := range []string{u.ID, "lea@example.com", "LEA@example.com"} {
		if r := e.admin("GET", "/admin/v1/users/"+key, nil); r.status != http.StatusOK || !strings.Contains(r.body, u.ID) {
			t.Errorf("get %s: %d", key, r.status)
		}
	}
	r = e.admin("POST", "/admin/v1/users", map[string]any{"email": "unverified@example.com", "unverified": true})
	if r.status != http.StatusCreated || !strings.Contains(r.body, `"email_verified": false`) {
		t.Errorf("create unverified: %d %s", r.status, r.body)
	}
	r = e.admin("GET", "/admin/v1/users?limit=1", nil)
	if r.status != http.StatusOK || !strings.Contains(r.body, `"next"`) {
		t.Errorf("list page 1: %d %s", r.status, r.body)
	}
	r = e.admin("PATCH", "/admin/v1/users/"+u.ID, map[string]any{"name": "Lea B."})
	if r.status != http.StatusOK || !strings.Contains(r.body, "Lea B.") {
		t.Errorf("patch: %d %s", r.status, r.body)
	}
	if r := e.admin("POST", "/admin/v1/users/"+u.ID+"/lock", nil); !strings.Contains(r.body, `"locked": true`) {
		t.Errorf("lock: %s", r.body)
	}
	if r := e.admin("DELETE", "/admin/v1/users/"+u.ID, nil); r.status != http.StatusNoContent {
		t.Errorf("delete: %d", r.status)
	}
	r = e.admin("GET", "/admin/v1/audit?after=0&limit=100", nil)
	for _, k := range []string{"user.created", "user.updated", "user.locked", "user.deleted"} {
		mustContain(t, "audit", r.body, `"kind": "`+k+`"`)
	}
	mustContain(t, "audit", r.body, `"actor": "admin"`)
}

func TestAdminBadInput(t *testing.T) {
	e := newEnv(t)
	e.admin("POST", "/admin/v1/users", map[string]any{"email": "taken@example.com"})
	countUsers := func() int {
		us, _ := e.db.ListUsers(t.Context(), "", 100)
		return len(us)
	}
	for _, tc := range []struct {
		name, method, path string
		body               any
		status             int
		field              string
	}{
		{"malformed JSON", "POST", "/admin/v1/users", `{"email":`, 400, ""},
		{"unknown field", "POST", "/admin/v1/users", `{"email":"a@example.com","admin":true}`, 400, ""},
		{"trailing data", "POST", "/admin/v1/users", `{"email":"a@example.com"} {}`, 400, ""},
		{"wrong type", "POST", "/admin/v1/users", `{"email":42}`, 400, ""},
		{"invalid UTF-8", "POST", "/admin/v1/users", []byte("{\"email\":\"a\xff@example.com\"}"), 400, ""},
		{"oversized body", "POST", "/admin/v1/users", `{"email":"` + strings.Repeat("a", 70<<10) + `"}`, 413, ""},
		{"not an e-mail", "POST", "/admin/v1/users", `{"email":"nope"}`, 422, "email"},
		{"html in e-mail", "POST", "/admin/v1/users", `{"email":"<b>@example.com"}`, 422, "email"},
		{"weak password", "POST", "/admin/v1/users", `{"email":"a@example.com","password":"12345678"}`, 422, "password"},
		{"password and hash", "POST", "/admin/v1/users", `{"email":"a@example.com","password":"a good passphrase","password_hash":"$2b$04$x"}`, 422, "password_hash"},
		{"bad legacy hash", "POST", "/admin/v1/users", `{"email":"a@example.com","password_hash":"md5$abc"}`, 422, "password_hash"},
		{"control chars in name", "POST", "/admin/v1/users", `{"email":"a@example.com","name":"a\u0000b"}`, 422, "name"},
		{"taken e-mail", "POST", "/admin/v1/users", `{"email":"TAKEN@example.com"}`, 409, "email"},
		{"unknown user", "GET", "/admin/v1/users/nobody@example.com", nil, 404, ""},
		{"unknown user id", "DELETE", "/admin/v1/users/u_nope", nil, 404, ""},
		{"lock unknown", "POST", "/admin/v1/users/nobody@example.com/lock", nil, 404, ""},
		{"bad limit", "GET", "/admin/v1/users?limit=0", nil, 400, "limit"},
		{"bad audit cursor", "GET", "/admin/v1/audit?after=-1", nil, 400, "after"},
		{"unknown endpoint", "GET", "/admin/v1/nothing", nil, 404, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := e.admin(tc.method, tc.path, tc.body)
			if r.status != tc.status {
				t.Errorf("status = %d, want %d: %s", r.status, tc.status, r.body)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("Content-Type = %q", ct)
			}
			var p Problem
			if err := json.Unmarshal([]byte(r.body), &p); err != nil || p.Status != tc.status || p.Title == "" {
				t.Errorf("not a problem document: %s", r.body)
			}
			if tc.field != "" && (len(p.Errors) == 0 || p.Errors[0].Field != tc.field) {
				t.Errorf("errors = %+v, want field %q", p.Errors, tc.field)
			}
			if strings.Contains(r.body, "store:") || strings.Contains(r.body, "bolt") || strings.Contains(r.body, "goroutine") {
				t.Errorf("internals in the answer: %s", r.body)
			}
		})
	}
	if n := countUsers(); n != 1 {
		t.Errorf("%d users after bad requests, want 1", n)
	}
}
