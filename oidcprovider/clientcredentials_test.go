package oidcprovider

import (
	"strings"
	"testing"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

func TestClientCredentialsOptions(t *testing.T) {
	secret := strings.Repeat("s", 32)
	for _, tc := range []struct {
		name    string
		c       ClientConfig
		wantErr string
	}{
		{"service client without redirect URIs", ClientConfig{ID: "svc", Secret: secret, GrantTypes: []string{"client_credentials"}}, ""},
		{"public client", ClientConfig{ID: "p", Public: true, RedirectURIs: []string{"https://rp.example/cb"},
			GrantTypes: []string{"client_credentials"}}, "confidential clients only"},
		{"code grant needs redirect URIs", ClientConfig{ID: "c", Secret: secret,
			GrantTypes: []string{"client_credentials", "authorization_code"}}, "redirect_uris"},
		{"default grants need redirect URIs", ClientConfig{ID: "d", Secret: secret}, "redirect_uris"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate("client")
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("Validate = %v, want %q", err, tc.wantErr)
			}
		})
	}
	// The grant is opt-in: a client without a list has the user grants
	// only.
	def := ClientConfig{ID: "d", Secret: secret}.stored()
	if !clientAllowsGrant(def, oidc.GrantTypeCode) || clientAllowsGrant(def, oidc.GrantTypeClientCredentials) {
		t.Error("default grants")
	}
	svc := ClientConfig{ID: "s", Secret: secret, GrantTypes: []string{"client_credentials"}}.stored()
	if clientAllowsGrant(svc, oidc.GrantTypeCode) || !clientAllowsGrant(svc, oidc.GrantTypeClientCredentials) {
		t.Error("service client grants")
	}
}
