package e2e

import (
	"encoding/json"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in through the real sign-in page with a cookie jar and
// reports the status of the form post and of /account afterwards.
func signIn(t *testing.T, base, email, password string) (post, account int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(base + "/signin")
	if err != nil {
		t.Fatal(err)
	}
	m := csrfRE.FindStringSubmatch(readAll(resp.Body))
	resp.Body.Close()
	if m == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	form := url.Values{"csrf": {html.UnescapeString(m[1])}, "email": {email}, "password": {password}}
	req, _ := http.NewRequest("POST", base+"/signin", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	post = resp.StatusCode
	resp, err = c.Get(base + "/account")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return post, resp.StatusCode
}

func TestOperatorFlow(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)

	for _, f := range []string{"admin.token", "master.key", "assent.db"} {
		fi, err := os.Stat(filepath.Join(data, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}

	out, errOut, code := s.cli("a long passphrase\n", "user", "create", "--email", "Ada@Example.com", "--name", "Ada", "--password-stdin")
	if code != 0 || !strings.Contains(out, "Created user ada@example.com") {
		t.Fatalf("user create: %d %q %q", code, out, errOut)
	}
	out, _, code = s.cli("", "user", "show", "ada@example.com", "--json")
	var u struct {
		ID, Email, Name string
		Locked          bool
	}
	if code != 0 || json.Unmarshal([]byte(out), &u) != nil || u.Email != "ada@example.com" || u.Name != "Ada" {
		t.Fatalf("user show --json: %d %q", code, out)
	}
	out, _, _ = s.cli("", "user", "show", "ada@example.com")
	if !strings.Contains(out, "E-mail verified  yes") || !strings.Contains(out, u.ID) {
		t.Errorf("user show: %q", out)
	}
	if post, acct := signIn(t, s.url, "ada@example.com", "a long passphrase"); post != 303 || acct != 200 {
		t.Fatalf("sign-in: post %d, account %d", post, acct)
	}

	if _, _, code := s.cli("", "user", "lock", "ada@example.com"); code != 0 {
		t.Fatalf("user lock: %d", code)
	}
	if post, _ := signIn(t, s.url, "ada@example.com", "a long passphrase"); post != 401 {
		t.Errorf("sign-in while locked: %d", post)
	}
	out, _, _ = s.cli("", "user", "list")
	if !strings.Contains(out, "locked by an operator") || !strings.Contains(out, "1 user") {
		t.Errorf("user list: %q", out)
	}
	s.cli("", "user", "unlock", u.ID)

	// Import from a legacy system, then sign in with the old password.
	hash, _ := bcrypt.GenerateFromPassword([]byte("legacy password 1"), 10)
	file := filepath.Join(t.TempDir(), "users.jsonl")
	os.WriteFile(file, []byte(`{"email":"bob@example.com","password_hash":"`+string(hash)+`"}
{"email":"broken"}
`), 0o600)
	out, errOut, code = s.cli("", "user", "import", file)
	if code != 1 || !strings.Contains(out, "Created 1 user; 1 line failed") || !strings.Contains(out, "line 2: email:") {
		t.Errorf("user import: %d %q %q", code, out, errOut)
	}
	if post, acct := signIn(t, s.url, "bob@example.com", "legacy password 1"); post != 303 || acct != 200 {
		t.Errorf("sign-in with an imported bcrypt hash: %d %d", post, acct)
	}

	// Errors are clear and exit non-zero.
	if _, errOut, code := s.cli("", "user", "show", "nobody@example.com"); code != 1 || !strings.Contains(errOut, "no such user: nobody@example.com") {
		t.Errorf("show unknown: %d %q", code, errOut)
	}
	if _, errOut, code := s.cli("", "user", "frobnicate"); code != 2 || !strings.Contains(errOut, "unknown command") {
		t.Errorf("unknown command: %d %q", code, errOut)
	}
	if _, errOut, code := s.cli("weak\n", "user", "create", "--email", "c@example.com", "--password-stdin"); code != 1 || !strings.Contains(errOut, "password") {
		t.Errorf("weak password: %d %q", code, errOut)
	}
	cmd := exec.Command(filepath.Join(bin, "assent"), "user", "list", "--server", s.url)
	cmd.Env = append(os.Environ(), "ASSENT_TOKEN=wrong")
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "admin token") {
		t.Errorf("wrong token: %v %q", err, out)
	}

	// A second server on the same data directory fails fast and clearly.
	start := time.Now()
	second := exec.Command(filepath.Join(bin, "assentd"), "-addr", freeAddr(t), "-data", data)
	out2, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(out2), "in use by another process") || time.Since(start) > 10*time.Second {
		t.Errorf("second assentd: %v after %v: %s", err, time.Since(start), out2)
	}

	// SIGTERM drains and closes cleanly; a restart finds everything.
	if err := s.stop(); err != nil {
		t.Fatalf("assentd exit after SIGTERM: %v\n%s", err, s.log.String())
	}
	if !strings.Contains(s.log.String(), "stopped") {
		t.Errorf("no clean-stop line in the log:\n%s", s.log.String())
	}
	s = startServer(t, data)
	if post, acct := signIn(t, s.url, "ada@example.com", "a long passphrase"); post != 303 || acct != 200 {
		t.Errorf("sign-in after restart: %d %d", post, acct)
	}
	if _, _, code := s.cli("", "user", "delete", "bob@example.com"); code != 0 {
		t.Errorf("delete: %d", code)
	}
	if _, _, code := s.cli("", "user", "show", "bob@example.com"); code != 1 {
		t.Errorf("show after delete: %d", code)
	}
	out, _, _ = s.cli("", "audit", "--limit", "100")
	for _, k := range []string{"user.created", "signin.succeeded", "signin.failed", "user.locked", "user.deleted"} {
		if !strings.Contains(out, k) {
			t.Errorf("audit lacks %s:\n%s", k, out)
		}
	}
	if strings.Contains(s.log.String(), "a long passphrase") || strings.Contains(s.log.String(), "ada@example.com") {
		t.Errorf("the server log holds a password or an e-mail:\n%s", s.log.String())
	}
	if !strings.Contains(s.log.String(), "request_id=") {
		t.Errorf("log lines lack request ids")
	}
}

func TestConfigErrorsAllReported(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "assent.yaml")
	os.WriteFile(cfg, []byte("issuer: ftp://x\ntrusted_proxies: [\"nonsense\"]\nlog_level: loud\nsession_ttl: 1s\n"), 0o600)
	out, err := exec.Command(filepath.Join(bin, "assentd"), "-config", cfg, "-data", filepath.Join(dir, "data")).CombinedOutput()
	if err == nil {
		t.Fatal("assentd started with a bad config")
	}
	for _, field := range []string{"issuer:", "trusted_proxies:", "log_level:", "session_ttl:"} {
		if !strings.Contains(string(out), field) {
			t.Errorf("error output lacks %s:\n%s", field, out)
		}
	}
	os.WriteFile(cfg, []byte("unknown_setting: 1\n"), 0o600)
	out, err = exec.Command(filepath.Join(bin, "assentd"), "-config", cfg, "-data", filepath.Join(dir, "data")).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "unknown_setting") {
		t.Errorf("unknown config field: %v %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data")); err == nil {
		t.Error("a bad config still created the data directory")
	}
}
