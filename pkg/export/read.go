package export

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"

	// klauspost/compress is a drop-in for the standard library's gzip and
	// flate (same API, same errors' shapes, checks the CRC and size the same
	// way) that inflates about twice as fast; it is widely used (the Go
	// ecosystem's zstd, S2, and many HTTP stacks) and well kept. Inflating
	// is a visible part of a backfill's CPU time.
	"github.com/klauspost/compress/flate"
	"github.com/klauspost/compress/gzip"
)

// MaxLineBytes bounds one data line. Items are at most 400 KB in DynamoDB,
// but their JSON or ION text is larger (base64 binaries, type descriptors,
// escapes); 4 MiB leaves room while bounding memory per reader.
const MaxLineBytes = 4 << 20

// ReadFile streams data file f and calls fn for each non-empty line, with
// the line's number in the file (1-based, counting empty lines too, so it
// matches `zcat | sed -n Np`) and its bytes without the line ending. data is
// valid only during the call. Memory stays bounded whatever the file's size:
// the object is read through md5 (over the compressed bytes), gzip and a
// line splitter, never held whole.
//
// After the last line it checks the object's md5 against the manifest's
// md5Checksum (when the manifest gives one) and the number of lines against
// its itemCount. Every error is a *FileError naming f.Key and, where there
// is one, the line; the causes are ErrChecksum (*ChecksumError),
// ErrItemCount (*ItemCountError), ErrTruncated, ErrLineTooLong, a
// *NotFoundError, ctx's error, or fn's error as returned. Because lines are
// handed over as they are read, fn may have seen lines of a file that then
// fails its md5 or count check: the caller must treat the file's lines as
// a unit (the backfill loads a file in one transaction).
func (e *Export) ReadFile(ctx context.Context, f DataFile, fn func(line int64, data []byte) error) error {
	fail := func(line int64, err error) error { return &FileError{File: f.Key, Line: line, Err: err} }

	key, err := e.storeKey(f.Key)
	if err != nil {
		return fail(0, err)
	}
	rc, err := e.store.Open(ctx, key)
	if err != nil {
		return fail(0, err)
	}
	defer rc.Close()

	h := md5.New()
	// gzip reads through a buffered reader (it would otherwise add its own),
	// so every compressed byte passes the hash exactly once.
	compressed := bufio.NewReaderSize(io.TeeReader(rc, h), 128<<10)
	zr, err := gzip.NewReader(compressed)
	if err != nil {
		return fail(0, gzipError(err))
	}
	defer zr.Close()
	lines := bufio.NewReaderSize(zr, 64<<10)

	var n, count int64
	var long []byte // a line longer than the reader's buffer, assembled
	for {
		chunk, err := lines.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(long)+len(chunk) > MaxLineBytes {
				return fail(n+1, fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, MaxLineBytes))
			}
			long = append(long, chunk...)
			continue
		}
		if err != nil && err != io.EOF {
			return fail(n+1, gzipError(err)) // in the line being read
		}
		data := chunk
		if len(long) > 0 {
			long = append(long, chunk...)
			data = long
		}
		if len(data) > 0 {
			n++
			if len(data) > MaxLineBytes {
				return fail(n, fmt.Errorf("%w: more than %d bytes", ErrLineTooLong, MaxLineBytes))
			}
			if data = trimEOL(data); len(data) > 0 {
				count++
				if ferr := fn(n, data); ferr != nil {
					return fail(n, ferr)
				}
			}
		}
		long = long[:0]
		if err == io.EOF {
			break
		}
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return fail(n, err)
			}
		}
	}

	// Hash whatever follows the gzip stream too, so the md5 covers the
	// whole object as the manifest's does.
	if _, err := io.Copy(io.Discard, compressed); err != nil {
		return fail(0, fmt.Errorf("reading: %w", err))
	}
	if f.MD5 != "" {
		sum := h.Sum(nil)
		ok, err := md5Matches(f.MD5, sum)
		if err != nil {
			return fail(0, fmt.Errorf("manifest md5Checksum: %w", err))
		}
		if !ok {
			return fail(0, &ChecksumError{Expected: f.MD5, Got: base64.StdEncoding.EncodeToString(sum)})
		}
	}
	if count != f.ItemCount {
		return fail(0, &ItemCountError{What: "lines read", Manifest: f.ItemCount, Got: count})
	}
	return nil
}

func trimEOL(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\n' {
		b = b[:len(b)-1]
	}
	if len(b) > 0 && b[len(b)-1] == '\r' {
		b = b[:len(b)-1]
	}
	return b
}

// gzipError names what went wrong with the compressed stream.
func gzipError(err error) error {
	var corrupt flate.CorruptInputError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("%w: %w", ErrTruncated, err)
	case errors.Is(err, io.EOF):
		return errors.New("empty file: not gzip")
	case errors.Is(err, gzip.ErrHeader):
		return fmt.Errorf("not a gzip file: %w", err)
	case errors.Is(err, gzip.ErrChecksum), errors.As(err, &corrupt):
		return fmt.Errorf("corrupt gzip: %w", err)
	}
	return fmt.Errorf("reading: %w", err)
}
