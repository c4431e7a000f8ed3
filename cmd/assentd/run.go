package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/assent-auth/assent/authserver"
	"github.com/assent-auth/assent/internal/secretfile"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/risk/geo"
	"github.com/assent-auth/assent/store/bolt"
)

// run starts the server and blocks until ctx is done, then drains
// in-flight requests and closes the database.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := loadConfig(args, getenv)
	if err != nil {
		return err
	}
	log := newLogger(cfg, stderr)

	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	db, err := bolt.Open(filepath.Join(cfg.Data, "assent.db"), bolt.Options{Timeout: time.Second})
	if err != nil {
		return err
	}
	defer db.Close()

	master, err := masterKey(cfg)
	if err != nil {
		return err
	}
	keys, err := profiles.NewKeyring(master)
	if err != nil {
		return err
	}
	tokenPath := filepath.Join(cfg.Data, "admin.token")
	adminToken, created, err := secretfile.LoadOrCreate(tokenPath, 32)
	if err != nil {
		return fmt.Errorf("admin token: %w", err)
	}
	if created {
		log.Info("created admin token", "path", tokenPath)
	}

	policy, locator, closeGeo, err := riskSetup(cfg)
	if err != nil {
		return err
	}
	defer closeGeo()

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	st := authserver.InstrumentStore(db, reg)
	outbox, err := newOutbox(cfg, st, keys, log)
	if err != nil {
		return err
	}
	hooks, runHooks, err := newWebhooks(cfg, st, keys, log)
	if err != nil {
		return err
	}
	issuer, _ := url.Parse(cfg.Issuer)
	srv, err := authserver.New(cfg.withPush(authserver.Config{
		Issuer:             issuer,
		Store:              st,
		Profiles:           profiles.New(profiles.Config{Store: st, Keys: keys, Hasher: profiles.NewHasher(profiles.DefaultArgon2Params), Schema: &cfg.Profiles}),
		Keys:               keys,
		Passkeys:           authserver.PasskeyConfig{RPID: cfg.PasskeyRPID, Origins: cfg.PasskeyOrigins},
		RiskPolicy:         policy,
		Locator:            locator,
		Logger:             log,
		Registry:           reg,
		AdminToken:         []byte(encodeToken(adminToken)),
		TrustedProxies:     cfg.trustedProxies(),
		ThemeDir:           cfg.ThemeDir,
		SessionTTL:         cfg.SessionTTL,
		SessionIdle:        cfg.SessionIdle,
		SignUpConfirmEmail: cfg.SignUpConfirmEmail,
		PushTTL:            cfg.PushTTL,
		FCM:                cfg.fcm(),
		OIDCClients:        cfg.Clients,
		Upstreams:          cfg.Upstreams,
		Webhooks:           hooks,
		Mail:               outbox,
	}))
	if err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	hs.RegisterOnShutdown(srv.CloseStreams)
	errc := make(chan error, 1)
	go func() {
		if cfg.TLSCert != "" {
			errc <- hs.ServeTLS(ln, cfg.TLSCert, cfg.TLSKey)
		} else {
			errc <- hs.Serve(ln)
		}
	}()
	if cfg.DebugAddr != "" {
		if err := serveDebug(ctx, cfg.DebugAddr, log); err != nil {
			return err
		}
	}
	go sweepSessions(ctx, db, log)
	go srv.RunCIBA(ctx) // CIBA ping retries and expiry
	retentionDone := make(chan struct{})
	go func() { defer close(retentionDone); srv.RunRetention(ctx) }() // profiles.retention
	mailDone := runOutbox(ctx, outbox)
	hooksDone := runHooks(ctx)
	if cfg.RiskPolicy != "" {
		go watchPolicy(ctx, policy, cfg.RiskPolicy, log)
	}
	log.Info("assentd listening", "addr", ln.Addr().String(), "issuer", cfg.Issuer, "data", cfg.Data)
	log.Info("sign in at " + strings.TrimSuffix(cfg.Issuer, "/") + "/signin")

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		log.Warn("drain incomplete", "err", err)
	}
	<-mailDone // the delivery in progress finishes before the store closes
	<-hooksDone
	<-retentionDone
	if err := db.Close(); err != nil {
		return fmt.Errorf("close database: %w", err)
	}
	log.Info("stopped")
	return nil
}

func newLogger(cfg *config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler = slog.NewTextHandler(w, opts)
	if cfg.LogFormat == "json" {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(authserver.LogHandler(h))
}

// masterKey returns the key from the config, or the one kept in the data
// directory, creating it on first start.
func masterKey(cfg *config) ([]byte, error) {
	if cfg.MasterKey != "" {
		k, err := secretfile.Decode(cfg.MasterKey, profiles.MasterKeySize)
		if err != nil {
			return nil, fmt.Errorf("master_key: %w", err)
		}
		return k, nil
	}
	k, _, err := secretfile.LoadOrCreate(filepath.Join(cfg.Data, "master.key"), profiles.MasterKeySize)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return k, nil
}

// encodeToken is the admin token as it is written in admin.token and sent
// by the CLI.
func encodeToken(b []byte) string {
	return secretfile.Encode(b)
}

// sweepSessions removes expired sessions and OpenID Connect authorization
// requests every few minutes.
func sweepSessions(ctx context.Context, db *bolt.DB, log *slog.Logger) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := db.DeleteExpiredSessions(ctx, time.Now()); err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("session sweep failed", "err", err)
			} else if n > 0 {
				log.Debug("expired sessions removed", "count", n)
			}
			if _, err := db.DeleteExpiredOIDCAuthRequests(ctx, time.Now()); err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("authorization request sweep failed", "err", err)
			}
			if _, err := db.DeleteExpiredOIDCAssertions(ctx, time.Now()); err != nil && !errors.Is(err, context.Canceled) {
				log.Warn("client assertion sweep failed", "err", err)
			}
		}
	}
}

// riskSetup loads the risk policy (the shipped default when none is
// configured) and the geolocation database.
func riskSetup(cfg *config) (*risk.Reloader, risk.Locator, func(), error) {
	p := risk.DefaultPolicy()
	if cfg.RiskPolicy != "" {
		b, err := os.ReadFile(cfg.RiskPolicy)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("risk_policy: %w", err)
		}
		if p, err = risk.LoadPolicy(b); err != nil {
			return nil, nil, nil, fmt.Errorf("risk_policy %s: %w", cfg.RiskPolicy, err)
		}
	}
	var loc risk.Locator = geo.CountryDB{}
	closeGeo := func() {}
	if cfg.GeoIPCityDB != "" {
		city, err := geo.OpenCityDB(cfg.GeoIPCityDB)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("geoip_city_db: %w", err)
		}
		loc, closeGeo = city, func() { city.Close() }
	}
	return risk.NewReloader(p), loc, closeGeo, nil
}

// watchPolicy reloads the risk policy on SIGHUP and when the file changes.
// An invalid policy is logged with every problem and the active one keeps
// serving.
func watchPolicy(ctx context.Context, r *risk.Reloader, path string, log *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go r.Watch(ctx, path, 2*time.Second, log)
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
			if p, err := r.ReloadFile(path); err != nil {
				log.Error("risk policy reload failed; keeping the active policy", "policy_version", r.Current().Version(), "err", err)
			} else {
				log.Info("risk policy reloaded", "policy_version", p.Version())
			}
		}
	}
}
