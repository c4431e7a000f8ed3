package oidcprovider

import (
	"context"
	"sync"

	"github.com/assent-auth/assent/store"
)

// maxCachedClients bounds how many stored clients clientCache keeps; past
// it, clients are read from the store each time.
const maxCachedClients = 10_000

// clientCache is the provider's store with the stored clients it has
// read kept decoded in memory, so that a token request does not read and
// decode its client's record each time (about 7 % of the CPU of a client
// credentials grant). Every write of a client the provider makes goes
// through it (Create, Update, DeleteOIDCClient) and drops the client once
// the write is done, so a rotated secret or a deleted client stops
// working as soon as the admin call returns. Code outside the provider
// must not write clients to the store directly.
//
// Unknown client ids are not remembered. The returned clients share their
// slices with the cache and with each other, as configured clients do:
// callers must not modify them.
type clientCache struct {
	store.Store

	mu      sync.RWMutex
	gen     uint64 // counts the writes, so a read that raced one is not kept
	clients map[string]store.OIDCClient
}

func newClientCache(s store.Store) *clientCache {
	return &clientCache{Store: s, clients: map[string]store.OIDCClient{}}
}

// GetOIDCClient returns the client from memory, or reads it from the
// store and keeps it unless a client was written meanwhile.
func (c *clientCache) GetOIDCClient(ctx context.Context, id string) (store.OIDCClient, error) {
	c.mu.RLock()
	cl, ok := c.clients[id]
	gen := c.gen
	c.mu.RUnlock()
	if ok {
		return cl, nil
	}
	cl, err := c.Store.GetOIDCClient(ctx, id)
	if err != nil {
		return cl, err
	}
	c.mu.Lock()
	if c.gen == gen && len(c.clients) < maxCachedClients {
		c.clients[id] = cl
	}
	c.mu.Unlock()
	return cl, nil
}

// forget drops the client with id after a write of it, failed or not.
func (c *clientCache) forget(id string) {
	c.mu.Lock()
	delete(c.clients, id)
	c.gen++
	c.mu.Unlock()
}

func (c *clientCache) CreateOIDCClient(ctx context.Context, cl store.OIDCClient) error {
	defer c.forget(cl.ID)
	return c.Store.CreateOIDCClient(ctx, cl)
}

func (c *clientCache) UpdateOIDCClient(ctx context.Context, id string, fn func(store.OIDCClient) (store.OIDCClient, error)) (store.OIDCClient, error) {
	defer c.forget(id)
	return c.Store.UpdateOIDCClient(ctx, id, fn)
}

func (c *clientCache) DeleteOIDCClient(ctx context.Context, id string) error {
	defer c.forget(id)
	return c.Store.DeleteOIDCClient(ctx, id)
}
