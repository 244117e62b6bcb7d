package ddbion

import (
	"strings"

	"github.com/ddb2pg/ddb2pg/internal/attrpath"
)

// DecodeError says why an ION export line was refused and where. Path uses
// the notation of ddbjson.DecodeError: the document part first ("Item",
// "NewImage", "Keys", "Metadata"), then map keys separated by dots and list
// or set positions in brackets ("Item.items[2].price"); a key that would be
// ambiguous is quoted (Item["a.b"]). It is empty when the problem is the line
// as a whole.
type DecodeError struct {
	Path   string
	Reason string
}

func (e *DecodeError) Error() string {
	if e.Path == "" {
		return "dynamodb ion: " + e.Reason
	}
	return "dynamodb ion: attribute " + e.Path + ": " + e.Reason
}

// pathError is the decoders' position-tracking error, shared with the
// other export format's decoder so messages read the same.
type pathError = attrpath.Error

func errorf(format string, args ...any) *pathError { return attrpath.Errorf(format, args...) }

func toDecodeError(e *pathError) *DecodeError { return &DecodeError{Path: e.Path(), Reason: e.Reason} }

// ionError wraps an error of the Ion reader (syntax, truncation).
func ionError(err error) *pathError {
	return &pathError{Reason: "invalid ion: " + strings.TrimPrefix(err.Error(), "ion: ")}
}
