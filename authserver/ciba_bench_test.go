package authserver

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/assent-auth/assent/adminclient"
	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
	"github.com/assent-auth/assent/store/bolt"
)

// BenchmarkCIBAPaymentApproval runs whole CIBA payment approvals over
// loopback HTTP against a server on a real bbolt file with fsync: the
// merchant's backchannel request (client authentication, RAR validation,
// risk assessment with the bbolt history, the push request), delivery to
// the reference device client over its websocket, the device's signed
// decision with the right number, and the merchant's token request (ES256
// ID and access tokens). Each of 64 workers owns one user and one phone;
// the generator runs in the same process. It reports approvals per second
// and the p50/p99 latency of one approval.
func BenchmarkCIBAPaymentApproval(b *testing.B) {
	const workers = 64
	db, err := bolt.Open(filepath.Join(b.TempDir(), "assent.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	keys, _ := profiles.NewKeyring(bytes.Repeat([]byte{5}, 32))
	ps := profiles.New(profiles.Config{Store: db, Keys: keys, Hasher: profiles.NewHasher(testParams)})
	ts := httptest.NewUnstartedServer(nil)
	issuer, _ := url.Parse("http://" + ts.Listener.Addr().String())
	srv, err := New(Config{Issuer: issuer, Store: db, Profiles: ps, Keys: keys, Logger: slog.New(slog.DiscardHandler),
		AdminToken:  []byte(testAdminToken),
		PushFatigue: push.Fatigue{MaxRequests: 1 << 30, MaxDenials: 1 << 30},
		OIDCClients: []oidcprovider.ClientConfig{{ID: "shop", Secret: cibaSecret, CIBAMode: "poll"}}})
	if err != nil {
		b.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	b.Cleanup(ts.Close)
	ctx := b.Context()
	admin := adminclient.New(ts.URL, testAdminToken)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: workers * 2}}

	type phone struct {
		email string
		id    *deviceclient.Identity
		conn  *deviceclient.Conn
	}
	phones := make([]phone, workers)
	for i := range phones {
		email := fmt.Sprintf("shopper%d@example.com", i)
		if _, err := ps.Create(ctx, profiles.NewUser{Email: email, EmailVerified: true}); err != nil {
			b.Fatal(err)
		}
		enr, err := admin.StartAppEnrollment(ctx, email)
		if err != nil {
			b.Fatal(err)
		}
		id, err := deviceclient.Activate(ctx, hc, ts.URL, enr.Code, "Phone", "cli")
		if err != nil {
			b.Fatal(err)
		}
		conn, err := id.Connect(ctx)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { conn.Close() })
		phones[i] = phone{email: email, id: id, conn: conn}
	}
	post := func(path string, form url.Values) (int, map[string]any, error) {
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, ts.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("shop", cibaSecret)
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		var m map[string]any
		err = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&m)
		return resp.StatusCode, m, err
	}
	approve := func(p phone, n int) error {
		details := paymentDetails(fmt.Sprintf("%d.%02d", 40+n%50, n%100), "EUR", "Acme Shop")
		status, m, err := post("/bc-authorize", url.Values{"scope": {"openid"}, "login_hint": {p.email},
			"binding_message": {fmt.Sprintf("Order %d", n)}, "authorization_details": {details}})
		if err != nil || status != 200 {
			return fmt.Errorf("backchannel: %d %v %v", status, m, err)
		}
		id, _ := m["auth_req_id"].(string)
		number, _ := m["binding_number"].(float64)
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		for {
			msg, err := p.conn.Next(cctx)
			if err != nil {
				return fmt.Errorf("phone: %w", err)
			}
			if msg.Type != push.MsgRequest || msg.Request == nil {
				continue
			}
			d, _ := p.id.Sign(*msg.Request, deviceclient.Answer{Approve: true, Number: int(number)})
			if err := p.conn.Send(d); err != nil {
				return err
			}
			break
		}
		for {
			msg, err := p.conn.Next(cctx)
			if err != nil {
				return fmt.Errorf("phone: %w", err)
			}
			if msg.Type == push.MsgResult {
				if !msg.OK {
					return fmt.Errorf("decision refused: %s", msg.Reason)
				}
				break
			}
		}
		status, m, err = post("/oauth/token", url.Values{"grant_type": {oidcprovider.GrantTypeCIBA}, "auth_req_id": {id}})
		if err != nil || status != 200 || m["id_token"] == nil {
			return fmt.Errorf("token: %d %v %v", status, m, err)
		}
		return nil
	}

	var next, gid atomic.Int64
	var mu sync.Mutex
	lat := make([]time.Duration, 0, b.N)
	// At most one goroutine per phone: workers in all (64 on 2 cores).
	b.SetParallelism(max(1, workers/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		p := phones[int(gid.Add(1)-1)]
		var mine []time.Duration
		for pb.Next() {
			t0 := time.Now()
			if err := approve(p, int(next.Add(1))); err != nil {
				b.Error(err)
				return
			}
			mine = append(mine, time.Since(t0))
		}
		mu.Lock()
		lat = append(lat, mine...)
		mu.Unlock()
	})
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "approvals/s")
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
	// Process CPU (server, generator and phones together) per approval.
	b.ReportMetric(float64(cpu.Microseconds())/1000/float64(len(lat)), "cpu-ms/approval")
}
