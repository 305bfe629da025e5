// Package web owns the live tail page that sluiced serves on PORT: the page
// and its assets (embedded, no CDN, no build step), sign-in and sign-out,
// the list of apps with their line counters, and a Server-Sent Events
// stream of one app's lines.
//
// Routes (the daemon hands every path under /web/, and GET / from a
// browser, to ServeHTTP):
//
//	GET  /                 the page (when the request accepts text/html)
//	GET  /web/static/...   its script and style sheet
//	POST /web/signin       form token=…: sets the session cookie
//	POST /web/signout      clears it
//	GET  /web/apps         JSON: who is signed in, the apps they may read and their line counters
//	GET  /web/stream?app=&num=&after=   text/event-stream: a "start" event, then one event per line
//
// Sessions: sign-in exchanges a token (TOKENS or ADMIN_TOKEN) for an
// HttpOnly, SameSite=Strict cookie scoped to /web/, signed with HMAC-SHA256
// under a key derived from the configured tokens (auth.Fingerprint). The
// cookie carries the token's SHA-256 and an expiry, never the token: it
// survives a restart of sluiced with the same TOKENS and dies when a token
// is removed or changed. There is no server-side table to bound; sign-out
// clears the cookie in the browser (a copied cookie stays valid until it
// expires, SessionTTL). Sign-in and sign-out need a same-origin Origin
// header (CSRF); the token travels only in the POST body, never in a URL
// and never in a log.
//
// Every response carries a strict Content-Security-Policy (default-src
// 'self', no inline script or style, frame-ancestors 'none') and
// X-Content-Type-Options: nosniff. The page renders log text with
// textContent only.
//
// Streams reuse the tail machinery's buffer.Subscription: the same bounded
// queue (TAIL_BUFFER), the same in-band L11 line as `sluice logs --tail`,
// and its SSE framing (buffer.Options.Events): every line is one event
// whose id is its cursor. A "start" event names the position the stream
// begins at. A browser that reconnects sends the last id as Last-Event-ID
// (or the page puts it in after= when it opens a new EventSource), and the
// stream goes on from the next line: no gap, no repeat, and a resume the
// ring can no longer serve begins with an L11 line counting what was
// missed. A cursor of another epoch (the router restarted) begins with the
// oldest line held; the page marks that gap.
//
// Concurrency: ServeHTTP is safe for concurrent use. A stream takes the
// connection over (Hijack) and runs in the goroutine fasthttp gives it,
// plus one reader goroutine it owns and waits for, like a tail session.
// At most MaxStreams run at once; more get 503. Shutdown ends every stream
// and waits for them; it is called once.
package web
