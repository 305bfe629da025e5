// Package tail owns the read API, GET /apps/{app}/logs: the last lines of an
// app's ring (num, source and ps filters) and, with tail=1, a live stream of
// its new lines until the client leaves, falls behind or the daemon shuts
// down (what `sluice logs --tail` reads). Lines are plain tail lines, or
// with Accept: text/event-stream server-sent events whose ids are the
// lines' cursors; after= (or Last-Event-ID) resumes after a cursor, and a
// read that is not a tail says in the Sluice-Cursor header where it ended.
//
// Streaming takes the connection over from fasthttp (Hijack) and writes a
// chunked HTTP/1.1 response itself: a goroutine reading the connection
// notices the client closing it even while the app is quiet, which a
// fasthttp body stream cannot. Every write has a deadline, so a client that
// stopped reading is dropped; its subscription is a cursor into the ring,
// so the ring's writers never wait for it or work for it.
//
// Concurrency: ServeHTTP is safe for concurrent use. Each tail session runs
// in the goroutine fasthttp gives the hijacked connection, plus one reader
// goroutine it owns and waits for. Shutdown ends every session and waits for
// them; it is called once.
package tail
