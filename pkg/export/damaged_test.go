package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"
)

func TestIsDamaged(t *testing.T) {
	t.Parallel()
	wrap := func(err error) error { return &FileError{File: "data/x.json.gz", Line: 3, Err: err} }
	cases := []struct {
		err  error
		want bool
	}{
		{wrap(&ChecksumError{Expected: "a", Got: "b"}), true},
		{wrap(&ItemCountError{What: "lines", Manifest: 3, Got: 2}), true},
		{wrap(fmt.Errorf("%w: %w", ErrTruncated, io.ErrUnexpectedEOF)), true},
		{wrap(fmt.Errorf("%w: more than 4 bytes", ErrLineTooLong)), true},
		{wrap(&NotFoundError{Key: "data/x.json.gz"}), true},
		{wrap(fmt.Errorf("reading: %w", syscall.ECONNRESET)), false},
		{wrap(context.Canceled), false},
		{errors.New("something else"), false},
	}
	for _, c := range cases {
		if got := IsDamaged(c.err); got != c.want {
			t.Errorf("IsDamaged(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
