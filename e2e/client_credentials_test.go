package e2e

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// TestClientCredentialsGrant: a service client registered with the CLI
// (no redirect URI) gets an access token for itself from the real server,
// and a client that did not opt in is refused.
func TestClientCredentialsGrant(t *testing.T) {
	t.Parallel()
	s := startServer(t, filepath.Join(t.TempDir(), "data"))
	out, errOut, code := s.cli("", "client", "create", "--id", "reports", "--grant-type", "client_credentials",
		"--scope", "reports:read", "--scope", "reports:write")
	if code != 0 || secretOf(out) == "" || !strings.Contains(out, "client_credentials") {
		t.Fatalf("create service client: %d %q %q", code, out, errOut)
	}
	cfg := clientcredentials.Config{ClientID: "reports", ClientSecret: secretOf(out), TokenURL: s.url + "/oauth/token",
		Scopes: []string{"reports:read"}}
	tok, err := cfg.Token(t.Context())
	if err != nil {
		t.Fatalf("client credentials grant: %v", err)
	}
	if tok.AccessToken == "" || tok.RefreshToken != "" || tok.Extra("scope") != "reports:read" {
		t.Errorf("token = %+v", tok)
	}

	out, errOut, code = s.cli("", "client", "create", "--id", "web", "--redirect-uri", "https://web.example/cb")
	if code != 0 {
		t.Fatalf("create web client: %d %q %q", code, out, errOut)
	}
	web := clientcredentials.Config{ClientID: "web", ClientSecret: secretOf(out), TokenURL: s.url + "/oauth/token"}
	var re *oauth2.RetrieveError
	if _, err := web.Token(t.Context()); !errors.As(err, &re) || re.ErrorCode != "unauthorized_client" {
		t.Errorf("client without the grant: %v", err)
	}
}
