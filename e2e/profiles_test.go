package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/bbolt"

	"github.com/assent-auth/assent/webhook"
)

const hookSecret = "webhook-secret-0123456789abcdefghij"

// profilesConfig is the example of README's "Customer profiles" section.
const profilesConfig = `profiles:
  purposes:
    - name: marketing_email
      description: News and offers by e-mail
      version: "2025-01"
    - name: profiling
      description: Recommendations from your interests
      version: "1"
  attributes:
    - name: given_name
      label: Given name
      type: string
      max_length: 50
      scope: profile_ext
      claim: given_name
    - name: phone
      label: Mobile
      type: phone
      sensitivity: medium
      purposes: [marketing_email]
    - name: interests
      type: multi_select
      values: [ski, golf, sail]
      scope: interests
      claim: interests
      purposes: [profiling]
    - name: national_id
      type: string
      pattern: "[0-9]{6}[-+A][0-9]{3}[0-9A-Y]"
      sensitivity: high
  prompts:
    - attributes: [phone]
      on_sign_in: 3
    - attributes: [interests]
      scope: interests
`

// TestProfilesExportErase runs the README's schema in a real assentd, sets
// attributes through the admin API, exports and erases with the CLI, and
// then reads the data file: nothing of the user is left.
func TestProfilesExportErase(t *testing.T) {
	dir := t.TempDir()
	var mu sync.Mutex
	var events []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if webhook.Verify(hookSecret, r.Header, body, time.Now(), time.Minute) != nil {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var ev struct{ Type string }
		json.Unmarshal(body, &ev)
		mu.Lock()
		events = append(events, ev.Type)
		mu.Unlock()
	}))
	defer recv.Close()
	cfg := filepath.Join(dir, "assent.yaml")
	os.WriteFile(cfg, []byte(profilesConfig+`webhooks:
  - id: crm
    url: `+recv.URL+`
    secret: `+hookSecret+`
    purposes: [marketing_email]
`), 0o600)
	data := filepath.Join(dir, "data")
	s := startServer(t, data, "-config", cfg)

	out, errOut, code := s.cli("a long passphrase\n", "user", "create", "--email", "ada@example.com", "--name", "Ada Lovelace", "--password-stdin")
	if code != 0 {
		t.Fatalf("user create: %d %q %q", code, out, errOut)
	}
	token, _ := os.ReadFile(filepath.Join(data, "admin.token"))
	patch := func(body string) (int, string) {
		req, _ := http.NewRequest("PATCH", s.url+"/admin/v1/users/ada@example.com/attributes", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return resp.StatusCode, buf.String()
	}
	if code, body := patch(`{"attributes": {"national_id": "not an id", "phone": "+358 40 123 4567"}}`); code != 422 ||
		!strings.Contains(body, `"field":"attributes.national_id"`) || !strings.Contains(body, `"code":"pattern"`) {
		t.Errorf("bad attribute: %d %s", code, body)
	}
	if code, body := patch(`{"attributes": {"national_id": "010190-123A", "phone": "+358 40 123 4567", "given_name": "Ada"}}`); code != 200 {
		t.Fatalf("set attributes: %d %s", code, body)
	}
	if post, acct := signIn(t, s.url, "ada@example.com", "a long passphrase"); post != 303 || acct != 200 {
		t.Fatalf("sign-in: %d %d", post, acct)
	}

	out, errOut, code = s.cli("", "user", "export", "ada@example.com")
	var x struct {
		Identity struct {
			ID         string            `json:"id"`
			Email      string            `json:"email"`
			Attributes map[string]string `json:"attributes"`
		} `json:"identity"`
		Sessions    []any `json:"sessions"`
		AuditEvents []any `json:"audit_events"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &x) != nil {
		t.Fatalf("user export: %d %q %q", code, out, errOut)
	}
	if x.Identity.Email != "ada@example.com" || x.Identity.Attributes["national_id"] != "010190-123A" || len(x.Sessions) != 1 || len(x.AuditEvents) < 2 {
		t.Errorf("export = %s", out)
	}

	if _, errOut, code := s.cli("someone else\n", "user", "erase", "ada@example.com"); code != 1 || !strings.Contains(errOut, "not confirmed") {
		t.Errorf("unconfirmed erase: %d %q", code, errOut)
	}
	out, errOut, code = s.cli("ada@example.com\n", "user", "erase", "ada@example.com")
	if code != 0 || !strings.Contains(out, "Erased ada@example.com") || !strings.Contains(out, "erased:") {
		t.Fatalf("user erase: %d %q %q", code, out, errOut)
	}
	if _, errOut, code := s.cli("", "user", "export", "ada@example.com"); code != 1 || !strings.Contains(errOut, "no such user") {
		t.Errorf("export after erasure: %d %q", code, errOut)
	}
	// The downstream receiver heard of the change and of the erasure.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		mu.Lock()
		n := len(events)
		mu.Unlock()
		if n >= 2 {
			break
		}
	}
	mu.Lock()
	if strings.Join(events, " ") != "profile.updated user.erased" {
		t.Errorf("webhook events = %v", events)
	}
	mu.Unlock()
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}

	// Walk every bucket of the data file: neither the user id nor any of
	// the user's personal data is there.
	db, err := bbolt.Open(filepath.Join(data, "assent.db"), 0o600, &bbolt.Options{Timeout: time.Second, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	needles := []string{x.Identity.ID, "ada@example.com", "Ada Lovelace", "010190-123A", "+358401234567"}
	db.View(func(tx *bbolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bbolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				for _, n := range needles {
					if bytes.Contains(k, []byte(n)) || bytes.Contains(v, []byte(n)) {
						t.Errorf("bucket %s still holds %q", name, n)
					}
				}
				return nil
			})
		})
	})
}

func TestProfilesConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "assent.yaml")
	os.WriteFile(cfg, []byte(`profiles:
  attributes:
    - name: shoe
      type: size
    - name: tier
      type: enum
      purposes: [nope]
upstreams:
  - id: acme
    name: Acme ID
    issuer: http://id.example.com
    client_id: assent
webhooks:
  - id: crm
    url: ftp://crm.example.com
    secret: short
    purposes: [nope]
`), 0o600)
	out, err := exec.Command(filepath.Join(bin, "assentd"), "-config", cfg, "-data", filepath.Join(dir, "data")).CombinedOutput()
	if err == nil {
		t.Fatal("assentd started with a bad profile schema")
	}
	for _, field := range []string{"profiles.attributes[0].type", "profiles.attributes[1].values", "profiles.attributes[1].purposes", "upstreams[0].issuer", "upstreams[0].client_secret",
		"webhooks[0].url", "webhooks[0].secret", "webhooks[0].purposes"} {
		if !strings.Contains(string(out), field) {
			t.Errorf("error output lacks %s:\n%s", field, out)
		}
	}
}
