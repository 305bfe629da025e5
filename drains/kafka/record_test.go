package kafka

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"strings"
	"testing"
	"time"

	kafkago "github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// TestBatchEncoder decodes the record batches batchEncoder builds with
// franz-go's kmsg and checks every header field, the CRC-32C and each
// record; compressed batches must decompress to the records of the
// uncompressed one.
func TestBatchEncoder(t *testing.T) {
	type rec struct {
		key, value string
		t          time.Time
	}
	recs := []rec{
		{"web", "first", baseTime},
		{"api", strings.Repeat("x", 300), baseTime.Add(1500 * time.Microsecond)},
		{"web", "", baseTime.Add(-time.Second)}, // earlier than the first: negative delta
		{"a", "ünïcode", baseTime.Add(time.Hour)},
	}
	var plain []byte // records section of the uncompressed batch
	for _, tt := range []struct {
		name  string
		codec kafkago.Compression
	}{
		{"none", 0},
		{"gzip", kafkago.Gzip},
		{"snappy", kafkago.Snappy},
		{"lz4", kafkago.Lz4},
		{"zstd", kafkago.Zstd},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := batchEncoder{codec: tt.codec}
			// Twice: the second batch reuses the first one's buffers.
			for round := 0; round < 2; round++ {
				e.reset()
				for _, r := range recs {
					e.add(r.key, []byte(r.value), r.t)
				}
				rs, err := e.finish()
				if err != nil {
					t.Fatalf("finish: %v", err)
				}
				if got := binary.BigEndian.Uint32(rs); int(got) != len(rs)-sizePrefix {
					t.Fatalf("size prefix %d, want %d", got, len(rs)-sizePrefix)
				}
				raw := rs[sizePrefix:]
				var b kmsg.RecordBatch
				if err := b.ReadFrom(raw); err != nil {
					t.Fatalf("decode record batch: %v", err)
				}
				wantCRC := int32(crc32.Checksum(raw[offAttributes:], crc32.MakeTable(crc32.Castagnoli)))
				switch {
				case int(b.Length) != len(raw)-12:
					t.Fatalf("batch length %d, want %d", b.Length, len(raw)-12)
				case b.Magic != 2 || b.PartitionLeaderEpoch != -1:
					t.Fatalf("magic %d, leader epoch %d", b.Magic, b.PartitionLeaderEpoch)
				case b.CRC != wantCRC:
					t.Fatalf("crc %08x, want %08x", uint32(b.CRC), uint32(wantCRC))
				case b.Attributes != int16(tt.codec):
					t.Fatalf("attributes %d, want codec %d", b.Attributes, tt.codec)
				case b.LastOffsetDelta != int32(len(recs)-1) || b.NumRecords != int32(len(recs)):
					t.Fatalf("last offset delta %d, records %d", b.LastOffsetDelta, b.NumRecords)
				case b.FirstTimestamp != baseTime.UnixMilli() || b.MaxTimestamp != baseTime.Add(time.Hour).UnixMilli():
					t.Fatalf("timestamps first %d max %d", b.FirstTimestamp, b.MaxTimestamp)
				case b.ProducerID != -1 || b.ProducerEpoch != -1 || b.FirstSequence != -1:
					t.Fatalf("producer id %d epoch %d sequence %d", b.ProducerID, b.ProducerEpoch, b.FirstSequence)
				}
				records := b.Records
				if tt.codec != 0 {
					r := tt.codec.Codec().NewReader(bytes.NewReader(b.Records))
					records, err = io.ReadAll(r)
					if err != nil {
						t.Fatalf("decompress: %v", err)
					}
					if err := r.Close(); err != nil {
						t.Fatalf("close decompressor: %v", err)
					}
					if !bytes.Equal(records, plain) {
						t.Fatalf("decompressed records differ from the uncompressed batch's")
					}
				} else {
					plain = append(plain[:0], records...)
				}
				for i, want := range recs {
					var r kmsg.Record
					if err := r.ReadFrom(records); err != nil {
						t.Fatalf("record %d: %v", i, err)
					}
					n := varintLen(int64(r.Length)) + int(r.Length)
					if n > len(records) {
						t.Fatalf("record %d: length %d beyond the batch", i, r.Length)
					}
					records = records[n:]
					if string(r.Key) != want.key || string(r.Value) != want.value || len(r.Headers) != 0 {
						t.Fatalf("record %d: key %q value %q headers %d", i, r.Key, r.Value, len(r.Headers))
					}
					if r.OffsetDelta != int32(i) || b.FirstTimestamp+r.TimestampDelta64 != want.t.UnixMilli() {
						t.Fatalf("record %d: offset delta %d, time %d, want %d", i, r.OffsetDelta, b.FirstTimestamp+r.TimestampDelta64, want.t.UnixMilli())
					}
				}
				if len(records) != 0 {
					t.Fatalf("%d bytes after the last record", len(records))
				}
			}
		})
	}
}

func TestVarintLen(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 63, -64, 64, -65, 8191, 8192, 1 << 20, -(1 << 40), 1<<63 - 1, -1 << 63} {
		if got, want := varintLen(v), len(binary.AppendVarint(nil, v)); got != want {
			t.Fatalf("varintLen(%d) = %d, want %d", v, got, want)
		}
	}
}
