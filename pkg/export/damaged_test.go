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

func TestSummaryTableName(t *testing.T) {
	for arn, want := range map[string]string{
		"arn:aws:dynamodb:us-east-1:123456789012:table/Orders":                "Orders",
		"arn:aws:dynamodb:us-west-1:060119642692:table/unicorn_activities":    "unicorn_activities",
		"arn:aws:dynamodb:eu-west-1:1:table/My-Table.v2/export/0171-c488b4e1": "My-Table.v2",
		"":           "",
		"not an arn": "",
	} {
		if got := (Summary{TableARN: arn}).TableName(); got != want {
			t.Errorf("%q: got %q, want %q", arn, got, want)
		}
	}
}
