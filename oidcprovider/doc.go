// Package oidcprovider is Assent's OpenID Connect provider: it implements
// the storage of github.com/zitadel/oidc/v3's op package over store.Store
// (clients, authorization requests, codes, rotating refresh tokens, sealed
// signing keys) and decides, from a browser session's authentication
// methods, which assurance level (acr) it reached and whether an
// authorization request may complete or must step up.
//
// It never imports authserver: authserver mounts Provider.Handler and
// drives Provider.Resume from its sign-in pages.
package oidcprovider
