package sluice

import (
	"context"
	"errors"
	"strconv"
	"time"
)

// Message is one log line of one app, as the router sees it.
//
// Ownership: a Message handed to Publisher.Publish may alias buffers that the
// caller reuses as soon as Publish returns (ingest avoids a copy per message
// on the hot path). Anything that keeps a Message beyond the call — a ring, a
// drain queue — copies it first, with Clone or into its own storage.
type Message struct {
	// Time is the message's own timestamp, or the receive time when the
	// message carried none.
	Time time.Time
	// App is the application the line belongs to (syslog APP-NAME, or the
	// app of the token that sent it).
	App string
	// Source is who produced the line: "app" for the app's own output, or
	// the token's source name (for example "router").
	Source string
	// Proc is the process instance, for example "web.1" (syslog PROCID).
	Proc string
	// Host is the syslog HOSTNAME, empty when unknown.
	Host string
	// MsgID is the syslog MSGID, empty when absent.
	MsgID string
	// StructuredData is the RFC 5424 STRUCTURED-DATA exactly as received,
	// empty when absent ("-").
	StructuredData string
	// Text is the message body, valid UTF-8.
	Text string
	// Facility and Severity are the syslog PRI parts. Messages that carried
	// no PRI get Facility 1 (user) and Severity 6 (informational).
	Facility uint8
	Severity uint8
	// Pos is where the message sits on the cluster bus, set by the bus
	// consumer; zero outside cluster mode. Drains derive stable ids from
	// it, so a redelivered message keeps its id.
	Pos BusPos
}

// BusPos is a position on the cluster bus: a partition and an offset of the
// bus topic. The zero value is no position.
type BusPos uint64

// MakeBusPos returns the position of offset in partition. Offsets
// take 48 bits, partitions 16.
func MakeBusPos(partition int32, offset int64) BusPos {
	return BusPos(uint64(uint16(partition))<<48 | uint64(offset+1)&(1<<48-1))
}

// Partition and Offset are the parts of a position that is not zero.
func (p BusPos) Partition() int32 { return int32(p >> 48) }
func (p BusPos) Offset() int64    { return int64(p&(1<<48-1)) - 1 }

// AppendID appends "PARTITION.OFFSET", the message's id on the bus topic.
func (p BusPos) AppendID(dst []byte) []byte {
	dst = strconv.AppendInt(dst, int64(p.Partition()), 10)
	dst = append(dst, '.')
	return strconv.AppendInt(dst, p.Offset(), 10)
}

// DefaultMaxMessageBytes is the longest message text every source keeps
// unless MAX_MESSAGE_BYTES says otherwise; longer text is truncated.
const DefaultMaxMessageBytes = 64 << 10

// Defaults for messages that carry no PRI (HTTP NDJSON and text ingest).
const (
	DefaultFacility = 1 // user-level
	DefaultSeverity = 6 // informational
)

// Size is the number of payload bytes the message carries. Queues and rings
// that are bounded by bytes account with it.
func (m *Message) Size() int {
	return len(m.App) + len(m.Source) + len(m.Proc) + len(m.Host) + len(m.MsgID) +
		len(m.StructuredData) + len(m.Text)
}

// Clone returns a copy of m that shares no memory with buffers the caller
// may reuse. All string fields are copied into one allocation.
func (m Message) Clone() Message {
	buf := make([]byte, 0, m.Size())
	take := func(s string) string {
		if s == "" {
			return ""
		}
		start := len(buf)
		buf = append(buf, s...)
		return unsafeString(buf[start:len(buf):len(buf)])
	}
	m.App = take(m.App)
	m.Source = take(m.Source)
	m.Proc = take(m.Proc)
	m.Host = take(m.Host)
	m.MsgID = take(m.MsgID)
	m.StructuredData = take(m.StructuredData)
	m.Text = take(m.Text)
	return m
}

// ErrBackpressure is returned by TryPublish when a drain with policy=block
// has no room for the batch. Nothing of the batch was accepted; the caller
// should ask its client to retry later (HTTP 429 with Retry-After).
var ErrBackpressure = errors.New("drain backlog full")

// ErrClosed is returned by Publish after the router has shut down.
var ErrClosed = errors.New("router closed")

// Publisher is the router as ingest sees it.
//
// Publish hands a batch of messages (any mix of apps, in arrival order) to
// the router. Order is kept per app. Publish may block while a drain with
// policy=block is full; it returns ctx.Err() if ctx ends first, with the
// batch possibly partly accepted. TryPublish never waits for room: it
// accepts the whole batch (into the rings and every drain that wants it)
// or none of it, returning ErrBackpressure when a policy=block drain lacks
// room and ErrClosed when the router or such a drain is shutting down.
//
// Both are safe for concurrent use. The messages may alias the caller's
// buffers (see Message); the router copies what it keeps.
type Publisher interface {
	Publish(ctx context.Context, batch []Message) error
	TryPublish(batch []Message) error
}
