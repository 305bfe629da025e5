// Package sluice holds the shared vocabulary of the Sluice log router: the
// Message that flows from ingest through the router into the per-app rings
// and the drains, the Publisher contract between ingest and the router, and
// the two line formats every part of the router agrees on (the tail line and
// the RFC 5424 line).
//
// Implementations live below: ingest/ (syslog, HTTP), router/, buffer/
// (rings and tails), drains/ (Elasticsearch, Kafka, HTTP), config/, auth/.
package sluice
