package authserver

import (
	"context"
	"testing"

	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/push/deviceclient"
)

// appUser signs email up with the password "correct horse battery" in a
// new browser, enrolls an app device for it and signs out, so that the
// next sign-in asks for the app.
func (e *env) appUser(email string) (*browser, *deviceclient.Identity) {
	e.t.Helper()
	b := e.browser()
	b.signUp(email, "correct horse battery")
	id := b.enrollApp(e.t.Context())
	b.signOut()
	return b, id
}

// connectApp opens id's websocket to the server; it is closed when the
// test ends.
func connectApp(t *testing.T, id *deviceclient.Identity) *deviceclient.Conn {
	t.Helper()
	conn, err := id.Connect(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// forgedDevice enrolls two app devices for b's user and returns them
// with a copy of the second that claims the first's device ID, so that
// its hello is signed by the wrong key.
func (b *browser) forgedDevice(ctx context.Context) (id, other *deviceclient.Identity, forged deviceclient.Identity) {
	b.t.Helper()
	id = b.enrollApp(ctx)
	other = b.enrollApp(ctx)
	forged = *other
	forged.DeviceID = id.DeviceID // other's key, id's name
	return id, other, forged
}

// webClient is the first-party relying party web, redirecting to
// rpCallback.
func webClient() oidcprovider.ClientConfig {
	return oidcprovider.ClientConfig{ID: "web", Name: "Example Web Shop", Secret: rpSecret, RedirectURIs: []string{rpCallback}, FirstParty: true}
}

// newCheckoutEnv starts a server with opts and the client web, and signs
// ada@example.com up in a browser.
func newCheckoutEnv(t *testing.T, opts ...envOption) (*env, *browser) {
	t.Helper()
	e := newEnv(t, append(opts, withClients(webClient()))...)
	b := e.browser()
	b.signUp("ada@example.com", password)
	return e, b
}
