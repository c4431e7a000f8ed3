package authserver

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// ClientIP returns the address of the client that sent r. The TCP peer is
// the client unless it is in trusted: then the Forwarded header (RFC 7239)
// or, failing that, X-Forwarded-For is read from the right, skipping hops
// that are themselves trusted proxies, and the first untrusted address is
// the client. Headers from an untrusted peer are never believed.
func ClientIP(r *http.Request, trusted []netip.Prefix) netip.Addr {
	peer := parseAddr(r.RemoteAddr)
	if !peer.IsValid() || !inAny(peer, trusted) {
		return peer
	}
	var hops []netip.Addr
	if fwd := r.Header.Values("Forwarded"); len(fwd) > 0 {
		hops = forwardedFor(fwd)
	} else {
		for _, v := range r.Header.Values("X-Forwarded-For") {
			for _, part := range strings.Split(v, ",") {
				hops = append(hops, parseAddr(strings.TrimSpace(part)))
			}
		}
	}
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		if !hops[i].IsValid() {
			// An unparseable hop ends the trusted chain: the last trusted
			// proxy's peer is the best we know.
			break
		}
		client = hops[i]
		if !inAny(hops[i], trusted) {
			break
		}
	}
	return client
}

// forwardedFor extracts the for= addresses of Forwarded header values in
// order.
func forwardedFor(values []string) []netip.Addr {
	var out []netip.Addr
	for _, v := range values {
		for _, elem := range strings.Split(v, ",") {
			addr := netip.Addr{}
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if ok && strings.EqualFold(k, "for") {
					addr = parseAddr(strings.Trim(val, `"`))
				}
			}
			out = append(out, addr)
		}
	}
	return out
}

// parseAddr accepts "ip", "ip:port", "[ipv6]" and "[ipv6]:port".
func parseAddr(s string) netip.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap()
	}
	if host, _, err := net.SplitHostPort(s); err == nil {
		s = host
	}
	s = strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}
	}
	return a.Unmap().WithZone("")
}

func inAny(a netip.Addr, ps []netip.Prefix) bool {
	for _, p := range ps {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
