package ddbjson

import "github.com/ddb2pg/ddb2pg/internal/attrpath"

// LineField is a top-level field of an export data line.
type LineField uint8

const (
	FieldItem LineField = 1 << iota
	FieldKeys
	FieldNewImage
	FieldOldImage
	FieldMetadata
)

// LineShape applies the rules of an export line's envelope, whatever the
// line's format (the DYNAMODB_JSON and ION decoders share it): the fields
// are Item (a full export) or Keys, Metadata with WriteTimestampMicros and
// the optional images (an incremental export), each at most once. The zero
// value is ready; use one per line.
type LineShape struct {
	seen   LineField
	haveTS bool
}

// Field names the field called name, refusing unknown and repeated names;
// the decoder then decodes the field's value into the Record.
func (s *LineShape) Field(name string) (LineField, *attrpath.Error) {
	var f LineField
	switch name {
	case "Item":
		f = FieldItem
	case "Keys":
		f = FieldKeys
	case "NewImage":
		f = FieldNewImage
	case "OldImage":
		f = FieldOldImage
	case "Metadata":
		f = FieldMetadata
	default:
		return 0, attrpath.Errorf("unknown field %q in export line (expected Item, or Metadata, Keys, NewImage, OldImage)", name)
	}
	if s.seen&f != 0 {
		return 0, attrpath.Errorf("duplicate field %q in export line", name)
	}
	s.seen |= f
	return f, nil
}

// Timestamp records whether Metadata held WriteTimestampMicros.
func (s *LineShape) Timestamp(have bool) { s.haveTS = have }

// Finish checks that the fields seen make a full-export or an incremental
// line, and marks r as incremental when it is one.
func (s *LineShape) Finish(r *Record) *attrpath.Error {
	switch {
	case s.seen == FieldItem:
		return nil
	case s.seen&FieldItem != 0:
		return attrpath.Errorf("export line mixes Item (full export) with Metadata/Keys/NewImage/OldImage (incremental export)")
	case s.seen == 0:
		return attrpath.Errorf("export line has neither Item nor Keys")
	case s.seen&FieldKeys == 0:
		return attrpath.Errorf("incremental export line has no Keys")
	case s.seen&FieldMetadata == 0 || !s.haveTS:
		return attrpath.Errorf("incremental export line has no Metadata.WriteTimestampMicros")
	}
	r.Incremental = true
	return nil
}
