package oidcprovider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// validateJWKSURI accepts an absolute https URL, or http on a loopback
// address (a client on the same machine).
func validateJWKSURI(s string) error {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" || u.Fragment != "" || u.User != nil {
		return errors.New("not an absolute URL")
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() || u.Hostname() == "localhost" {
			return nil
		}
	}
	return errors.New("must be https (or http on a loopback address)")
}

// remoteKeys caches the key sets clients publish at their jwks_uri. A set
// is fetched when first needed, kept for ttl, and fetched again early
// when an assertion names a key id it lacks (a client rotated its key),
// at most once per minInterval.
type remoteKeys struct {
	client      *http.Client
	ttl         time.Duration
	minInterval time.Duration
	mu          sync.Mutex
	sets        map[string]*remoteSet
}

type remoteSet struct {
	mu      sync.Mutex
	set     *jose.JSONWebKeySet
	fetched time.Time
}

func newRemoteKeys() *remoteKeys {
	return &remoteKeys{
		// No redirects: an https jwks_uri must not lead the fetch to plain
		// http or to an address the registration check never saw.
		client: &http.Client{Timeout: 5 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		}},
		ttl:         5 * time.Minute,
		minInterval: 10 * time.Second,
		sets:        map[string]*remoteSet{},
	}
}

// key returns the key with kid (the only key when kid is empty) from the
// set at uri.
func (r *remoteKeys) key(ctx context.Context, uri, kid string) (*jose.JSONWebKey, error) {
	r.mu.Lock()
	rs := r.sets[uri]
	if rs == nil {
		rs = &remoteSet{}
		r.sets[uri] = rs
	}
	r.mu.Unlock()

	rs.mu.Lock()
	defer rs.mu.Unlock()
	age := time.Since(rs.fetched)
	if rs.set == nil || age > r.ttl || !hasKey(rs.set, kid) && age > r.minInterval {
		set, err := r.fetch(ctx, uri)
		if err != nil && rs.set == nil {
			return nil, err
		}
		if err == nil {
			rs.set, rs.fetched = set, time.Now()
		}
	}
	return keyOf(rs.set, kid)
}

func (r *remoteKeys) fetch(ctx context.Context, uri string) (*jose.JSONWebKeySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, uri, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := r.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch client key set: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch client key set: status %d", resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKS+1))
	if err != nil {
		return nil, fmt.Errorf("fetch client key set: %w", err)
	}
	return parseJWKS(b)
}

func hasKey(set *jose.JSONWebKeySet, kid string) bool {
	_, err := keyOf(set, kid)
	return err == nil
}

// keyOf returns the key with kid, or the only key when kid is empty.
func keyOf(set *jose.JSONWebKeySet, kid string) (*jose.JSONWebKey, error) {
	if kid == "" {
		if len(set.Keys) == 1 {
			return &set.Keys[0], nil
		}
		return nil, errors.New("assertion names no key")
	}
	keys := set.Key(kid)
	if len(keys) == 0 {
		return nil, errors.New("unknown key id")
	}
	return &keys[0], nil
}
