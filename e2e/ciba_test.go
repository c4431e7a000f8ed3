package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
)

// TestCIBAPayments runs both CIBA modes against the real binaries: a poll
// client registered with `assent client create --ciba-mode poll`, a ping
// client declared in the configuration file with a loopback notification
// endpoint, and `assent device run --auto approve --pick N` as the phone.
// go-oidc verifies the ID tokens.
func TestCIBAPayments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pings := make(chan string, 4)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			AuthReqID string `json:"auth_req_id"`
		}
		json.NewDecoder(io.LimitReader(r.Body, 4096)).Decode(&body)
		if r.Header.Get("Authorization") != "Bearer till-token-1" {
			http.Error(w, "who are you", http.StatusUnauthorized)
			return
		}
		pings <- body.AuthReqID
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()
	const tillSecret = "till-secret-0123456789-abcdefghijklmn"
	cfg := filepath.Join(dir, "assent.yaml")
	if err := os.WriteFile(cfg, []byte("clients:\n  - id: till\n    secret: "+tillSecret+
		"\n    ciba_mode: ping\n    notification_endpoint: "+recv.URL+"/notify\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, filepath.Join(dir, "data"), "-config", cfg)
	if out, errOut, code := s.cli("a long passphrase\n", "user", "create", "--email", "ada@example.com", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %d %q %q", code, out, errOut)
	}
	out, errOut, code := s.cli("", "client", "create", "--id", "shop", "--ciba-mode", "poll")
	shopSecret := secretOf(out)
	if code != 0 || shopSecret == "" || !strings.Contains(out, "ciba mode:      poll") {
		t.Fatalf("client create: %d %q %q", code, out, errOut)
	}
	out, errOut, code = s.cli("", "device", "enroll", "--user", "ada@example.com")
	m := codeRE.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("device enroll: %d %q %q", code, out, errOut)
	}
	phone := filepath.Join(dir, "phone.json")
	if out, errOut, code := s.cli("", "device", "activate", m[1], "--device-file", phone); code != 0 {
		t.Fatalf("device activate: %d %q %q", code, out, errOut)
	}

	post := func(client, secret, path string, form url.Values) map[string]any {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, s.url+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(client, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("%s: %d, not JSON", path, resp.StatusCode)
		}
		return out
	}
	details := `[{"type":"payment_initiation","instructedAmount":{"currency":"EUR","amount":"89.90"},"creditorName":"Acme Shop"}]`
	provider, err := gooidc.NewProvider(t.Context(), s.url)
	if err != nil {
		t.Fatal(err)
	}
	approve := func(client, secret string, extra url.Values) string {
		t.Helper()
		form := url.Values{"scope": {"openid"}, "login_hint": {"ada@example.com"}, "binding_message": {"Order 4711"},
			"authorization_details": {details}}
		for k, v := range extra {
			form[k] = v
		}
		a := post(client, secret, "/bc-authorize", form)
		id, _ := a["auth_req_id"].(string)
		n, _ := a["binding_number"].(float64)
		if id == "" || n == 0 {
			t.Fatalf("backchannel: %v", a)
		}
		out, errOut, code := s.cli("", "device", "run", "--device-file", phone, "--auto", "approve", "--pick", strconv.Itoa(int(n)), "--once")
		if code != 0 || !strings.Contains(out, "Sent: approved.") || !strings.Contains(out, "89.90") {
			t.Fatalf("device run: %d %q %q", code, out, errOut)
		}
		return id
	}
	redeem := func(client, secret, id string) {
		t.Helper()
		var tok map[string]any
		for range 50 {
			tok = post(client, secret, "/oauth/token", url.Values{"grant_type": {"urn:openid:params:grant-type:ciba"}, "auth_req_id": {id}})
			if tok["error"] != "authorization_pending" && tok["error"] != "slow_down" {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		raw, _ := tok["id_token"].(string)
		idt, err := provider.Verifier(&gooidc.Config{ClientID: client}).Verify(t.Context(), raw)
		if err != nil {
			t.Fatalf("tokens %v: %v", tok, err)
		}
		var c struct {
			AMR     []string         `json:"amr"`
			Details []map[string]any `json:"authorization_details"`
		}
		if err := idt.Claims(&c); err != nil || len(c.Details) != 1 || c.Details[0]["creditorName"] != "Acme Shop" || len(c.AMR) == 0 {
			t.Fatalf("ID token claims %+v, %v", c, err)
		}
	}

	redeem("shop", shopSecret, approve("shop", shopSecret, nil))

	id := approve("till", tillSecret, url.Values{"client_notification_token": {"till-token-1"}})
	select {
	case got := <-pings:
		if got != id {
			t.Fatalf("ping for %q, want %q", got, id)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no ping\n%s", s.log.String())
	}
	redeem("till", tillSecret, id)
}
