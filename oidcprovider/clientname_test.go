package oidcprovider

import (
	"strings"
	"testing"
)

func TestClientNameValidate(t *testing.T) {
	base := ClientConfig{ID: "shop", Secret: strings.Repeat("s", 32), RedirectURIs: []string{"https://shop.example/cb"}}
	for name, ok := range map[string]bool{
		"":                       true,
		"Acme Books":             true,
		"Café Zürich & Co":       true,
		strings.Repeat("x", 100): true,
		strings.Repeat("x", 101): false,
		"tab\there":              false,
		"Bank\u202egnp.exe":      false, // right-to-left override
		"zero\u200bwidth":        false,
		" leading":               false,
		"\xff":                   false,
	} {
		c := base
		c.Name = name
		err := c.Validate("clients[0]")
		if ok != (err == nil) {
			t.Errorf("name %q: %v", name, err)
		}
		if err != nil && !strings.Contains(err.Error(), "clients[0].name") {
			t.Errorf("name %q: error does not name the field: %v", name, err)
		}
	}
	if got := base.stored(); got.Name != "" {
		t.Errorf("stored name %q", got.Name)
	}
	base.Name = "Acme Books"
	if got := base.stored(); got.Name != "Acme Books" {
		t.Errorf("stored name %q", got.Name)
	}
}
