package authserver

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"

	"github.com/assent-auth/assent/oidcprovider"
)

// testImage encodes a w x h image with enc.
func testImage(t *testing.T, w, h int, enc func(*bytes.Buffer, image.Image) error) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for x := range w {
		for y := range h {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 200, 255})
		}
	}
	var buf bytes.Buffer
	if err := enc(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func encPNG(b *bytes.Buffer, m image.Image) error  { return png.Encode(b, m) }
func encJPEG(b *bytes.Buffer, m image.Image) error { return jpeg.Encode(b, m, nil) }

// TestClientLogo: a client's logo, from the configuration file or the
// admin API, is served by the server itself as the image it was checked
// to be, and shown on the consent page and the list of connected
// applications; a client without one shows none; anything but a small
// PNG or JPEG is refused at registration.
func TestClientLogo(t *testing.T) {
	logoPNG := testImage(t, 64, 64, encPNG)
	logoJPEG := testImage(t, 48, 48, encJPEG)
	e := newEnv(t, withClients(
		oidcprovider.ClientConfig{ID: "books", Name: "Acme Books", Secret: rpSecret, RedirectURIs: []string{rpCallback}, Logo: logoPNG},
		oidcprovider.ClientConfig{ID: "plain", Secret: rpSecret, RedirectURIs: []string{rpCallback}},
	))
	b := e.browser()
	b.signUp("ada@example.com", password)
	verifier := oauth2.GenerateVerifier()
	consent := func(p *rp) response {
		t.Helper()
		u, r := b.authorize(p.cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
		if r.status != http.StatusOK || u.Path != "/oidc/resume" {
			t.Fatalf("%s: ended at %v (%d), want the consent page", p.cfg.ClientID, u, r.status)
		}
		if r := b.submit(u.RequestURI(), "/oidc/consent", url.Values{"id": {u.Query().Get("id")}, "decision": {"allow"}}); r.status != http.StatusSeeOther {
			t.Fatalf("allow: %d", r.status)
		}
		return r
	}
	wantLogo := func(path, typ string, want []byte) {
		t.Helper()
		r := e.browser().get(path)
		if r.status != http.StatusOK || r.header.Get("Content-Type") != typ || r.body != string(want) {
			t.Errorf("GET %s: %d %q, %d bytes", path, r.status, r.header.Get("Content-Type"), len(r.body))
		}
		if r.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: no nosniff", path)
		}
	}

	_, r := b.authorize(e.rp("books").cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	mustContain(t, "consent page", r.body, `<img class="client-logo" src="/clients/books/logo"`)
	consent(e.rp("books"))
	_, r = b.authorize(e.rp("plain").cfg.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier)))
	if strings.Contains(r.body, "client-logo") {
		t.Error("a client without a logo shows one")
	}
	consent(e.rp("plain"))
	wantLogo("/clients/books/logo", "image/png", logoPNG)
	for _, path := range []string{"/clients/plain/logo", "/clients/nobody/logo"} {
		if r := e.browser().get(path); r.status != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, r.status)
		}
	}

	// Registered through the admin API, as `assent client create --logo`.
	cr := e.admin("POST", "/admin/v1/clients", map[string]any{"id": "svc", "name": "Service Desk", "redirect_uris": []string{rpCallback}, "logo": logoJPEG})
	var view struct {
		Secret  string `json:"secret"`
		LogoURI string `json:"logo_uri"`
	}
	if cr.status != http.StatusCreated || json.Unmarshal([]byte(cr.body), &view) != nil || view.LogoURI != "/clients/svc/logo" {
		t.Fatalf("create client: %d %s", cr.status, cr.body)
	}
	wantLogo("/clients/svc/logo", "image/jpeg", logoJPEG)
	svc := e.rp("svc")
	svc.cfg.ClientSecret = view.Secret
	consent(svc)
	apps := b.get("/security/apps").body
	for _, want := range []string{`src="/clients/books/logo"`, `src="/clients/svc/logo"`} {
		mustContain(t, "apps page", apps, want)
	}
	if strings.Contains(apps, `src="/clients/plain/logo"`) {
		t.Error("the apps page shows a logo for a client without one")
	}

	big := testImage(t, 600, 10, encPNG)
	huge := append(testImage(t, 8, 8, encPNG), bytes.Repeat([]byte{0}, 40<<10)...)
	for name, bad := range map[string][]byte{
		"svg":       []byte(`<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>`),
		"html":      []byte("<html><script>alert(1)</script></html>"),
		"gif":       []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"),
		"too wide":  big,
		"too large": huge,
	} {
		r := e.admin("POST", "/admin/v1/clients", map[string]any{"id": "bad", "redirect_uris": []string{rpCallback}, "logo": bad})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, "client.logo") {
			t.Errorf("logo %s: %d %s", name, r.status, r.body)
		}
	}
	if r := e.admin("GET", "/admin/v1/clients/bad", nil); r.status != http.StatusNotFound {
		t.Errorf("a client with a bad logo was stored: %d", r.status)
	}
}
