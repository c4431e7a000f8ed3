package e2e

import (
	"bytes"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/charmbracelet/x/exp/teatest"
	"github.com/muesli/termenv"

	"github.com/assent-auth/assent/adminclient"
	"github.com/assent-auth/assent/tui"
)

// adminAPI is an admin API client of s holding the token assentd wrote to
// its data directory.
func adminAPI(t *testing.T, s *server) *adminclient.Client {
	t.Helper()
	token, err := os.ReadFile(filepath.Join(s.data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	return adminclient.New(s.url, strings.TrimSpace(string(token)))
}

// openConsole runs the operator console with opts, in plain text on a
// 110x30 screen with times in UTC.
func openConsole(t *testing.T, opts tui.Options) *teatest.TestModel {
	t.Helper()
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	opts.Renderer, opts.Location = r, time.UTC
	return teatest.NewTestModel(t, tui.New(t.Context(), opts), teatest.WithInitialTermSize(110, 30))
}

// screenWaiter returns waitFor, which fails the test unless the console's
// screen shows all of what within d.
func screenWaiter(t *testing.T, tm *teatest.TestModel, d time.Duration) func(what ...string) {
	return func(what ...string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
			for _, w := range what {
				if !bytes.Contains(b, []byte(w)) {
					return false
				}
			}
			return true
		}, teatest.WithDuration(d), teatest.WithCheckInterval(20*time.Millisecond))
	}
}

// userWithApp creates email with password pw and enrolls an app device
// named name for it with the reference device CLI; it returns the
// device's file.
func userWithApp(t *testing.T, s *server, email, pw, name string) string {
	t.Helper()
	s.createUser(email, pw)
	out, _, _ := s.cli("", "device", "enroll", "--user", email)
	m := codeRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("device enroll: %q", out)
	}
	file := filepath.Join(t.TempDir(), "device.json")
	if out, errOut, code := s.cli("", "device", "activate", m[1], "--device-file", file, "--name", name); code != 0 {
		t.Fatalf("device activate: %d %q %q", code, out, errOut)
	}
	return file
}

// askPush signs in as email with password pw in a new browser and asks
// for an approval in the app; it returns the page's status and body.
func askPush(t *testing.T, s *server, email, pw string) (int, string) {
	t.Helper()
	c := newClient(t, s.url)
	if status, body := c.submit("/signin", "/signin", url.Values{"email": {email}, "password": {pw}}); status != 303 {
		t.Fatalf("sign-in: %d %s", status, tail(body, 500))
	}
	return c.submit("/signin/factor", "/signin/factor/push", url.Values{})
}

// restart stops s, which must exit cleanly, and runs assentd again on the
// same data directory and address.
func restart(t *testing.T, s *server) *server {
	t.Helper()
	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, s.log.String())
	}
	return startServerOn(t, s.data, s.addr)
}
