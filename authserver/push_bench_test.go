package authserver

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/deviceclient"
	"github.com/assent-auth/assent/store"
	"github.com/assent-auth/assent/store/bolt"
)

// Push load benchmarks: real websockets on loopback between the server's
// device channel and the reference device client.

// pushBenchServer is a server on its own loopback listener.
type pushBenchServer struct {
	srv *Server
	db  *bolt.DB
	url string
}

func newPushBenchServer(b *testing.B, noSync bool) *pushBenchServer {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "assent.db"), bolt.Options{NoSync: noSync})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	keys, _ := profiles.NewKeyring(bytes.Repeat([]byte{3}, 32))
	ps := profiles.New(profiles.Config{Store: db, Keys: keys, Hasher: profiles.NewHasher(testParams)})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	issuer, _ := url.Parse("http://" + ln.Addr().String())
	srv, err := New(Config{Issuer: issuer, Store: db, Profiles: ps, Keys: keys, Logger: slog.New(slog.DiscardHandler),
		AdminToken: []byte(testAdminToken), PushFatigue: push.Fatigue{MaxRequests: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	hs := &http.Server{Handler: srv}
	go hs.Serve(ln)
	b.Cleanup(func() { hs.Close() })
	return &pushBenchServer{srv: srv, db: db, url: issuer.String()}
}

// enroll creates n users with one app device each, straight in the store
// (the enrollment ceremony is tested elsewhere; its QR rendering would
// dominate here), and returns the devices' identities.
func (p *pushBenchServer) enroll(b *testing.B, n int) []*deviceclient.Identity {
	ctx := b.Context()
	now := time.Now()
	ids := make([]*deviceclient.Identity, n)
	for i := range n {
		userID := fmt.Sprintf("u_bench%06d", i)
		if err := p.db.CreateUser(ctx, store.User{ID: userID, CreatedAt: now, UpdatedAt: now}); err != nil {
			b.Fatal(err)
		}
		priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		pub, _ := x509.MarshalPKIXPublicKey(&priv.PublicKey)
		pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
		data, _ := json.Marshal(map[string]any{"public_key": pub, "platform": "cli"})
		devID := fmt.Sprintf("app_bench%06d", i)
		if err := p.db.CreateFactor(ctx, store.Factor{ID: devID, UserID: userID, Kind: store.FactorAppDevice, Name: "Bench",
			LookupKey: []byte(devID), Data: data, CreatedAt: now}); err != nil {
			b.Fatal(err)
		}
		ids[i] = &deviceclient.Identity{Server: p.url, DeviceID: devID, Key: pkcs8}
	}
	return ids
}

// raiseFileLimit lifts the soft limit on open files to want (and the hard
// one too when allowed); it returns the soft limit in force.
func raiseFileLimit(want uint64) uint64 {
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) != nil {
		return 0
	}
	if rl.Cur >= want {
		return rl.Cur
	}
	next := rl
	next.Cur = want
	if next.Max < want {
		next.Max = want
	}
	if syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next) != nil {
		next = rl
		next.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &next)
	}
	syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl)
	return rl.Cur
}

// serverBytes is the memory the Go runtime holds for live objects and
// goroutine stacks, after a full collection.
func serverBytes() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc + ms.StackInuse
}

const pushClientsEnv = "ASSENT_PUSH_BENCH_CLIENTS"

