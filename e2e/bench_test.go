package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// benchResult is the part of `assent bench --json` the test checks.
type benchResult struct {
	Scenario   string           `json:"scenario"`
	Skipped    string           `json:"skipped"`
	Successes  int64            `json:"successes"`
	Errors     int64            `json:"errors"`
	ErrorKinds map[string]int64 `json:"error_kinds"`
	Throughput float64          `json:"throughput"`
	Latency    struct {
		P50, P99, Max float64
	} `json:"latency_ms"`
	Server *struct {
		PID       int     `json:"pid"`
		CPUS      float64 `json:"cpu_s"`
		RSSMaxMiB float64 `json:"rss_max_mib"`
	} `json:"server"`
}

// TestBench runs the load generator against a real server: password
// sign-ins through the pages, then the code flow with PKCE, the refresh
// grant, the client credentials grant, introspection and risk
// assessments, each measured with no errors, the server sampled from
// /proc, and every user and client it made removed afterwards.
func TestBench(t *testing.T) {
	t.Parallel()
	s := startServer(t, filepath.Join(t.TempDir(), "data"))
	out, errOut, code := s.cli("", "bench", "--scenario", "signin", "--duration", "2s", "--warmup", "200ms", "--concurrency", "2", "--json")
	if code != 0 {
		t.Fatalf("bench signin: %d %q %q", code, out, errOut)
	}
	checkBench(t, out, "signin")
	out, errOut, code = s.cli("", "bench", "--scenario", "oidc-code,refresh,client-credentials,introspect,risk", "--duration", "2s", "--warmup", "200ms", "--concurrency", "2", "--json")
	if code != 0 {
		t.Fatalf("bench oidc-code,refresh,client-credentials,introspect,risk: %d %q %q", code, out, errOut)
	}
	checkBench(t, out, "oidc-code", "refresh", "client-credentials", "introspect", "risk")
	if !strings.Contains(errOut, "refresh measuring") {
		t.Errorf("no progress line on stderr: %q", errOut)
	}

	if out, _, _ := s.cli("", "user", "list", "--json"); strings.Contains(out, "bench-") {
		t.Errorf("bench users left behind: %s", out)
	}
	if out, _, _ := s.cli("", "client", "list", "--json"); strings.Contains(out, "bench-") {
		t.Errorf("bench clients left behind: %s", out)
	}

	// A scenario the server does not know is a usage error.
	if _, errOut, code := s.cli("", "bench", "--scenario", "nope"); code != 2 || !strings.Contains(errOut, "unknown scenario") {
		t.Errorf("unknown scenario: %d %q", code, errOut)
	}
}

func checkBench(t *testing.T, out string, scenarios ...string) {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != len(scenarios) {
		t.Fatalf("want %d JSON lines, got %q", len(scenarios), out)
	}
	for i, line := range lines {
		var r benchResult
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("bench --json: %v: %q", err, line)
		}
		if r.Scenario != scenarios[i] || r.Skipped != "" {
			t.Errorf("result %d is %q (skipped %q), want %q", i, r.Scenario, r.Skipped, scenarios[i])
		}
		if r.Successes == 0 || r.Errors != 0 || len(r.ErrorKinds) != 0 || r.Throughput <= 0 {
			t.Errorf("%s: %d successes, %d errors %v, %.1f/s; want successes and no errors", r.Scenario, r.Successes, r.Errors, r.ErrorKinds, r.Throughput)
		}
		if r.Latency.P50 <= 0 || r.Latency.P99 < r.Latency.P50 || r.Latency.Max < r.Latency.P99 {
			t.Errorf("%s: latency %+v", r.Scenario, r.Latency)
		}
		if r.Server == nil || r.Server.PID == 0 || r.Server.CPUS <= 0 || r.Server.RSSMaxMiB < 5 {
			t.Errorf("%s: server stats %+v, want the server's CPU and memory", r.Scenario, r.Server)
		}
	}
}
