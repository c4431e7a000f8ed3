package main

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/adminclient"
	"github.com/assent-auth/assent/authserver"
	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
	"github.com/assent-auth/assent/store/bolt"
)

const (
	adminToken = "demo-admin-token-0123456789abcdef"
	shopSecret = "demo-shop-secret-0123456789abcdefgh"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestShopperPaysInTheDemoShop runs the demo end to end: a real Assent
// server, the shop, a shopper's browser and the reference app.
func TestShopperPaysInTheDemoShop(t *testing.T) {
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
		OIDCClients: []oidcprovider.ClientConfig{{ID: "demoshop", Secret: shopSecret, CIBAMode: "poll"}}})
	if err != nil {
		t.Fatal(err)
	}
	as.Config.Handler = srv
	as.Start()
	t.Cleanup(as.Close)

	// The shopper and her phone.
	if _, err := ps.Create(ctx, profiles.NewUser{Email: "shopper@example.com", EmailVerified: true}); err != nil {
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
	defer conn.Close()

	clock := &testClock{t: time.Now()}
	sh, err := newShop(ctx, Config{Issuer: as.URL, ClientID: "demoshop", ClientSecret: shopSecret, Now: clock.Now,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))})
	if err != nil {
		t.Fatal(err)
	}
	shopSrv := httptest.NewServer(sh)
	t.Cleanup(shopSrv.Close)

	browser := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) string {
		resp, err := browser.Get(shopSrv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if page := get("/"); !strings.Contains(page, "Pay EUR 89.90 with Assent") {
		t.Fatalf("cart page: %s", page)
	}
	resp, err := browser.PostForm(shopSrv.URL+"/pay", url.Values{"email": {"shopper@example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	orderPath := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(orderPath, "/order/") {
		t.Fatalf("pay: %d %q", resp.StatusCode, orderPath)
	}
	page := get(orderPath)
	m := regexp.MustCompile(`class=num>(\d+)<`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("order page shows no number: %s", page)
	}
	number, _ := strconv.Atoi(m[1])

	// The phone shows the payment and approves with the shop's number.
	var req push.RequestView
	for req.ID == "" {
		msg, err := conn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Type == push.MsgRequest {
			req = *msg.Request
		}
	}
	if req.Amount != "89.90" || req.Currency != "EUR" || !strings.HasPrefix(req.Payee, "Demo Shop") || !strings.Contains(req.RPName, "Order") {
		t.Fatalf("the app shows %+v", req)
	}
	d, _ := phone.Sign(req, deviceclient.Answer{Approve: true, Number: number})
	if err := conn.Send(d); err != nil {
		t.Fatal(err)
	}
	for {
		msg, err := conn.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if msg.Type == push.MsgResult {
			if !msg.OK {
				t.Fatalf("decision refused: %+v", msg)
			}
			break
		}
	}
	clock.Add(6 * time.Second)
	if page := get(orderPath); !strings.Contains(page, "Paid. Your goods are on their way.") || !strings.Contains(page, "amr swk mca") {
		t.Fatalf("order page after approval: %s", page)
	}
}
