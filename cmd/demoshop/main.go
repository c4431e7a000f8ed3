// Command demoshop is a small merchant web app for trying Assent's payment
// approval: a cart, a pay button, and OpenID CIBA (poll mode) with the
// payment as RFC 9396 authorization details. The shopper approves in the
// Assent app (`assent device run`); the shop verifies the ID token with
// go-oidc before it ships. A second button pays in the browser instead:
// checkout step-up with the same details in an ordinary authorization
// request (checkout.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "demoshop:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("demoshop", flag.ContinueOnError)
	addr := fs.String("addr", "localhost:9000", "address to listen on")
	issuer := fs.String("issuer", envOr("ASSENT_ISSUER", "http://localhost:8080"), "Assent's issuer URL")
	clientID := fs.String("client-id", envOr("DEMOSHOP_CLIENT_ID", "demoshop"), "the shop's CIBA client id")
	secret := fs.String("client-secret", os.Getenv("DEMOSHOP_CLIENT_SECRET"), "the shop's client secret (or DEMOSHOP_CLIENT_SECRET)")
	shopURL := fs.String("url", "", "the shop's address as the browser sees it, for browser checkout (default http://ADDR); its /callback must be a redirect URI of the client")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *secret == "" {
		return errors.New("set --client-secret or DEMOSHOP_CLIENT_SECRET")
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *shopURL == "" {
		*shopURL = "http://" + *addr
	}
	shop, err := newShop(ctx, Config{Issuer: *issuer, ClientID: *clientID, ClientSecret: *secret, URL: *shopURL, Logger: log})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: shop, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		hs.Shutdown(sctx)
	}()
	log.Info("demo shop open at http://" + ln.Addr().String())
	if err := hs.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
