package main

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/assent-auth/assent/adminclient"
	"github.com/assent-auth/assent/authserver"
	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
	"github.com/assent-auth/assent/store/bolt"
)

// world is a real Assent server on a fresh bbolt file, its one client
// the shop, with a shopper whose phone is connected to the server.
type world struct {
	as    *httptest.Server
	phone *deviceclient.Identity
	conn  *deviceclient.Conn
}

// newWorld starts the Assent server with client as the shop's
// registration and creates shopper@example.com, with password pw unless
// it is empty, and her phone's app device, connected until the test ends.
func newWorld(t *testing.T, client oidcprovider.ClientConfig, pw string) *world {
	t.Helper()
	ctx := t.Context()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "assent.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	keys, _ := profiles.NewKeyring(bytes.Repeat([]byte{9}, 32))
	ps := profiles.New(profiles.Config{Store: db, Keys: keys,
		Hasher: profiles.NewHasher(profiles.Argon2Params{Memory: 1024, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})})
	as := httptest.NewUnstartedServer(nil)
	issuer, _ := url.Parse("http://" + as.Listener.Addr().String())
	srv, err := authserver.New(authserver.Config{Issuer: issuer, Store: db, Profiles: ps, Keys: keys,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)), AdminToken: []byte(adminToken),
		OIDCClients: []oidcprovider.ClientConfig{client}})
	if err != nil {
		t.Fatal(err)
	}
	as.Config.Handler = srv
	as.Start()
	t.Cleanup(as.Close)

	if _, err := ps.Create(ctx, profiles.NewUser{Email: "shopper@example.com", Password: pw, EmailVerified: true}); err != nil {
		t.Fatal(err)
	}
	enr, err := adminclient.New(as.URL, adminToken).StartAppEnrollment(ctx, "shopper@example.com")
	if err != nil {
		t.Fatal(err)
	}
	phone, err := deviceclient.Activate(ctx, nil, as.URL, enr.Code, "Phone", "cli")
	if err != nil {
		t.Fatal(err)
	}
	conn, err := phone.Connect(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return &world{as: as, phone: phone, conn: conn}
}

// nextRequest returns the next approval request the app receives.
func nextRequest(ctx context.Context, t *testing.T, conn *deviceclient.Conn) push.RequestView {
	t.Helper()
	for {
		msg, err := conn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Type == push.MsgRequest {
			return *msg.Request
		}
	}
}

// approve answers req in the app with number and waits for the server to
// accept the decision.
func (w *world) approve(ctx context.Context, t *testing.T, req push.RequestView, number int) {
	t.Helper()
	d, _ := w.phone.Sign(req, deviceclient.Answer{Approve: true, Number: number})
	if err := w.conn.Send(d); err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := w.conn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Type == push.MsgResult {
			if !msg.OK {
				t.Fatalf("decision refused: %+v", msg)
			}
			return
		}
	}
}
