// Package authserver is Assent's only door to the network: the sign-up,
// sign-in and account pages, browser sessions, the admin API, health and
// metrics endpoints, and (as they land) the OpenID Connect provider and CIBA.
// It turns HTTP into calls on the domain packages (profiles, risk, push,
// devices) and the store, and their errors into OAuth error codes or RFC 9457
// problem documents, never leaking internals.
//
// Domain packages must never import authserver.
package authserver
