// Package httpdrain owns the HTTP(S) drain: DRAIN_<NAME>=http(s)://… URLs,
// delivered as one POST per batch of octet-counted frames (Content-Type
// application/logplex-1, Logplex-Msg-Count / Logplex-Frame-Id /
// Logplex-Drain-Token headers) or NDJSON (format=ndjson), optionally gzip
// compressed (gzip=1), with basic auth from the URL's user info. The frames
// are strict RFC 5424 with the app in APP-NAME by default (format=rfc5424,
// what Sluice's own ingest reads), or Heroku's drain layout with
// format=logplex (sluice.AppendLogplex: no STRUCTURED-DATA, the source in
// APP-NAME, "host" as HOSTNAME), what lpx-based receivers read.
//
// Outcomes: 2xx delivered; 408, 429 and 5xx retryable (with
// drains.RetryAfter from Retry-After); other statuses permanent
// (drains.ErrPermanent); connection errors and timeouts retryable. The
// Frame-Id comes from drains.BatchID, so a retried batch keeps its id; in
// cluster mode it comes from the bus positions of the batch's messages
// (drains.AppendBusBatchID), so the same batch sent again by another
// process keeps it too.
//
// Concurrency: as drains.Drain says, Send and Close are called by one
// goroutine (the Worker's). Each request runs in a goroutine of its own so
// that Send returns as soon as ctx ends; an abandoned request still ends at
// its deadline, and Close waits for it (under Close's ctx).
package httpdrain
