package authserver

import (
	"net/http"
	"net/netip"
	"testing"
	"time"
)

func TestClientIP(t *testing.T) {
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	for _, tc := range []struct {
		name, remote string
		hdr          map[string]string
		want         string
	}{
		{"no proxy", "203.0.113.5:4000", nil, "203.0.113.5"},
		{"untrusted peer's XFF ignored", "203.0.113.5:4000", map[string]string{"X-Forwarded-For": "1.2.3.4"}, "203.0.113.5"},
		{"untrusted peer's Forwarded ignored", "203.0.113.5:4000", map[string]string{"Forwarded": "for=1.2.3.4"}, "203.0.113.5"},
		{"trusted proxy XFF", "10.1.2.3:80", map[string]string{"X-Forwarded-For": "198.51.100.7"}, "198.51.100.7"},
		{"spoofed left entries skipped", "10.1.2.3:80", map[string]string{"X-Forwarded-For": "6.6.6.6, 198.51.100.7"}, "198.51.100.7"},
		{"chain of trusted proxies", "10.1.2.3:80", map[string]string{"X-Forwarded-For": "198.51.100.7, 10.9.9.9"}, "198.51.100.7"},
		{"Forwarded preferred", "10.1.2.3:80", map[string]string{"Forwarded": `for="[2001:db8::1]:443";proto=https`, "X-Forwarded-For": "6.6.6.6"}, "2001:db8::1"},
		{"Forwarded list", "10.1.2.3:80", map[string]string{"Forwarded": "for=6.6.6.6, for=192.0.2.60;by=10.0.0.1"}, "192.0.2.60"},
		{"garbage hop stops at peer", "10.1.2.3:80", map[string]string{"X-Forwarded-For": "not-an-ip"}, "10.1.2.3"},
		{"obfuscated Forwarded", "10.1.2.3:80", map[string]string{"Forwarded": "for=_hidden"}, "10.1.2.3"},
		{"ipv6 loopback proxy", "[::1]:80", map[string]string{"X-Forwarded-For": "192.0.2.1"}, "192.0.2.1"},
		{"mapped v4", "[::ffff:203.0.113.9]:80", nil, "203.0.113.9"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: tc.remote, Header: http.Header{}}
			for k, v := range tc.hdr {
				r.Header.Set(k, v)
			}
			if got := ClientIP(r, trusted); got.String() != tc.want {
				t.Errorf("ClientIP = %v, want %v", got, tc.want)
			}
		})
	}
}

func FuzzClientIP(f *testing.F) {
	f.Add("10.0.0.1:1", "for=1.2.3.4", "5.6.7.8, 10.0.0.2")
	f.Add("[::1]:1", `for="[::1]";by=x`, "")
	f.Add("1.2.3.4:5", "", "garbage")
	trusted := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	f.Fuzz(func(t *testing.T, remote, fwd, xff string) {
		r := &http.Request{RemoteAddr: remote, Header: http.Header{}}
		r.Header.Set("Forwarded", fwd)
		r.Header.Set("X-Forwarded-For", xff)
		got := ClientIP(r, trusted)
		peer := parseAddr(remote)
		// From an untrusted peer, headers must never change the answer.
		if !inAny(peer, trusted) && got != peer {
			t.Fatalf("untrusted peer %v: got %v", peer, got)
		}
	})
}

func TestSafeReturnTo(t *testing.T) {
	for in, want := range map[string]string{
		"/account":           "/account",
		"/a?b=c#d":           "/a?b=c#d",
		"":                   "",
		"//evil.example":     "",
		"/\\evil.example":    "",
		"https://x.example/": "",
		"account":            "",
		"/a\nb":              "",
	} {
		if got := safeReturnTo(in); got != want {
			t.Errorf("safeReturnTo(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestThrottleDelay(t *testing.T) {
	c := newClock()
	th := newThrottle(c.Now, time.Minute)
	if n := th.fail("ip:a"); n != 1 {
		t.Errorf("first failure count = %d", n)
	}
	th.fail("ip:a")
	if n := th.fail("ip:a", "acct:x"); n != 3 {
		t.Errorf("third failure count = %d", n)
	}
	c.Advance(61 * time.Second)
	if n := th.count("ip:a"); n != 0 {
		t.Errorf("count after the window = %d", n)
	}
	for n, want := range map[int]time.Duration{0: 0, 1: 100, 2: 200, 3: 400, 4: 800, 5: 1000, 50: 1000} {
		if got := delay(n, 100, 1000); got != want {
			t.Errorf("delay(%d) = %v, want %v", n, got, want)
		}
	}
}
