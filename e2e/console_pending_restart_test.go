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

// TestConsolePendingAfterRestart asks for an approval in the app, restarts
// assentd on the same data directory, and opens the console: the Approvals
// tab lists the request from before the restart as waiting, and the
// reference device's approval takes it off.
func TestConsolePendingAfterRestart(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	s := startServer(t, data)
	const email, pw = "dee@example.com", "a long passphrase"
	if out, errOut, code := s.cli(pw+"\n", "user", "create", "--email", email, "--password-stdin"); code != 0 {
		t.Fatalf("user create: %d %q %q", code, out, errOut)
	}
	out, _, _ := s.cli("", "device", "enroll", "--user", email)
	m := codeRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("device enroll: %q", out)
	}
	file := filepath.Join(t.TempDir(), "device.json")
	if out, errOut, code := s.cli("", "device", "activate", m[1], "--device-file", file, "--name", "Dee's phone"); code != 0 {
		t.Fatalf("device activate: %d %q %q", code, out, errOut)
	}
	c := newClient(t, s.url)
	if status, body := c.submit("/signin", "/signin", url.Values{"email": {email}, "password": {pw}}); status != 303 {
		t.Fatalf("sign-in: %d %s", status, tail(body, 500))
	}
	status, body := c.submit("/signin/factor", "/signin/factor/push", url.Values{})
	n := numberRE.FindStringSubmatch(body)
	if status != 200 || n == nil {
		t.Fatalf("approve in the app: %d %s", status, tail(body, 800))
	}

	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v\n%s", err, s.log.String())
	}
	s = startServerOn(t, data, s.addr)
	token, err := os.ReadFile(filepath.Join(data, "admin.token"))
	if err != nil {
		t.Fatal(err)
	}
	cl := adminclient.New(s.url, strings.TrimSpace(string(token)))
	ov, err := cl.PendingPush(t.Context())
	if err != nil || len(ov.Pending) != 1 || ov.Pending[0].Email != email {
		t.Fatalf("pending after the restart = %+v, %v", ov, err)
	}

	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	tm := teatest.NewTestModel(t, tui.New(t.Context(), tui.Options{API: cl, Server: s.url, Renderer: r, Location: time.UTC,
		StatsEvery: 200 * time.Millisecond}), teatest.WithInitialTermSize(110, 30))
	waitFor := func(what ...string) {
		t.Helper()
		teatest.WaitFor(t, tm.Output(), func(b []byte) bool {
			for _, w := range what {
				if !bytes.Contains(b, []byte(w)) {
					return false
				}
			}
			return true
		}, teatest.WithDuration(15*time.Second), teatest.WithCheckInterval(20*time.Millisecond))
	}
	waitFor("● live")
	tm.Type("2")
	waitFor("Waiting for the app: 1", email)

	// The device gets the waiting request again from the restarted server.
	if out, errOut, code := s.cli("", "device", "run", "--device-file", file, "--auto", "approve", "--pick", n[1], "--once"); code != 0 || !strings.Contains(out, "Sent: approved.") {
		t.Fatalf("device run: %d %q %q", code, out, errOut)
	}
	waitFor("Waiting for the app: 0")
	tm.Type("q")
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}
