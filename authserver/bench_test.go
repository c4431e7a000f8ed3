package authserver

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/bolt"
)

// cpuTime returns the CPU time (user+system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchServer is a server on a real bbolt file (with fsync) and the
// production argon2id parameters.
func benchServer(b *testing.B) (*Server, *profiles.Service, *profiles.Hasher) {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "assent.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	keys, _ := profiles.NewKeyring(bytes.Repeat([]byte{3}, 32))
	h := profiles.NewHasher(profiles.DefaultArgon2Params)
	ps := profiles.New(profiles.Config{Store: db, Keys: keys, Hasher: h})
	issuer, _ := url.Parse("http://localhost:8080")
	srv, err := New(Config{Issuer: issuer, Store: db, Profiles: ps, Keys: keys, Logger: slog.New(slog.DiscardHandler), AdminToken: []byte(testAdminToken)})
	if err != nil {
		b.Fatal(err)
	}
	return srv, ps, h
}

// BenchmarkSignIn measures a complete password sign-in through the handler
// (form parsing, CSRF, user look-up, argon2id verify, failure-counter reset,
// session creation, audit append, redirect) next to the argon2id verify
// alone, in one run. The difference is what Assent adds around the hash;
// cpu-ns/op is process CPU time, wall time also includes fsync waits.
func BenchmarkSignIn(b *testing.B) {
	srv, ps, h := benchServer(b)
	if _, err := ps.Create(b.Context(), profiles.NewUser{Email: "bench@example.com", Password: "bench passphrase"}); err != nil {
		b.Fatal(err)
	}
	const csrf = "0123456789012345678901234567890123456789abc"
	body := url.Values{"csrf": {csrf}, "email": {"bench@example.com"}, "password": {"bench passphrase"}}.Encode()
	enc, _ := h.Hash("bench passphrase")

	run := func(b *testing.B, f func()) {
		start := cpuTime()
		b.ResetTimer()
		for b.Loop() {
			f()
		}
		b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
	}
	b.Run("argon2id-verify", func(b *testing.B) {
		run(b, func() { h.Verify(enc, "bench passphrase") })
	})
	b.Run("full", func(b *testing.B) {
		run(b, func() {
			req := httptest.NewRequest("POST", "/signin", strings.NewReader(body))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.AddCookie(&http.Cookie{Name: "assent_csrf", Value: csrf})
			req.RemoteAddr = "192.0.2.1:1234"
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code != http.StatusSeeOther {
				b.Fatalf("sign-in: %d", w.Code)
			}
		})
	})
}

// BenchmarkSessionLookup measures finding the session of a request in the
// store (target: under 10 µs).
func BenchmarkSessionLookup(b *testing.B) {
	srv, ps, _ := benchServer(b)
	id, _ := ps.Create(b.Context(), profiles.NewUser{Email: "s@example.com"})
	w := httptest.NewRecorder()
	req := httptest.NewRequest("GET", "/account", nil)
	if err := srv.startSession(w, req, id.ID, []string{"pwd"}); err != nil {
		b.Fatal(err)
	}
	req = httptest.NewRequest("GET", "/account", nil)
	for _, c := range w.Result().Cookies() {
		req.AddCookie(c)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := srv.session(req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssessBoltHistory measures a risk assessment whose history is
// read from the bbolt store (50 past sign-ins, 200 payments), as the server
// does on every sign-in and payment (target: under 100 µs).
func BenchmarkAssessBoltHistory(b *testing.B) {
	srv, ps, _ := benchServer(b)
	id, _ := ps.Create(b.Context(), profiles.NewUser{Email: "h@example.com"})
	now := time.Now().UTC()
	for i := range 50 {
		srv.store.AppendSignIn(b.Context(), id.ID, store.SignInRecord{Time: now.Add(-time.Duration(50-i) * 24 * time.Hour),
			IP: "193.166.3.1", Country: "FI", Lat: 60.17, Lon: 24.97, RadiusKm: 328, Precision: "country",
			DeviceID: "d_bench", Browser: "Chrome", OS: "Linux", Strong: true})
	}
	for i := range 200 {
		srv.store.AppendPayment(b.Context(), id.ID, store.PaymentRecord{Time: now.Add(-time.Duration(200-i) * 6 * time.Hour),
			Amount: int64(1000 + i*37%5000), Currency: "EUR", Payee: "payee-" + strconv.Itoa(i%12), Strong: i%5 == 0})
	}
	for _, kind := range []risk.Kind{risk.KindLogin, risk.KindPayment} {
		b.Run(string(kind), func(b *testing.B) {
			ev := risk.Event{Kind: kind, UserID: id.ID, IP: "193.166.3.1", DeviceID: "d_bench", Channel: risk.ChannelWeb,
				UserAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36"}
			if kind == risk.KindPayment {
				ev.Payment = risk.Payment{Amount: 2490, Currency: "EUR", Payee: "payee-3"}
			}
			b.ReportAllocs()
			for b.Loop() {
				ev.Time = time.Time{}
				if _, err := srv.risk.Assess(b.Context(), ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
