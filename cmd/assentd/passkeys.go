package main

import (
	"net"
	"net/url"
	"strings"
)

// validatePasskeys checks the WebAuthn relying party settings: the RP ID is
// a domain name that the issuer's host is, or ends with; each origin is a
// bare scheme://host[:port] on that domain.
func (c *config) validatePasskeys(bad func(field, format string, a ...any)) {
	if c.PasskeyRPID == "" {
		if len(c.PasskeyOrigins) > 0 {
			bad("passkey_origins", "needs passkey_rp_id")
		}
		return
	}
	rp := strings.ToLower(c.PasskeyRPID)
	if net.ParseIP(rp) != nil || strings.ContainsAny(rp, ":/ ") || !strings.Contains(rp, ".") && rp != "localhost" {
		bad("passkey_rp_id", "%q must be a domain name such as example.com (browsers refuse IP addresses)", c.PasskeyRPID)
		return
	}
	onRP := func(host string) bool { return host == rp || strings.HasSuffix(host, "."+rp) }
	if u, err := url.Parse(c.Issuer); err == nil && u.Host != "" && !onRP(strings.ToLower(u.Hostname())) {
		bad("passkey_rp_id", "%q is not the issuer's host name or a suffix of it", c.PasskeyRPID)
	}
	for _, o := range c.PasskeyOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || strings.TrimSuffix(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
			bad("passkey_origins", "%q must be scheme://host[:port]", o)
			continue
		}
		if !onRP(strings.ToLower(u.Hostname())) {
			bad("passkey_origins", "%q is not on the RP ID %q", o, c.PasskeyRPID)
		}
	}
}
