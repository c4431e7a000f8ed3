package risk

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func policyYAML(version string) []byte {
	return []byte(strings.Replace(string(DefaultPolicyYAML()), `version: "assent-default-1"`, `version: "`+version+`"`, 1))
}

func writePolicy(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestReloadFileKeepsOldOnError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	r := NewReloader(DefaultPolicy())
	writePolicy(t, path, policyYAML("v2"))
	p, err := r.ReloadFile(path)
	if err != nil || p.Version() != "v2" || r.Current().Version() != "v2" {
		t.Fatalf("reload v2: %v, %v", p, err)
	}
	writePolicy(t, path, []byte("version: v3\nbands: nonsense\n"))
	if _, err := r.ReloadFile(path); err == nil {
		t.Fatal("invalid policy accepted")
	} else {
		var pe *PolicyError
		if !errors.As(err, &pe) {
			t.Errorf("error %v is not a *PolicyError", err)
		}
	}
	if got := r.Current().Version(); got != "v2" {
		t.Errorf("after a failed reload the active policy is %q, want v2", got)
	}
	if _, err := r.ReloadFile(filepath.Join(t.TempDir(), "missing.yaml")); err == nil {
		t.Error("missing file accepted")
	}
	if got := r.Current().Version(); got != "v2" {
		t.Errorf("after a missing file the active policy is %q", got)
	}
	if old := r.Swap(DefaultPolicy()); old.Version() != "v2" {
		t.Errorf("Swap returned %q", old.Version())
	}
}

// TestReloadUnderLoad swaps policies while many goroutines assess: every
// assessment carries one of the versions and none fails.
func TestReloadUnderLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "policy.yaml")
	r := NewReloader(DefaultPolicy())
	e, _ := newTestEngine(t, r)
	ctx := t.Context()
	var stop atomic.Bool
	var wg sync.WaitGroup
	seen := make([]map[string]int, 8)
	for g := range seen {
		seen[g] = map[string]int{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ev := loginEvent()
			for !stop.Load() {
				a, err := e.Assess(ctx, ev)
				if err != nil {
					t.Error(err)
					return
				}
				seen[g][a.PolicyVersion]++
			}
		}()
	}
	for i := range 50 {
		if i%5 == 4 {
			writePolicy(t, path, []byte("broken: ["))
			if _, err := r.ReloadFile(path); err == nil {
				t.Error("broken policy accepted")
			}
			continue
		}
		writePolicy(t, path, policyYAML("load-"+string(rune('a'+i%26))))
		if _, err := r.ReloadFile(path); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	total := 0
	for _, m := range seen {
		for v, n := range m {
			if v != "assent-default-1" && !strings.HasPrefix(v, "load-") {
				t.Errorf("assessment with version %q", v)
			}
			total += n
		}
	}
	if total == 0 {
		t.Error("no assessments ran")
	}
}

func TestWatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "policy.yaml")
		writePolicy(t, path, policyYAML("w1"))
		r := NewReloader(DefaultPolicy())
		if _, err := r.ReloadFile(path); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		log := slog.New(slog.NewTextHandler(t.Output(), nil))
		done := make(chan error)
		go func() { done <- r.Watch(ctx, path, time.Second, log) }()

		bump := func(b []byte, mod time.Time) {
			writePolicy(t, path, b)
			if err := os.Chtimes(path, mod, mod); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			synctest.Wait()
		}
		base := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		bump(policyYAML("w2"), base)
		if got := r.Current().Version(); got != "w2" {
			t.Errorf("after a change: %q, want w2", got)
		}
		bump([]byte("version: [broken"), base.Add(time.Minute))
		if got := r.Current().Version(); got != "w2" {
			t.Errorf("after a broken change: %q, want w2 kept", got)
		}
		bump(policyYAML("w3"), base.Add(2*time.Minute))
		if got := r.Current().Version(); got != "w3" {
			t.Errorf("after a fix: %q, want w3", got)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Errorf("Watch returned %v", err)
		}
	})
	r := NewReloader(DefaultPolicy())
	if err := r.Watch(t.Context(), "x", 0, slog.Default()); err == nil {
		t.Error("zero interval accepted")
	}
}
