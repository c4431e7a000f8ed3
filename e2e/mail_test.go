package e2e

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	netmail "net/mail"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/assent-auth/assent/mail"
	"github.com/assent-auth/assent/mail/mailtest"
)

// textPart returns the decoded text/plain part of a message.
func textPart(t *testing.T, data []byte) string {
	t.Helper()
	m, err := netmail.ReadMessage(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	_, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			t.Fatal("no text part")
		}
		if err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, _ := io.ReadAll(p)
			return string(b)
		}
	}
}

// emlFiles waits until dir holds n .eml files and returns them, oldest
// first (the names sort by time).
func emlFiles(t *testing.T, dir string, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		if len(files) >= n {
			return files
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d .eml files in %s, want %d", len(files), dir, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// client is a browser with a cookie jar that does not follow redirects.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

func newClient(t *testing.T, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{t, base, &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *client) get(path string) (int, string) {
	c.t.Helper()
	resp, err := c.c.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, readAll(resp.Body)
}

// submit loads page, takes its CSRF token and posts form to action.
func (c *client) submit(page, action string, form url.Values) (int, string) {
	c.t.Helper()
	_, body := c.get(page)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF token on %s", page)
	}
	form.Set("csrf", html.UnescapeString(m[1]))
	req, _ := http.NewRequest("POST", c.base+action, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := c.c.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	return resp.StatusCode, readAll(resp.Body)
}

var tokenRE = regexp.MustCompile(`name="t" value="([^"]+)"`)

// follow opens a mailed link and presses the page's button.
func (c *client) follow(link, action string, form url.Values) (int, string) {
	c.t.Helper()
	path := strings.TrimPrefix(link, c.base)
	_, body := c.get(path)
	m := tokenRE.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no token on %s:\n%s", path, tail(body, 1000))
	}
	form.Set("t", html.UnescapeString(m[1]))
	return c.submit(path, action, form)
}

func linkIn(t *testing.T, text, prefix string) string {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(prefix) + `\S+`).FindString(text)
	if m == "" {
		t.Fatalf("no %s link in:\n%s", prefix, text)
	}
	return m
}

// TestMailAsFilesByDefault is the newcomer's path with no mail server: sign
// up, confirm the address from data/outbox, reset the password from it.
func TestMailAsFilesByDefault(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	outbox := filepath.Join(data, "outbox")
	if !strings.Contains(s.log.String(), "mail is written as .eml files") || !strings.Contains(s.log.String(), outbox) {
		t.Errorf("the log does not say where mail goes:\n%s", s.log.String())
	}
	c := newClient(t, s.url)
	if code, _ := c.submit("/signup", "/signup", url.Values{"email": {"ada@example.com"}, "password": {"correct horse battery"}}); code != http.StatusSeeOther {
		t.Fatalf("sign-up: %d", code)
	}
	files := emlFiles(t, outbox, 1)
	b, _ := os.ReadFile(files[0])
	link := linkIn(t, textPart(t, b), s.url+"/verify?t=")
	if code, body := newClient(t, s.url).follow(link, "/verify", url.Values{}); code != http.StatusOK || !strings.Contains(body, "confirmed") {
		t.Fatalf("verify: %d", code)
	}

	if code, _ := newClient(t, s.url).submit("/reset", "/reset", url.Values{"email": {"ada@example.com"}}); code != http.StatusOK {
		t.Fatalf("reset request: %d", code)
	}
	files = emlFiles(t, outbox, 2)
	b, _ = os.ReadFile(files[1])
	link = linkIn(t, textPart(t, b), s.url+"/reset/password?t=")
	if code, _ := newClient(t, s.url).follow(link, "/reset/password", url.Values{"password": {"a brand new passphrase"}}); code != http.StatusOK {
		t.Fatalf("reset: %d", code)
	}
	if post, account := signIn(t, s.url, "ada@example.com", "a brand new passphrase"); post != http.StatusSeeOther || account != http.StatusOK {
		t.Errorf("sign-in with the new password: %d, %d", post, account)
	}
	emlFiles(t, outbox, 3) // the notice of the change
	if strings.Contains(s.log.String(), "ada@example.com") || strings.Contains(s.log.String(), "?t=") {
		t.Error("the log holds an address or a link")
	}
}

// TestMailOverSMTP: assentd configured with a mail server delivers to it.
func TestMailOverSMTP(t *testing.T) {
	srv := mailtest.NewServer(t, mailtest.Options{TLS: mail.TLSNone, Username: "assent", Password: "relay-secret"})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "assent.yaml")
	os.WriteFile(cfg, fmt.Appendf(nil, "mail:\n  from: \"Acme <no-reply@acme.example>\"\n  smtp:\n    host: %s\n    port: %d\n    tls: none\n    username: assent\n    password: relay-secret\n", srv.Host, srv.Port), 0o600)
	s := startServer(t, filepath.Join(dir, "data"), "-config", cfg)
	c := newClient(t, s.url)
	if code, _ := c.submit("/signup", "/signup", url.Values{"email": {"bob@example.com"}, "password": {"correct horse battery"}}); code != http.StatusSeeOther {
		t.Fatalf("sign-up: %d", code)
	}
	msgs := srv.Wait(t, 1, 10*time.Second)
	if msgs[0].From != "no-reply@acme.example" || msgs[0].To[0] != "bob@example.com" {
		t.Errorf("envelope %q -> %q", msgs[0].From, msgs[0].To)
	}
	linkIn(t, textPart(t, msgs[0].Data), s.url+"/verify?t=")
}

func TestMailConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "assent.yaml")
	os.WriteFile(cfg, []byte("mail:\n  from: \"not an address\"\n  smtp:\n    host: smtp.example.com\n    port: 70000\n    tls: ssl\n    username: u\n"), 0o600)
	out, err := exec.Command(filepath.Join(bin, "assentd"), "-config", cfg, "-data", filepath.Join(dir, "data")).CombinedOutput()
	if err == nil {
		t.Fatal("assentd started with a bad mail config")
	}
	for _, field := range []string{"mail.from", "smtp.port", "smtp.tls", "smtp.password"} {
		if !strings.Contains(string(out), field) {
			t.Errorf("error output lacks %s:\n%s", field, out)
		}
	}
}
