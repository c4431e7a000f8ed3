package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/assent-auth/assent/oidcprovider"
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
	w := newWorld(t, oidcprovider.ClientConfig{ID: "demoshop", Secret: shopSecret, CIBAMode: "poll"}, "")

	clock := &testClock{t: time.Now()}
	sh, err := newShop(ctx, Config{Issuer: w.as.URL, ClientID: "demoshop", ClientSecret: shopSecret, Now: clock.Now,
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
	req := nextRequest(ctx, t, w.conn)
	if req.Amount != "89.90" || req.Currency != "EUR" || !strings.HasPrefix(req.Payee, "Demo Shop") || !strings.Contains(req.RPName, "Order") {
		t.Fatalf("the app shows %+v", req)
	}
	w.approve(ctx, t, req, number)
	clock.Add(6 * time.Second)
	if page := get(orderPath); !strings.Contains(page, "Paid. Your goods are on their way.") || !strings.Contains(page, "amr swk mca") {
		t.Fatalf("order page after approval: %s", page)
	}
}
