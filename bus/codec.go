package bus

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"time"
	"unsafe"

	"github.com/sluice-logs/sluice"
)

// Version1 is the first byte of every record value this package writes.
//
// Layout of version 1 (varints are encoding/binary's):
//
//	byte     version (1)
//	byte     flags: bit 0 = has time
//	byte     facility
//	byte     severity
//	varint   time, Unix nanoseconds           (when has time)
//	varint   time's UTC offset, seconds       (when has time)
//	7 × (uvarint length, bytes): App, Source, Proc, Host, MsgID,
//	         StructuredData, Text
//
// A decoder refuses versions it does not know rather than guess; a later
// version adds fields at the end or takes a new version byte.
const Version1 = 1

const flagTime = 1

// ErrRecord marks a record value that is not a message this package can
// read (unknown version, truncated, lengths past the end).
var ErrRecord = errors.New("bus: bad record")

// Encode appends the encoding of m to dst.
func Encode(dst []byte, m *sluice.Message) []byte {
	var flags byte
	if !m.Time.IsZero() {
		flags |= flagTime
	}
	dst = append(dst, Version1, flags, m.Facility, m.Severity)
	if flags&flagTime != 0 {
		_, off := m.Time.Zone()
		dst = binary.AppendVarint(dst, m.Time.UnixNano())
		dst = binary.AppendVarint(dst, int64(off))
	}
	for _, s := range [...]string{m.App, m.Source, m.Proc, m.Host, m.MsgID, m.StructuredData, m.Text} {
		dst = binary.AppendUvarint(dst, uint64(len(s)))
		dst = append(dst, s...)
	}
	return dst
}

// EncodedSize bounds len(Encode(nil, m)).
func EncodedSize(m *sluice.Message) int {
	return 4 + 2*binary.MaxVarintLen64 + 7*binary.MaxVarintLen32 + m.Size()
}

// Decode reads a record value. The strings of the message alias b: the
// caller keeps b unchanged while it uses them (the router copies what it
// keeps).
func Decode(b []byte) (sluice.Message, error) {
	var m sluice.Message
	if len(b) < 4 {
		return m, fmt.Errorf("%w: %d bytes, shorter than a header", ErrRecord, len(b))
	}
	if b[0] != Version1 {
		return m, fmt.Errorf("%w: version %d", ErrRecord, b[0])
	}
	flags := b[1]
	if flags&^flagTime != 0 {
		return m, fmt.Errorf("%w: unknown flags %#x", ErrRecord, flags)
	}
	m.Facility, m.Severity = b[2], b[3]
	if m.Facility > 23 || m.Severity > 7 {
		return m, fmt.Errorf("%w: facility %d severity %d", ErrRecord, m.Facility, m.Severity)
	}
	b = b[4:]
	if flags&flagTime != 0 {
		ns, n := binary.Varint(b)
		if n <= 0 {
			return m, fmt.Errorf("%w: time", ErrRecord)
		}
		b = b[n:]
		off, n := binary.Varint(b)
		if n <= 0 || off < -18*3600 || off > 18*3600 {
			return m, fmt.Errorf("%w: time offset", ErrRecord)
		}
		b = b[n:]
		m.Time = time.Unix(0, ns).In(zone(int(off)))
	}
	for _, p := range [...]*string{&m.App, &m.Source, &m.Proc, &m.Host, &m.MsgID, &m.StructuredData, &m.Text} {
		l, n := binary.Uvarint(b)
		if n <= 0 || l > uint64(len(b)-n) {
			return sluice.Message{}, fmt.Errorf("%w: field length", ErrRecord)
		}
		b = b[n:]
		if l > 0 {
			*p = unsafe.String(&b[0], int(l))
		}
		b = b[l:]
	}
	if len(b) != 0 {
		return sluice.Message{}, fmt.Errorf("%w: %d bytes after the last field", ErrRecord, len(b))
	}
	return m, nil
}

// zones caches the fixed zones of UTC offsets other than 0, so decoding a
// time does not allocate one per message.
var zones sync.Map // int → *time.Location

func zone(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	if l, ok := zones.Load(off); ok {
		return l.(*time.Location)
	}
	l, _ := zones.LoadOrStore(off, time.FixedZone("", off))
	return l.(*time.Location)
}
