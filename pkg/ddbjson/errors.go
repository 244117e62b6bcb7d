package ddbjson

import "github.com/ddb2pg/ddb2pg/internal/attrpath"

// DecodeError says why a DynamoDB JSON document was refused and where.
//
// Path names the attribute the way a person would look for it in the item:
// the document part first ("Item", "NewImage", "Keys", "Metadata"), then map
// keys separated by dots and list or set positions in brackets, e.g.
// "Item.items[2].price". For DecodeAttributeMap the path starts at the
// attribute name ("items[2].price"). It is empty when the problem is the
// document as a whole (e.g. trailing garbage after it). A key that would be
// ambiguous in this notation is quoted: Item["a.b"].
type DecodeError struct {
	Path   string
	Reason string
}

func (e *DecodeError) Error() string {
	if e.Path == "" {
		return "dynamodb json: " + e.Reason
	}
	return "dynamodb json: attribute " + e.Path + ": " + e.Reason
}

// pathError is the decoders' position-tracking error, shared with the
// other export format's decoder so messages read the same.
type pathError = attrpath.Error

func errorf(format string, args ...any) *pathError { return attrpath.Errorf(format, args...) }

func toDecodeError(e *pathError) *DecodeError { return &DecodeError{Path: e.Path(), Reason: e.Reason} }
