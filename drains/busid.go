package drains

import (
	"strconv"

	"github.com/sluice-logs/sluice"
)

// AppendBusBatchID appends a batch id derived from the bus positions of
// batch's messages (cluster mode): "bus-FIRST-LAST-N-HASH", FIRST and LAST
// the positions of the first and last message as PARTITION.OFFSET, N the
// count and HASH an FNV-1a of every position. Any process that sends the
// same messages in the same batch derives the same id, so a batch delivered
// again after its partition moved keeps its id. It reports false, appending
// nothing, when a message has no position (single-process mode, or an L10
// notice, which each process writes for itself).
func AppendBusBatchID(dst []byte, batch []sluice.Message) ([]byte, bool) {
	if len(batch) == 0 {
		return dst, false
	}
	h := uint64(14695981039346656037)
	for i := range batch {
		p := batch[i].Pos
		if p == 0 {
			return dst, false
		}
		for s := 0; s < 64; s += 8 {
			h ^= uint64(p>>s) & 0xff
			h *= 1099511628211
		}
	}
	dst = append(dst, "bus-"...)
	dst = batch[0].Pos.AppendID(dst)
	dst = append(dst, '-')
	dst = batch[len(batch)-1].Pos.AppendID(dst)
	dst = append(dst, '-')
	dst = strconv.AppendInt(dst, int64(len(batch)), 10)
	dst = append(dst, '-')
	return strconv.AppendUint(dst, h, 16), true
}
