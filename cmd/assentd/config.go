package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/assent-auth/assent/authserver"
	"github.com/assent-auth/assent/oidcprovider"
	"github.com/assent-auth/assent/profiles"
	"github.com/assent-auth/assent/push"
	"github.com/assent-auth/assent/push/fcm"
	"github.com/assent-auth/assent/risk"
	"github.com/assent-auth/assent/webhook"
)

// config is assentd's configuration. Each setting comes from, in order of
// precedence: a flag, an environment variable, the YAML config file, the
// default.
type config struct {
	Addr    string `yaml:"addr"`
	Data    string `yaml:"data"`
	Issuer  string `yaml:"issuer"`
	TLSCert string `yaml:"tls_cert"`
	TLSKey  string `yaml:"tls_key"`
	// DebugAddr, when set, serves Go's profiler (net/http/pprof) there,
	// on its own listener; keep it on loopback.
	DebugAddr      string        `yaml:"debug_addr"`
	TrustedProxies []string      `yaml:"trusted_proxies"`
	ThemeDir       string        `yaml:"theme_dir"`
	MasterKey      string        `yaml:"master_key"`
	SessionTTL     time.Duration `yaml:"session_ttl"`
	// SessionIdle ends a browser session unused this long (default 30m).
	SessionIdle time.Duration `yaml:"session_idle"`
	// SignUpConfirmEmail makes sign-up with a password answer the same
	// whether or not the address is registered: the account is signed in
	// by a mailed link (see authserver.Config).
	SignUpConfirmEmail bool `yaml:"signup_confirm_email"`
	// PushTTL is how long an app approval request waits (default 120s).
	PushTTL time.Duration `yaml:"push_ttl"`
	// PushNumberMatching is "always" (the default) or "risk": no number to
	// match when the risk level is low.
	PushNumberMatching string `yaml:"push_number_matching"`
	// PushLock is the fatigue defence: after Denials denials or wrong
	// numbers within Window, push approvals of the user stop for Duration;
	// MaxRequests within 15 minutes per user. Zero means the default
	// (3 in 10m lock for 15m; 10 requests).
	PushLock struct {
		Denials     int           `yaml:"denials"`
		Window      time.Duration `yaml:"window"`
		Duration    time.Duration `yaml:"duration"`
		MaxRequests int           `yaml:"max_requests"`
	} `yaml:"push_lock"`
	// FCMProjectID and FCMCredentialsFile (a service account JSON file)
	// turn on FCM wake-ups for app devices; without them, websocket only.
	FCMProjectID       string `yaml:"fcm_project_id"`
	FCMCredentialsFile string `yaml:"fcm_credentials_file"`
	// RiskPolicy is a YAML risk policy file; the shipped default when empty.
	// It is reloaded on SIGHUP and when the file changes.
	RiskPolicy string `yaml:"risk_policy"`
	// GeoIPCityDB is an optional MaxMind-format .mmdb file for city-level
	// locations; the embedded country database is used otherwise.
	GeoIPCityDB string `yaml:"geoip_city_db"`
	// PasskeyRPID and PasskeyOrigins set the WebAuthn relying party;
	// by default the issuer's host name and origin (see passkeys.go).
	PasskeyRPID    string   `yaml:"passkey_rp_id"`
	PasskeyOrigins []string `yaml:"passkey_origins"`
	LogLevel       string   `yaml:"log_level"`
	LogFormat      string   `yaml:"log_format"`
	// Clients are OpenID Connect relying parties (see clients.go).
	Clients []oidcprovider.ClientConfig `yaml:"clients"`
	// Mail sets the sender and the SMTP server (see mail.go).
	Mail mailConfig `yaml:"mail"`
	// Profiles declares profile attributes, consent purposes and
	// progressive profiling rules (see profiles.Schema).
	Profiles profiles.Schema `yaml:"profiles"`
	// Upstreams are OpenID providers to sign in and up with.
	Upstreams []authserver.UpstreamConfig `yaml:"upstreams"`
	// Webhooks are downstream receivers of profile and consent events.
	Webhooks []webhook.Endpoint `yaml:"webhooks"`
}

