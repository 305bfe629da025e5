// Package ingest is the parent of the listeners that bring log lines into
// Sluice: ingest/syslog (RFC 5424/3164 over TCP and UDP) and ingest/httpin
// (HTTP POST: logplex-1, NDJSON, text). Each parses, authenticates and tags
// messages with their app and hands batches to the router through
// sluice.Publisher; none keeps a message after Publish returns.
package ingest