// BenchmarkPushIdleConnections connects 10,000 app devices (one per user)
// to one server over loopback websockets and reports the server's memory
// per connection: live heap plus goroutine stacks, after a collection,
// minus the same before the devices connected. The devices run in a child
// process (runPushBenchClients), so their side is not counted.
func BenchmarkPushIdleConnections(b *testing.B) {
	n := 10_000
	if got := raiseFileLimit(uint64(n) + 1024); got < uint64(n)+256 {
		n = int(got) - 256
		b.Logf("open-file limit %d: connecting %d devices", got, n)
	}
	p := newPushBenchServer(b, true)
	ids := p.enroll(b, n)
	goroutines0 := runtime.NumGoroutine()
	before := serverBytes()
	b.ResetTimer()
	start := time.Now()
	sc, stop := connectIdle(b, ids)
	defer stop()
	elapsed := time.Since(start)
	b.StopTimer()
	// Every channel is authenticated and registered: a request to the
	// last user reaches its device (the child confirms on stdout).
	after := serverBytes()
	perConn := float64(int64(after)-int64(before)) / float64(n)
	b.ReportMetric(perConn, "bytes/conn")
	b.ReportMetric(float64(runtime.NumGoroutine()-goroutines0)/float64(n), "goroutines/conn")
	b.ReportMetric(float64(elapsed.Milliseconds()), "connect-all-ms")
	b.ReportMetric(0, "ns/op")
	if _, err := p.srv.push.Create(b.Context(), push.NewRequest{UserID: fmt.Sprintf("u_bench%06d", n-1), Kind: store.PushSignIn, RPName: "Bench"}); err != nil {
		b.Fatal(err)
	}
	for sc.Scan() {
		if bytes.HasPrefix(sc.Bytes(), []byte("request ")) {
			return
		}
	}
	b.Fatal("the last device did not receive its request")
}

// connectIdle connects the devices from a child process (runPushBenchClients),
// so that their side is not counted in this one, and returns once all are
// authenticated. The scanner reads the child's further lines; stop ends
// it.
func connectIdle(b *testing.B, ids []*deviceclient.Identity) (*bufio.Scanner, func()) {
	file := filepath.Join(b.TempDir(), "devices.json")
	raw, _ := json.Marshal(ids)
	if err := os.WriteFile(file, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.CommandContext(b.Context(), exe)
	cmd.Env = append(os.Environ(), pushClientsEnv+"="+file)
	cmd.Stderr = os.Stderr
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	stop := func() { stdin.Close(); cmd.Wait() }
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("connected ")); ok {
			if got, _ := strconv.Atoi(string(v)); got != len(ids) {
				stop()
				b.Fatalf("the child connected %d of %d devices", got, len(ids))
			}
			return sc, stop
		}
	}
	stop()
	b.Fatal("the device process ended before connecting")
	return nil, nil
}