// loadConfig parses args and the environment (getenv), reads the config
// file they name, and validates the result, reporting every problem.
func loadConfig(args []string, getenv func(string) string) (*config, error) {
	fs := flag.NewFlagSet("assentd", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: assentd [flags]\n\nAssent identity server. Every flag can also be set by the environment variable shown.\n\n")
		fs.PrintDefaults()
	}
	addr := fs.String("addr", "", "listen address (env ASSENT_ADDR; default localhost:8080)")
	data := fs.String("data", "", "data directory holding the database and keys (env ASSENT_DATA; default ./data)")
	issuer := fs.String("issuer", "", "public base URL (env ASSENT_ISSUER; default http://<addr>)")
	cfgFile := fs.String("config", "", "optional YAML config file (env ASSENT_CONFIG)")
	tlsCert := fs.String("tls-cert", "", "serve HTTPS with this certificate (env ASSENT_TLS_CERT)")
	tlsKey := fs.String("tls-key", "", "private key for -tls-cert (env ASSENT_TLS_KEY)")
	debugAddr := fs.String("debug-addr", "", "serve Go's profiler (/debug/pprof/) on this address, e.g. 127.0.0.1:6060 (env ASSENT_DEBUG_ADDR; off by default)")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	pick := func(flagVal, env string) string {
		if flagVal != "" {
			return flagVal
		}
		return getenv(env)
	}

	c := &config{}
	if path := pick(*cfgFile, "ASSENT_CONFIG"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config %s: %w", path, err)
		}
	}
	override := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	override(&c.Addr, pick(*addr, "ASSENT_ADDR"))
	override(&c.Data, pick(*data, "ASSENT_DATA"))
	override(&c.Issuer, pick(*issuer, "ASSENT_ISSUER"))
	override(&c.TLSCert, pick(*tlsCert, "ASSENT_TLS_CERT"))
	override(&c.TLSKey, pick(*tlsKey, "ASSENT_TLS_KEY"))
	override(&c.DebugAddr, pick(*debugAddr, "ASSENT_DEBUG_ADDR"))
	if c.Addr == "" {
		c.Addr = "localhost:8080"
	}
	if c.Data == "" {
		c.Data = "./data"
	}
	if c.Issuer == "" {
		scheme := "http"
		if c.TLSCert != "" {
			scheme = "https"
		}
		c.Issuer = scheme + "://" + c.Addr
	}
	if c.SessionTTL == 0 {
		c.SessionTTL = 12 * time.Hour
	}
	if c.SessionIdle == 0 {
		c.SessionIdle = min(30*time.Minute, c.SessionTTL)
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.LogFormat == "" {
		c.LogFormat = "text"
	}
	return c, c.Validate()
}

// Validate reports every problem with c at once, each naming its field.
func (c *config) Validate() error {
	var errs []error
	bad := func(field, format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", field, fmt.Sprintf(format, a...)))
	}
	if _, port, err := net.SplitHostPort(c.Addr); err != nil || port == "" {
		bad("addr", "%q is not host:port", c.Addr)
	}
	if u, err := url.Parse(c.Issuer); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("issuer", "%q must be an absolute http(s) URL without query or fragment", c.Issuer)
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		bad("tls_cert", "tls_cert and tls_key must be given together")
	}
	for _, p := range c.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			bad("trusted_proxies", "%q is not a CIDR or IP address", p)
		}
	}
	if c.RiskPolicy != "" {
		if b, err := os.ReadFile(c.RiskPolicy); err != nil {
			bad("risk_policy", "%v", err)
		} else if _, err := risk.LoadPolicy(b); err != nil {
			bad("risk_policy", "%v", err)
		}
	}
	if c.GeoIPCityDB != "" {
		if _, err := os.Stat(c.GeoIPCityDB); err != nil {
			bad("geoip_city_db", "%v", err)
		}
	}
	c.validatePasskeys(bad)
	c.validateClients(bad)
	c.validateMail(bad)
	if err := c.Profiles.Validate(); err != nil {
		errs = append(errs, err)
	}
	for i, u := range c.Upstreams {
		errs = append(errs, u.Validate(fmt.Sprintf("upstreams[%d]", i), &c.Profiles)...)
	}
	c.validateWebhooks(bad)
	if c.MasterKey != "" && len(strings.TrimSpace(c.MasterKey)) < 43 {
		bad("master_key", "must be 32 bytes, base64-encoded")
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > 30*24*time.Hour {
		bad("session_ttl", "%v must be between 1m and 720h", c.SessionTTL)
	}
	if c.SessionIdle < time.Minute || c.SessionIdle > c.SessionTTL {
		bad("session_idle", "%v must be between 1m and session_ttl", c.SessionIdle)
	}
	if c.PushTTL != 0 && (c.PushTTL < 10*time.Second || c.PushTTL > 10*time.Minute) {
		bad("push_ttl", "%v must be between 10s and 10m", c.PushTTL)
	}
	if v := c.PushNumberMatching; v != "" && v != "always" && v != "risk" {
		bad("push_number_matching", "%q must be always or risk", v)
	}
	if l := c.PushLock; l.Denials < 0 || l.MaxRequests < 0 || l.Window < 0 || l.Duration < 0 || l.Duration > 24*time.Hour {
		bad("push_lock", "denials, max_requests, window and duration must not be negative; duration at most 24h")
	}
	if (c.FCMProjectID == "") != (c.FCMCredentialsFile == "") {
		bad("fcm_project_id", "fcm_project_id and fcm_credentials_file go together")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", "%q must be debug, info, warn or error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		bad("log_format", "%q must be text or json", c.LogFormat)
	}
	return errors.Join(errs...)
}

func (c *config) trustedProxies() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		if p, err := parsePrefix(s); err == nil {
			out = append(out, p)
		}
	}
	return out
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// withPush sets the server's number matching policy and push fatigue
// defence from the file.
func (c *config) withPush(sc authserver.Config) authserver.Config {
	l := c.PushLock
	sc.PushNumberMatching = c.PushNumberMatching
	sc.PushFatigue = push.Fatigue{MaxDenials: l.Denials, DenialWindow: l.Window, LockFor: l.Duration, MaxRequests: l.MaxRequests}
	return sc
}

// fcm returns the FCM settings, or nil when FCM is off.
func (c *config) fcm() *fcm.Config {
	if c.FCMProjectID == "" {
		return nil
	}
	return &fcm.Config{ProjectID: c.FCMProjectID, CredentialsFile: c.FCMCredentialsFile}
}
