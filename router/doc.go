// Package router is the fan-out at the centre of Sluice: it takes batches
// from ingest (it implements sluice.Publisher), appends them to the app's
// ring (buffer.Store) and hands them to every drain worker that wants the
// app.
//
// Concurrency: Publish and TryPublish are safe for concurrent use. Order is
// kept per app within one caller (one connection, one request), because each
// step (ring append, each drain's enqueue) keeps the order of the batch.
// Backpressure: a drain with policy=block makes Publish wait for room in its
// queue, which stops the calling connection from reading; TryPublish refuses
// instead. Drains with policy=drop never make Publish wait.
package router
