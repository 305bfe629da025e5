// Package agent owns following log files on a node for `sluice agent`: which
// files match the globs, reading each from its position, rotation, the line
// formats a node has (Kubernetes CRI, Docker json-file, plain), joining
// multi-line events, naming the app and proc of each line, and the state
// file of positions. Shipping itself is package ship's.
//
// Discovery is by polling (Config.Poll, 250 ms by default), not fsnotify:
// the globs are expanded and every followed file is read to its end on each
// round. Polling sees every case the same way — new files, rotation by
// rename (the old file is still open and is read to its end), copytruncate
// (the open file's size fell below the position), symlinks (files are
// known by device and inode, not by name, so /var/log/containers links and
// their /var/log/pods targets are one file) — on every filesystem,
// including overlay and network mounts where inotify misses events, and it
// bounds the latency by the poll interval, the same order as the batch wait.
// fsnotify would save the idle rounds' stat calls at the price of a second
// path that must agree with this one.
//
// Positions: every message handed to the shipper carries the file offset
// just after its last byte; the state file (Config.State) records, per
// file, the offset of the last message the router acknowledged (never one
// still buffered, in flight, or held by a multi-line or CRI-partial join).
// It is rewritten atomically (a complete temporary file renamed over it)
// by OnAck, which the shipper calls on its sending goroutine after each
// acknowledged batch and before it takes the next, and fsynced at most once
// a second; so a restart after kill -9 repeats at most the batch that was in
// flight (none once the last batch was acknowledged) and loses nothing that
// was still on disk. (The state used to be written by the reading loop when
// it next saw an acknowledgement; while that loop sat in an fsync or was
// descheduled, the shipper went on sending from a full buffer, and a kill
// then repeated up to 16 batches.) A file that vanished while the agent was down before it was read
// to its end is reported in-band as L13.
//
// Concurrency: Run is one goroutine that does all the reading and naming;
// it calls Sink.Add (which may block under --block: reading then stops, and
// the files are the buffer) and Sink.Acked. The followers and the state are
// guarded by one mutex, which Run holds except while it calls Add and
// between rounds, and which OnAck, Save and Close take; the agent never
// waits for the sink while holding it, so the sink's goroutine calling
// OnAck cannot deadlock with Run.
package agent
