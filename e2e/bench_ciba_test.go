package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBenchCIBA runs the ciba and push load scenarios against a real
// server: users with an app device each, enrolled through the admin API
// and connected over websockets, a CIBA poll client, and payments approved
// in the app with the right number and redeemed at the token endpoint,
// with no errors; then the same with more devices connected, most idle.
// Everything it made is removed afterwards. The server's push fatigue
// limit is raised as the documentation says to for load runs.
func TestBenchCIBA(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "assent.yaml")
	if err := os.WriteFile(cfg, []byte("push_lock:\n  max_requests: 1000000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, filepath.Join(dir, "data"), "-config", cfg)
	out, errOut, code := s.cli("", "bench", "--scenario", "ciba,push", "--duration", "2s", "--warmup", "200ms",
		"--concurrency", "2", "--users", "8", "--devices", "40", "--json")
	if code != 0 {
		t.Fatalf("bench ciba,push: %d %q %q", code, out, errOut)
	}
	checkBench(t, out, "ciba", "push")
	var p struct {
		Push *struct {
			Devices, Active int
			RSSPerDeviceKiB float64 `json:"rss_per_device_kib"`
		} `json:"push"`
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &p); err != nil || p.Push == nil || p.Push.Devices != 40 || p.Push.Active != 8 {
		t.Errorf("push stats: %v %q", err, lines[len(lines)-1])
	}

	if out, _, _ := s.cli("", "user", "list", "--json"); strings.Contains(out, "bench-") {
		t.Errorf("bench users left behind: %s", out)
	}
	if out, _, _ := s.cli("", "client", "list", "--json"); strings.Contains(out, "bench-") {
		t.Errorf("bench clients left behind: %s", out)
	}
}
