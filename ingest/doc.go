// Package ingest holds the contract of the sources that bring log lines
// into Sluice (Source, Listener, Mounted; see source.go) and the Deps they
// share. The sources live below it: ingest/syslog (RFC 5424/3164 over TCP,
// UDP and TLS: Listeners) and ingest/httpin (HTTP POST /logs: logplex-1,
// NDJSON, text; Mounted on the daemon's HTTP server). ingest/sources builds
// the configured ones; ingest/sourcetest is the conformance suite every
// source passes.
//
// Each source parses, authenticates and tags messages with their app and
// hands batches to the router through sluice.Publisher; none keeps a
// message after Publish returns. The package itself has no state.
package ingest
