// Package eval measures a risk policy against labelled synthetic traffic:
// customers with habits (devices, home city, hours, payment sizes, travel,
// new phones, new payees) and attacks (credential stuffing, account
// takeover, SIM swap, card testing, impossible travel, stolen sessions). It
// reports the share of attack events challenged or denied and the share of
// genuine events that met friction, and plots one against the other as the
// challenge threshold moves.
//
// It imports only the risk packages; nothing here touches the network or
// the store.
package eval
