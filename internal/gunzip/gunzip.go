package gunzip

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/klauspost/compress/gzip"

	"github.com/sluice-logs/sluice/internal/budget"
)

// ErrTooLarge means the decompressed body exceeds the limit.
var ErrTooLarge = errors.New("decompressed body too large")

// ErrOverBudget means the memory budget refused the room the decompressed
// body needs (see AppendWithin).
var ErrOverBudget = errors.New("decompressed body over the memory budget")

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
	return AppendWithin(dst, src, limit, nil)
}

// AppendWithin is Append that takes every byte of buffer it allocates from
// lease first (a nil lease is unlimited). When the lease cannot grow it
// stops with ErrOverBudget, having allocated nothing more: the caller
// answers 503 rather than the process running out of memory. Room dst
// already has is the caller's to account.
func AppendWithin(dst, src []byte, limit int64, lease *budget.Lease) ([]byte, error) {
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
		if lease != nil && !lease.Grow(want) {
			return dst, ErrOverBudget
		}
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
			// The lease counts the buffer's capacity, not the old arrays
			// growth leaves to the garbage collector.
			if lease != nil && !lease.Grow(grow) {
				return dst, ErrOverBudget
			}
			nd := make([]byte, len(dst), int64(cap(dst))+grow)
			copy(nd, dst)
			dst = nd
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

// SizeHint is what src, a gzip body, says it inflates to (the ISIZE of its
// last member), at most limit+1: room to decompress into at once. A body
// of several members, or one that lies, is decompressed all the same;
// the hint only saves growing the buffer.
func SizeHint(src []byte, limit int64) int64 {
	if len(src) < 18 { // the smallest gzip member
		return 0
	}
	n := int64(binary.LittleEndian.Uint32(src[len(src)-4:]))
	return min(n, limit+1)
}

// scratch holds 32 KiB buffers for Measure.
var scratch = sync.Pool{New: func() any { return new([32 << 10]byte) }}

// Measure decompresses src without keeping it and returns its size and
// how many LF bytes it holds, so that a caller can reserve what a body and
// its lines need before allocating any of it. It costs a decompression
// and 32 KiB. It stops with ErrTooLarge past limit, and reports a corrupt
// or truncated stream as Append does.
func Measure(src []byte, limit int64) (size int64, lines int, err error) {
	br := byteReaders.Get().(*bytes.Reader)
	defer byteReaders.Put(br)
	br.Reset(src)
	defer br.Reset(nil)
	var zr *gzip.Reader
	if v := gzipReaders.Get(); v != nil {
		zr = v.(*gzip.Reader)
		if err := zr.Reset(br); err != nil {
			gzipReaders.Put(zr)
			return 0, 0, fmt.Errorf("read gzip header: %w", err)
		}
	} else if zr, err = gzip.NewReader(br); err != nil {
		return 0, 0, fmt.Errorf("read gzip header: %w", err)
	}
	defer gzipReaders.Put(zr)
	buf := scratch.Get().(*[32 << 10]byte)
	defer scratch.Put(buf)
	for {
		n, err := zr.Read(buf[:])
		size += int64(n)
		lines += bytes.Count(buf[:n], []byte{'\n'})
		if size > limit {
			return size, lines, ErrTooLarge
		}
		if errors.Is(err, io.EOF) {
			return size, lines, nil
		}
		if err != nil {
			if errors.Is(err, io.ErrUnexpectedEOF) {
				return size, lines, errors.New("truncated gzip stream")
			}
			return size, lines, fmt.Errorf("decompress gzip: %w", err)
		}
	}
}
