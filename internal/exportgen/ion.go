package exportgen

import (
	"bytes"
	"fmt"
	"math/big"
	"slices"
	"strconv"

	"github.com/amazon-ion/ion-go/ion"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
)

// Output formats of an export (the summary's outputFormat).
const (
	FormatDynamoDBJSON = "DYNAMODB_JSON"
	FormatION          = "ION"
)

// WriteExportION writes cfg's export exactly as WriteExport does (same
// items in the same order, same file split, export id, file names and
// Stats) but with outputFormat "ION": data files are <name>.ion.gz and hold
// one line per item as AWS writes them,
//
//	$ion_1_0 {Item:{Id:103.,PageCount:6d2,Authors:$dynamodb_SS::["a","b"]}}
//
// so the same data can be loaded from both formats and the tables compared.
// Write the two formats under different dirs: their export ids are equal.
func WriteExportION(dir string, cfg Config) (*Written, error) {
	return writeExport(dir, cfg, FormatION)
}

// EncodeItemION returns the ION export line of a full export item (without
// the trailing newline), the way AWS writes it: the version marker, a space,
// then {Item:{...}} with attributes in name order. Numbers become Ion
// decimals in AWS's normalized form (103 -> 103., 600 -> 6d2,
// -0.0015 -> -1.5d-3), exactly: numbers never go through float64.
func EncodeItemION(it ddbitem.Item) ([]byte, error) {
	var b bytes.Buffer
	err := appendLineION(&b, func(w ion.Writer) error {
		if err := w.FieldName(ion.NewSymbolTokenFromString("Item")); err != nil {
			return err
		}
		return writeMapION(w, it)
	})
	return b.Bytes(), err
}

// EncodeRecordION returns the ION line of rec: {Item:...} for a full export
// record, {Metadata:{WriteTimestampMicros:<int>},Keys:...,NewImage:...,
// OldImage:...} (absent images omitted) for an incremental one.
func EncodeRecordION(rec ddbjson.Record) ([]byte, error) {
	if !rec.Incremental {
		return EncodeItemION(rec.Item)
	}
	var b bytes.Buffer
	err := appendLineION(&b, func(w ion.Writer) error {
		if err := w.FieldName(ion.NewSymbolTokenFromString("Metadata")); err != nil {
			return err
		}
		if err := w.BeginStruct(); err != nil {
			return err
		}
		if err := w.FieldName(ion.NewSymbolTokenFromString("WriteTimestampMicros")); err != nil {
			return err
		}
		if err := w.WriteInt(rec.WriteTimeMicros); err != nil {
			return err
		}
		if err := w.EndStruct(); err != nil {
			return err
		}
		for _, p := range []struct {
			name string
			it   ddbitem.Item
		}{{"Keys", rec.Keys}, {"NewImage", rec.NewImage}, {"OldImage", rec.OldImage}} {
			if p.it == nil {
				continue
			}
			if err := w.FieldName(ion.NewSymbolTokenFromString(p.name)); err != nil {
				return err
			}
			if err := writeMapION(w, p.it); err != nil {
				return err
			}
		}
		return nil
	})
	return b.Bytes(), err
}

// appendLineION writes "$ion_1_0 " and a top-level struct whose fields
// body writes, on one line.
func appendLineION(b *bytes.Buffer, body func(ion.Writer) error) error {
	b.WriteString("$ion_1_0 ")
	start := b.Len()
	w := ion.NewTextWriter(b)
	if err := w.BeginStruct(); err != nil {
		return fmt.Errorf("encode ion: %w", err)
	}
	if err := body(w); err != nil {
		return fmt.Errorf("encode ion: %w", err)
	}
	if err := w.EndStruct(); err != nil {
		return fmt.Errorf("encode ion: %w", err)
	}
	if err := w.Finish(); err != nil {
		return fmt.Errorf("encode ion: %w", err)
	}
	// The text writer ends a top-level value with a newline; a data line
	// carries its own.
	if b.Len() > start && b.Bytes()[b.Len()-1] == '\n' {
		b.Truncate(b.Len() - 1)
	}
	return nil
}

