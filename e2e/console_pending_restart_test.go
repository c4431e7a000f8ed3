package e2e

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/x/exp/teatest"

	"github.com/assent-auth/assent/tui"
)

// TestConsolePendingAfterRestart asks for an approval in the app, restarts
// assentd on the same data directory, and opens the console: the Approvals
// tab lists the request from before the restart as waiting, and the
// reference device's approval takes it off.
func TestConsolePendingAfterRestart(t *testing.T) {
	t.Parallel()
	s := startServer(t, filepath.Join(t.TempDir(), "data"))
	const email, pw = "dee@example.com", "a long passphrase"
	file := userWithApp(t, s, email, pw, "Dee's phone")
	status, body := askPush(t, s, email, pw)
	n := numberRE.FindStringSubmatch(body)
	if status != 200 || n == nil {
		t.Fatalf("approve in the app: %d %s", status, tail(body, 800))
	}

	s = restart(t, s)
	cl := adminAPI(t, s)
	ov, err := cl.PendingPush(t.Context())
	if err != nil || len(ov.Pending) != 1 || ov.Pending[0].Email != email {
		t.Fatalf("pending after the restart = %+v, %v", ov, err)
	}

	tm := openConsole(t, tui.Options{API: cl, Server: s.url, StatsEvery: 200 * time.Millisecond})
	waitFor := screenWaiter(t, tm, 15*time.Second)
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