// TestMain runs the test binary as the device side of the push benchmarks
// when connectIdle starts it with ASSENT_PUSH_BENCH_CLIENTS naming the
// devices file, and as the package's tests otherwise.
func TestMain(m *testing.M) {
	if file := os.Getenv(pushClientsEnv); file != "" {
		if err := runPushBenchClients(file); err != nil {
			fmt.Fprintln(os.Stderr, "push bench clients:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runPushBenchClients connects every device in file, prints "connected N",
// prints "request ID" for each request received, and returns when its
// stdin closes.
func runPushBenchClients(file string) error {
	raw, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var ids []*deviceclient.Identity
	if err := json.Unmarshal(raw, &ids); err != nil {
		return err
	}
	raiseFileLimit(uint64(len(ids)) + 1024)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	conns := make([]*deviceclient.Conn, len(ids))
	var failed error
	for i, id := range ids {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			var c *deviceclient.Conn
			var err error
			for try := 0; try < 5; try++ {
				if c, err = id.Connect(ctx); err == nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if err != nil {
				mu.Lock()
				failed = err
				mu.Unlock()
				return
			}
			conns[i] = c
		})
	}
	wg.Wait()
	if failed != nil {
		return failed
	}
	out := bufio.NewWriter(os.Stdout)
	for _, c := range conns {
		go func() {
			for {
				m, err := c.Next(ctx)
				if err != nil {
					return
				}
				if m.Type == push.MsgRequest {
					mu.Lock()
					fmt.Fprintf(out, "request %s\n", m.Request.ID)
					out.Flush()
					mu.Unlock()
				}
			}
		}()
	}
	mu.Lock()
	fmt.Fprintf(out, "connected %d\n", len(conns))
	out.Flush()
	mu.Unlock()
	io := bufio.NewReader(os.Stdin)
	io.ReadByte() // until the parent closes it
	return nil
}

// BenchmarkPushApprovalRoundTrip measures one approval end to end at a
// fixed rate of 500 per second: the request created (stored with fsync,
// audited), delivered over a loopback websocket to the device client,
// signed there, sent back, verified (signature, amount and payee, number)
// and committed first-wins, and the waiting side (push.Service.Wait)
// notified. 64 users each have one connected device that approves at once.
// It reports the latency's p50 and p99 in milliseconds.
func BenchmarkPushApprovalRoundTrip(b *testing.B) {
	pushRoundTrip(b, 0)
}

// BenchmarkPushApprovalRoundTripWith10kIdle is the same with 10,000 more
// app devices connected and idle (from a child process), as the issue's
// target has it.
func BenchmarkPushApprovalRoundTripWith10kIdle(b *testing.B) {
	pushRoundTrip(b, 10_000)
}

func pushRoundTrip(b *testing.B, idle int) {
	const users, rate = 64, 500
	if idle > 0 {
		if got := raiseFileLimit(uint64(users+idle) + 1024); got < uint64(users+idle)+256 {
			idle = int(got) - 256 - users
			b.Logf("open-file limit %d: %d idle devices", got, idle)
		}
	}
	p := newPushBenchServer(b, os.Getenv("ASSENT_BENCH_NOSYNC") != "") // 1: no fsync, to see the rest alone
	ids := p.enroll(b, users+idle)
	if idle > 0 {
		_, stop := connectIdle(b, ids[users:])
		defer stop()
		ids = ids[:users]
	}
	ctx, cancel := context.WithCancel(b.Context())
	defer cancel()
	var connected sync.WaitGroup
	for i, id := range ids {
		replies := make(chan deviceclient.Reply, 4)
		userID := fmt.Sprintf("u_bench%06d", i)
		connected.Add(1)
		go id.RunLive(ctx, func(m push.Message) {
			switch m.Type {
			case push.MsgRequest:
				// The person reads the number off the browser; here the
				// benchmark reads it from the server.
				r, err := p.srv.push.Get(ctx, userID, m.Request.ID)
				if err != nil {
					return
				}
				replies <- deviceclient.Reply{Request: *m.Request, Answer: deviceclient.Answer{Approve: true, Number: r.Number}}
			case push.MsgError:
				if ctx.Err() == nil {
					b.Errorf("device %s: %s", id.DeviceID, m.Reason)
				}
			}
		}, replies)
		// Connected once the server has authenticated it (and recorded the
		// device as used).
		go func() {
			defer connected.Done()
			for ctx.Err() == nil {
				if f, err := p.db.GetFactor(ctx, userID, id.DeviceID); err == nil && !f.LastUsedAt.IsZero() {
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	connected.Wait()

	free := make(chan int, users)
	for i := range users {
		free <- i
	}
	lat := make([]float64, 0, b.N)
	var mu sync.Mutex
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for range b.N {
		<-tick.C
		u := <-free
		wg.Go(func() {
			defer func() { free <- u }()
			userID := fmt.Sprintf("u_bench%06d", u)
			t0 := time.Now()
			r, err := p.srv.push.Create(ctx, push.NewRequest{UserID: userID, Kind: store.PushPayment, RPName: "Bench Shop",
				Amount: "49.90", Currency: "EUR", Payee: "Example Shop Oy", IP: "192.0.2.1", Country: "FI"})
			if err != nil {
				b.Error(err)
				return
			}
			got, err := p.srv.push.Wait(ctx, userID, r.ID)
			if err != nil || got.Status != store.PushApproved {
				b.Errorf("wait: %s %v", got.Status, err)
				return
			}
			d := time.Since(t0)
			mu.Lock()
			lat = append(lat, float64(d.Microseconds())/1000)
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/op")
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(f float64) float64 { return lat[min(len(lat)-1, int(f*float64(len(lat))))] }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(lat[len(lat)-1], "max-ms")
	b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "approvals/s")
}