func writeMapION(w ion.Writer, m map[string]ddbitem.Value) error {
	if err := w.BeginStruct(); err != nil {
		return err
	}
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		if err := w.FieldName(ion.NewSymbolTokenFromString(k)); err != nil {
			return err
		}
		if err := writeValueION(w, m[k]); err != nil {
			return fmt.Errorf("attribute %s: %w", strconv.Quote(k), err)
		}
	}
	return w.EndStruct()
}

func writeValueION(w ion.Writer, v ddbitem.Value) error {
	switch v.Kind {
	case ddbitem.S:
		return w.WriteString(v.Str)
	case ddbitem.N:
		d, err := decimalION(v.Str)
		if err != nil {
			return err
		}
		return w.WriteDecimal(d)
	case ddbitem.B:
		return w.WriteBlob(v.Bin)
	case ddbitem.BOOL:
		return w.WriteBool(v.Bool)
	case ddbitem.NULL:
		return w.WriteNull()
	case ddbitem.M:
		return writeMapION(w, v.Map)
	case ddbitem.L:
		if err := w.BeginList(); err != nil {
			return err
		}
		for i, e := range v.List {
			if err := writeValueION(w, e); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return w.EndList()
	case ddbitem.SS, ddbitem.NS, ddbitem.BS:
		if err := w.Annotation(ion.NewSymbolTokenFromString("$dynamodb_" + v.Kind.String())); err != nil {
			return err
		}
		if err := w.BeginList(); err != nil {
			return err
		}
		switch v.Kind {
		case ddbitem.SS:
			for _, s := range v.Strs {
				if err := w.WriteString(s); err != nil {
					return err
				}
			}
		case ddbitem.NS:
			for _, s := range v.Strs {
				d, err := decimalION(s)
				if err != nil {
					return err
				}
				if err := w.WriteDecimal(d); err != nil {
					return err
				}
			}
		case ddbitem.BS:
			for _, b := range v.Bins {
				if err := w.WriteBlob(b); err != nil {
					return err
				}
			}
		}
		return w.EndList()
	}
	return fmt.Errorf("cannot encode a value of kind %s", v.Kind)
}

// decimalION converts a DynamoDB number text to an Ion decimal in AWS's
// normalized form: coefficient without trailing zeros, exponent.
func decimalION(s string) (*ion.Decimal, error) {
	d, err := ddbitem.ParseNumber(s)
	if err != nil {
		return nil, err
	}
	coef := new(big.Int)
	if !d.IsZero() {
		if _, ok := coef.SetString(d.Digits, 10); !ok {
			return nil, fmt.Errorf("number %q: bad digits", s)
		}
		if d.Neg {
			coef.Neg(coef)
		}
	}
	return ion.NewDecimal(coef, int32(d.Exp), false), nil
}

// writeItemION writes it as one ION line (the ION branch of writeItem).
func (w *dataWriter) writeItemION(it ddbitem.Item) error {
	w.line.Reset()
	err := appendLineION(&w.line, func(iw ion.Writer) error {
		if err := iw.FieldName(ion.NewSymbolTokenFromString("Item")); err != nil {
			return err
		}
		return writeMapION(iw, it)
	})
	if err != nil {
		return fmt.Errorf("encode item: %w", err)
	}
	return w.writeLine(w.line.Bytes(), itemSize(it))
}

// Hooks used by writer.go.

func (o ExportOptions) isION() bool { return o.Format == FormatION }

func (o ExportOptions) checkFormat() error {
	switch o.Format {
	case "", FormatDynamoDBJSON, FormatION:
		return nil
	}
	return fmt.Errorf("exportgen: unknown output format %q (DYNAMODB_JSON or ION)", o.Format)
}

func (o ExportOptions) outputFormat() string {
	if o.isION() {
		return FormatION
	}
	return FormatDynamoDBJSON
}

func (o ExportOptions) dataExt() string {
	if o.isION() {
		return ".ion.gz"
	}
	return ".json.gz"
}
