// Package mailtest runs a real SMTP server on loopback for tests, speaking
// the protocol over TCP (with STARTTLS or implicit TLS and AUTH PLAIN), and
// collects what it is sent. It can refuse transactions to simulate an
// outage. Only tests import it; it imports mail, never the server.
package mailtest
