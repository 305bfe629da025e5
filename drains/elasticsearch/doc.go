// Package elasticsearch is the Elasticsearch drain: it delivers batches of
// messages to an Elasticsearch cluster (or anything that speaks its bulk
// API, such as OpenSearch or ZincSearch under /es) with one _bulk request
// per batch, configured by a URL
//
//	elasticsearch://[user:password@]host[:port][/base-path]?index=PATTERN&op=index|create&tls=1
//
// Each message becomes one JSON document with the fields @timestamp (RFC
// 3339, microseconds, UTC), app, source, proc, host, message, severity and
// facility (syslog names: "info", "local0"), msgid, and sd: the RFC 5424
// structured data as an object of objects ({"sd":{"origin":{"ip":"…"}}}; a
// parameter given more than once becomes an array; structured data that
// does not parse is kept as the string structured_data). Empty proc, host,
// msgid and sd are left out.
//
// The index is evaluated per message from PATTERN (default
// logs-{app}-{2006.01.02}): {app} is the app, made a valid index name part
// (lower case, characters Elasticsearch forbids become '_'), and any other
// {…} is a Go time layout applied to the message's time in UTC. op=create
// writes create actions, which data streams require. In cluster mode each
// document's _id is its message's bus position (PARTITION.OFFSET), so a
// redelivery after a partition moved overwrites the same document
// (op=index) or is refused as a conflict (op=create, 409), which the drain
// counts as delivered.
//
// Send builds the bulk body (NDJSON action and document lines) into one
// reused buffer, posts it with the go-elasticsearch low-level esapi.Bulk
// call, and reads the response per item: items answered 429 or 5xx are
// retryable and items refused otherwise (mapping errors, 400) are permanent,
// each reported in a *drains.BatchError with the reason Elasticsearch gave
// ("mapper_parsing_exception: failed to parse field…"). A whole request
// answered 408, 429 or 5xx, or that failed in transport, is retryable (with
// drains.RetryAfter when a Retry-After header came); 401, 403, 404 and
// other 4xx are permanent. The drain has no retries, batching or bulk
// indexer of its own: the drains.Worker owns them.
//
// The client's product check (it refuses a 2xx answer whose
// X-Elastic-Product header is not "Elasticsearch") is kept for servers that
// name another product, but a missing header is tolerated: proxies and
// ES-compatible servers often leave it out, and the check runs after the
// bulk request was applied, so failing it would only duplicate documents.
//
// Concurrency: as the drains.Drain contract says, one Worker goroutine
// calls Send, Check and Close, never concurrently; the drain's buffers are
// not locked. The HTTP transport's connection goroutines belong to
// net/http; Close closes its idle connections.
package elasticsearch
