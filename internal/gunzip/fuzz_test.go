package gunzip

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"testing"
)

// FuzzAppend feeds Append arbitrary bytes, and gzip streams of arbitrary
// data, under a small limit: it never panics, never returns more than
// limit+1 bytes (the byte that detects a bomb), agrees with the standard
// library's decoder on what a stream holds, and round-trips what it
// compresses. testdata/fuzz/FuzzAppend holds its findings (one: the
// limit counts dst's own bytes, which this target first forgot).
func FuzzAppend(f *testing.F) {
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	_, _ = zw.Write(bytes.Repeat([]byte("a"), 10000))
	_ = zw.Close()
	f.Add(zb.Bytes(), uint16(100), false)
	f.Add([]byte("hello\nworld\n"), uint16(64), true)
	f.Add([]byte("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"), uint16(10), false)
	f.Add(append(append([]byte{}, zb.Bytes()...), zb.Bytes()...), uint16(30000), false) // two members
	f.Fuzz(func(t *testing.T, data []byte, limit uint16, compress bool) {
		src := data
		if compress {
			var b bytes.Buffer
			w := gzip.NewWriter(&b)
			_, _ = w.Write(data)
			_ = w.Close()
			src = b.Bytes()
		}
		// The limit bounds dst as a whole, the bytes it held included
		// (TestAppend relies on it; callers pass an empty dst).
		prefix := []byte("kept")
		out, err := Append(bytes.Clone(prefix), src, int64(len(prefix))+int64(limit))
		if !bytes.HasPrefix(out, prefix) {
			t.Fatalf("Append lost dst's bytes: %q", out)
		}
		got := out[len(prefix):]
		if int64(len(got)) > int64(limit)+1 && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("%d bytes out with limit %d and no ErrTooLarge (err %v)", len(got), limit, err)
		}
		// The standard library's reading of the same stream.
		var want []byte
		var stdErr error
		if zr, err := gzip.NewReader(bytes.NewReader(src)); err != nil {
			stdErr = err
		} else {
			want, stdErr = io.ReadAll(io.LimitReader(zr, int64(limit)+2))
		}
		switch {
		case err == nil:
			if stdErr != nil || !bytes.Equal(got, want) {
				t.Fatalf("Append ok with %d bytes; the standard library says %d bytes, %v", len(got), len(want), stdErr)
			}
		case errors.Is(err, ErrTooLarge):
			if len(want) <= int(limit) && stdErr == nil {
				t.Fatalf("ErrTooLarge, but the stream holds %d bytes <= limit %d", len(want), limit)
			}
		}
		if compress && len(data) <= int(limit) && (err != nil || !bytes.Equal(got, data)) {
			t.Fatalf("round trip of %d bytes: %v, %d bytes back", len(data), err, len(got))
		}
	})
}
