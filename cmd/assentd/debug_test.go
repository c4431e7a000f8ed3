package main

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestDebugAddrFlagAndEnv(t *testing.T) {
	cfg, err := loadConfig([]string{"-debug-addr", "127.0.0.1:6060", "-data", t.TempDir()}, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DebugAddr != "127.0.0.1:6060" {
		t.Errorf("flag: DebugAddr = %q", cfg.DebugAddr)
	}
	env := map[string]string{"ASSENT_DEBUG_ADDR": "127.0.0.1:6061"}
	cfg, err = loadConfig([]string{"-data", t.TempDir()}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DebugAddr != "127.0.0.1:6061" {
		t.Errorf("env: DebugAddr = %q", cfg.DebugAddr)
	}
}

// TestServeDebug checks that the profiler answers on its own listener and
// stops with its context.
func TestServeDebug(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	if err := serveDebug(ctx, addr, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "goroutine profile") {
		t.Fatalf("profiler answered %d %.80q", resp.StatusCode, body)
	}
	cancel()
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := http.Get("http://" + addr + "/debug/pprof/"); err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the profiler still answers after its context ended")
		}
	}
}
