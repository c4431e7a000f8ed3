package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchCIBA runs the ciba load scenario against a real server: users
// with an app device each, enrolled through the admin API and connected
// over websockets, a CIBA poll client, and payments approved in the app
// with the right number and redeemed at the token endpoint, with no
// errors; everything it made is removed afterwards. The server's push
// fatigue limit is raised as the documentation says to for load runs.
func TestBenchCIBA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "assent.yaml")
	if err := os.WriteFile(cfg, []byte("push_lock:\n  max_requests: 1000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, filepath.Join(dir, "data"), "-config", cfg)
	out, errOut, code := s.cli("", "bench", "--scenario", "ciba", "--duration", "2s", "--warmup", "200ms",
		"--concurrency", "2", "--users", "8", "--json")
	if code != 0 {
		t.Fatalf("bench ciba: %d %q %q", code, out, errOut)
	}
	checkBench(t, out, "ciba")

	if out, _, _ := s.cli("", "user", "list", "--json"); strings.Contains(out, "bench-") {
		t.Errorf("bench users left behind: %s", out)
	}
	if out, _, _ := s.cli("", "client", "list", "--json"); strings.Contains(out, "bench-") {
		t.Errorf("bench clients left behind: %s", out)
	}
}
