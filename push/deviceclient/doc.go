// Package deviceclient is the reference app device: it enrolls with a
// one-time code, keeps its P-256 key, opens the authenticated websocket
// channel and answers approval requests with signed decisions, as
// docs/PUSH-PROTOCOL.md describes for the iOS and Android apps.
//
// It is a client of the server's public endpoints only and must never
// import authserver.
package deviceclient
