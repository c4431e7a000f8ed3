// Package loadgen drives a running Assent server over real HTTP on the
// loopback or the network, the way browsers, relying parties and resource
// servers do, and measures what it sees: throughput, latency percentiles
// from a log-bucket histogram, errors by kind, and the server's CPU and
// memory from /proc. `assent bench` is its command line.
//
// Requests are open-loop when a rate is given: each has a scheduled start,
// and its latency is measured from that time, so a server that falls behind
// is charged for the queue it causes (no coordinated omission). The package
// talks to the server only through HTTP (users and clients through
// adminclient) and never imports a server package.
package loadgen
