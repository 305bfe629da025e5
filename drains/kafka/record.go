package kafka

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"time"

	kafkago "github.com/segmentio/kafka-go"
)

// A record batch (Kafka's message format v2, magic 2), the unit a produce
// request carries per partition:
//
//	baseOffset int64 | batchLength int32 | partitionLeaderEpoch int32 |
//	magic int8 | crc uint32 | attributes int16 | lastOffsetDelta int32 |
//	firstTimestamp int64 | maxTimestamp int64 | producerId int64 |
//	producerEpoch int16 | baseSequence int32 | recordCount int32 | records
//
// The CRC-32C covers attributes to the end; records are compressed as one
// block by the codec named in attributes. Each record is
//
//	length varint | attributes int8 | timestampDelta varlong |
//	offsetDelta varint | keyLength varint | key | valueLength varint |
//	value | headerCount varint
//
// with zig-zag varints. kafka-go's RawProduce sends the bytes as they are,
// after a int32 size prefix.
const (
	sizePrefix     = 4  // the int32 size of the record set in the request
	batchHeaderLen = 61 // baseOffset to recordCount
	offAttributes  = 21 // of the attributes field in the batch header
	offCRC         = 17
)

// recordOverhead bounds what a record adds to its key and value: the
// length, attributes, timestamp and offset deltas, the key and value
// lengths and the header count (at most 22 bytes for records under 1 GiB
// in a batch that spans less than 2^31 ms; 32 keeps the margin the drain
// always had).
const recordOverhead = 32

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// batchEncoder builds one partition's record batch in buffers it keeps
// across batches. It is not safe for concurrent use.
type batchEncoder struct {
	codec kafkago.Compression
	recs  []byte // the records, uncompressed
	out   []byte // size prefix, header, records (compressed or not)
	n     int    // records in recs
	first int64  // timestamp of the first record, ms
	max   int64  // largest timestamp, ms
	cw    appendWriter
}

func (e *batchEncoder) reset() {
	e.recs = e.recs[:0]
	e.n = 0
}

// size returns the uncompressed size of the batch so far, header included.
func (e *batchEncoder) size() int { return batchHeaderLen + len(e.recs) }

// add appends one record with key, value and t (now when zero).
func (e *batchEncoder) add(key string, value []byte, t time.Time) {
	var ts int64
	if t.IsZero() {
		ts = time.Now().UnixMilli()
	} else {
		ts = t.UnixMilli()
	}
	if e.n == 0 {
		e.first, e.max = ts, ts
	} else if ts > e.max {
		e.max = ts
	}
	delta, offset := ts-e.first, int64(e.n)
	length := 1 + varintLen(delta) + varintLen(offset) +
		varintLen(int64(len(key))) + len(key) +
		varintLen(int64(len(value))) + len(value) + 1
	b := binary.AppendVarint(e.recs, int64(length))
	b = append(b, 0) // attributes (unused)
	b = binary.AppendVarint(b, delta)
	b = binary.AppendVarint(b, offset)
	b = binary.AppendVarint(b, int64(len(key)))
	b = append(b, key...)
	b = binary.AppendVarint(b, int64(len(value)))
	b = append(b, value...)
	e.recs = append(b, 0) // no headers
	e.n++
}

// finish returns the record set (size prefix, batch header and records,
// compressed with the encoder's codec) of the records added since reset.
// The result stays valid until the next finish.
func (e *batchEncoder) finish() ([]byte, error) {
	b := e.out[:0]
	b = append(b, 0, 0, 0, 0) // size prefix, below
	b = binary.BigEndian.AppendUint64(b, 0)
	b = append(b, 0, 0, 0, 0)                        // batch length, below
	b = binary.BigEndian.AppendUint32(b, 0xffffffff) // partition leader epoch -1
	b = append(b, 2)                                 // magic
	b = append(b, 0, 0, 0, 0)                        // CRC, below
	b = binary.BigEndian.AppendUint16(b, uint16(e.codec)&7)
	b = binary.BigEndian.AppendUint32(b, uint32(e.n-1)) // last offset delta
	b = binary.BigEndian.AppendUint64(b, uint64(e.first))
	b = binary.BigEndian.AppendUint64(b, uint64(e.max))
	b = binary.BigEndian.AppendUint64(b, 0xffffffffffffffff) // producer id -1
	b = binary.BigEndian.AppendUint16(b, 0xffff)             // producer epoch -1
	b = binary.BigEndian.AppendUint32(b, 0xffffffff)         // base sequence -1
	b = binary.BigEndian.AppendUint32(b, uint32(e.n))
	if codec := e.codec.Codec(); codec != nil && e.codec != 0 {
		e.cw.b = b
		zw := codec.NewWriter(&e.cw)
		_, err := zw.Write(e.recs)
		if cerr := zw.Close(); err == nil {
			err = cerr
		}
		b, e.cw.b = e.cw.b, nil
		if err != nil {
			e.out = b[:0]
			return nil, fmt.Errorf("compress record batch (%s): %w", e.codec, err)
		}
	} else {
		b = append(b, e.recs...)
	}
	binary.BigEndian.PutUint32(b[0:], uint32(len(b)-sizePrefix))
	binary.BigEndian.PutUint32(b[sizePrefix+8:], uint32(len(b)-sizePrefix-12))
	crc := crc32.Checksum(b[sizePrefix+offAttributes:], castagnoli)
	binary.BigEndian.PutUint32(b[sizePrefix+offCRC:], crc)
	e.out = b
	return b, nil
}

// appendWriter is an io.Writer appending to b.
type appendWriter struct{ b []byte }

func (w *appendWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}

// varintLen is the length of binary.AppendVarint(nil, v).
func varintLen(v int64) int {
	u := uint64(v<<1) ^ uint64(v>>63)
	n := 1
	for u >= 0x80 {
		u >>= 7
		n++
	}
	return n
}
