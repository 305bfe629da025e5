package httpdrain

import (
	"github.com/sluice-logs/sluice"
	"github.com/sluice-logs/sluice/codec/octet"
)

// encode appends the body of batch in the drain's format.
func (d *Drain) encode(dst []byte, batch []sluice.Message) []byte {
	if d.cfg.Format == FormatNDJSON {
		for i := range batch {
			dst = AppendNDJSON(dst, &batch[i])
		}
		return dst
	}
	for i := range batch {
		if d.cfg.Format == FormatLogplex {
			d.frame = sluice.AppendLogplex(d.frame[:0], &batch[i], logplexHost)
		} else {
			d.frame = sluice.AppendRFC5424(d.frame[:0], &batch[i])
		}
		dst = octet.AppendFrame(dst, d.frame)
	}
	if cap(d.frame) > 1<<20 {
		d.frame = nil
	}
	return dst
}

// AppendNDJSON appends m as one line of NDJSON: sluice.AppendJSON (time,
// app, source, proc, host, severity, facility, msgid, structured_data, msg;
// every field present) and a newline. Sluice's HTTP ingest reads it back.
func AppendNDJSON(dst []byte, m *sluice.Message) []byte {
	return append(sluice.AppendJSON(dst, m), '\n')
}
