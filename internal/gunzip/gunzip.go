package gunzip

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"
)

// ErrTooLarge means the decompressed body exceeds the limit.
var ErrTooLarge = errors.New("decompressed body too large")

// gzipReaders holds *gzip.Reader values for reuse; a reader carries about
// 40 KiB of decompression state.
var gzipReaders sync.Pool

// byteReaders holds *bytes.Reader values so the compressed body can be fed
// to the gzip reader without allocating.
var byteReaders = sync.Pool{New: func() any { return new(bytes.Reader) }}

// Append appends the decompression of src (one or more gzip members) to dst.
// It stops with ErrTooLarge as soon as the output would exceed limit bytes,
// so a gzip bomb costs at most about twice limit bytes of memory (append
// may round the last growth up). A truncated or corrupt stream is an error;
// nothing of it should be used.
func Append(dst, src []byte, limit int64) ([]byte, error) {
	br := byteReaders.Get().(*bytes.Reader)
	defer byteReaders.Put(br)
	br.Reset(src)
	defer br.Reset(nil)

	var zr *gzip.Reader
	if v := gzipReaders.Get(); v != nil {
		zr = v.(*gzip.Reader)
		if err := zr.Reset(br); err != nil {
			gzipReaders.Put(zr)
			return dst, fmt.Errorf("read gzip header: %w", err)
		}
	} else {
		var err error
		if zr, err = gzip.NewReader(br); err != nil {
			return dst, fmt.Errorf("read gzip header: %w", err)
		}
	}
	defer gzipReaders.Put(zr)

	if cap(dst)-len(dst) < 4*len(src) {
		// A first guess at the ratio of log text; append grows from there.
		want := min(int64(len(dst)+4*len(src)), limit+1)
		dst = append(make([]byte, 0, int(want)), dst...)
	}
	for {
		if len(dst) == cap(dst) {
			if int64(len(dst)) > limit {
				return dst, ErrTooLarge
			}
			// Grow, but never past limit+1: reading one byte more than the
			// limit is how the bomb is detected.
			grow := min(max(int64(cap(dst)), 4096), limit+1-int64(len(dst)))
			dst = append(dst, make([]byte, grow)...)[:len(dst)]
		}
		n, err := zr.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)) > limit {
			return dst, ErrTooLarge
		}
		if errors.Is(err, io.EOF) {
			return dst, nil
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return dst, errors.New("truncated gzip stream")
			}
			return dst, fmt.Errorf("decompress gzip: %w", err)
		}
	}
}
