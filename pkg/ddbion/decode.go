// Package ddbion decodes the data lines of DynamoDB exports written in
// Amazon Ion (outputFormat "ION") into the same records pkg/ddbjson returns
// for DYNAMODB_JSON exports, so the rest of the backfill cannot tell the
// formats apart.
//
// An ION data line is the Ion version marker and one struct:
//
//	$ion_1_0 {Item:{Id:103.,PageCount:6d2,Authors:$dynamodb_SS::["a","b"],...}}
//
// The mapping from Ion to DynamoDB types:
//
//	string -> S              decimal, int -> N (exact, never through float64)
//	blob   -> B              bool -> BOOL          null -> NULL
//	list   -> L              struct -> M
//	$dynamodb_SS::[strings]  -> SS
//	$dynamodb_NS::[numbers]  -> NS
//	$dynamodb_BS::[blobs]    -> BS
//
// Numbers are returned as the plain decimal text DynamoDB JSON exports carry
// ("6d2" -> "600", "-1.5d-3" -> "-0.0015", "103." -> "103"): the value is
// exact and identical to what ddbjson returns for the same item exported as
// DYNAMODB_JSON. A number whose plain text would be absurdly long (far
// outside DynamoDB's range) keeps an exponent ("1E+500"), which
// ddbitem.ParseNumber reads.
//
// The decoder is as strict as ddbjson: Ion values DynamoDB never writes
// (floats, timestamps, symbols as values, clobs, s-expressions, typed nulls,
// unknown or misplaced annotations, symbols without text) are refused, as are
// duplicate field names, unknown fields of the line, anything after the
// struct and nesting deeper than MaxDepth. Empty sets and duplicate set
// members are accepted as they are (the mapping judges them).
//
// Lines of an incremental export are accepted in the same shape as their
// DYNAMODB_JSON form ({Metadata:{WriteTimestampMicros:...},Keys:{...},
// NewImage:{...},OldImage:{...}}), WriteTimestampMicros being an Ion int or
// integral decimal. AWS documents only the DYNAMODB_JSON form of incremental
// lines; this is the same structure transcribed.
//
// Parsing is done by the amazon-ion/ion-go text reader; this package only
// maps its values. Binary Ion is refused: exports are text, and ion-go's
// binary reader allocates whatever lengths its input declares.
package ddbion

import (
	"bufio"
	"bytes"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/amazon-ion/ion-go/ion"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
)

// MaxDepth bounds how deeply M and L values may nest (DynamoDB allows 32).
const MaxDepth = ddbjson.MaxDepth

// Annotations DynamoDB puts on Ion lists holding sets.
const (
	AnnotationSS = "$dynamodb_SS"
	AnnotationNS = "$dynamodb_NS"
	AnnotationBS = "$dynamodb_BS"
)

// versionMarker is the Ion version marker every ION export line starts with.
const versionMarker = "$ion_1_0"

// Decoder decodes ION export lines. The zero value is ready to use; a
// Decoder is not safe for concurrent use. It keeps no reference to the
// input after a call returns.
type Decoder struct {
	r     ion.Reader
	depth int
	num   []byte // scratch for number texts

	// The Ion reader reads through br, reused across lines (ion-go would
	// otherwise allocate a 4 KB buffer per line).
	src bytes.Reader
	br  *bufio.Reader

	// Stacks of the elements of the maps and lists being decoded, shared
	// by nested containers, so each map or slice is allocated once at its
	// exact size.
	kvs  []kv
	vals []ddbitem.Value
}

type kv struct {
	k string
	v ddbitem.Value
}

// DecodeExportLine decodes one data line of an ION export, full or
// incremental, into what ddbjson.DecodeExportLine returns for the same line
// in DYNAMODB_JSON. Errors are *DecodeError.
func DecodeExportLine(b []byte) (ddbjson.Record, error) {
	var d Decoder
	return d.DecodeExportLine(b)
}

// DecodeExportLine is the package-level DecodeExportLine on d.
func (d *Decoder) DecodeExportLine(b []byte) (rec ddbjson.Record, err error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return ddbjson.Record{}, &DecodeError{Reason: "empty line"}
	}
	if len(b) >= 4 && b[0] == 0xE0 && b[3] == 0xEA {
		// ion-go's binary reader trusts declared lengths (a 14-byte line
		// can make it allocate terabytes), and ION exports are text.
		return ddbjson.Record{}, &DecodeError{Reason: "binary ion is not supported (ION exports are text)"}
	}
	d.src.Reset(b)
	if d.br == nil {
		d.br = bufio.NewReaderSize(&d.src, 4096)
	} else {
		d.br.Reset(&d.src)
	}
	d.r = ion.NewReader(d.br) // bufio.NewReader inside returns d.br as is
	d.depth = 0
	defer func() {
		d.r = nil
		d.src.Reset(nil)
		d.br.Reset(&d.src)
		clear(d.kvs)
		d.kvs = d.kvs[:0]
		clear(d.vals)
		d.vals = d.vals[:0]
		const keep = 1024
		if cap(d.kvs) > keep {
			d.kvs = nil
		}
		if cap(d.vals) > keep {
			d.vals = nil
		}
		// The Ion reader is trusted not to panic, but a panic on one hostile
		// line must not take the whole backfill down.
		if p := recover(); p != nil {
			rec, err = ddbjson.Record{}, &DecodeError{Reason: "invalid ion: reader failed: " + strings.TrimPrefix(toString(p), "ion: ")}
		}
	}()
	rec, perr := d.line()
	if perr != nil {
		return ddbjson.Record{}, toDecodeError(perr)
	}
	return rec, nil
}

func toString(p any) string {
	if e, ok := p.(error); ok {
		return e.Error()
	}
	if s, ok := p.(string); ok {
		return s
	}
	return "panic"
}

// next advances the reader, turning a reader failure into a pathError.
func (d *Decoder) next() (bool, *pathError) {
	if d.r.Next() {
		return true, nil
	}
	if err := d.r.Err(); err != nil {
		return false, ionError(err)
	}
	return false, nil
}

const (
	fItem = 1 << iota
	fKeys
	fNewImage
	fOldImage
	fMetadata
)

func (d *Decoder) line() (ddbjson.Record, *pathError) {
	var rec ddbjson.Record
	ok, perr := d.next()
	if perr != nil {
		return rec, perr
	}
	if ok && d.r.Type() == ion.SymbolType && !d.r.IsNull() {
		// The text reader hands the version marker back as a symbol.
		if s, err := d.r.SymbolValue(); err == nil && s != nil && s.Text != nil && *s.Text == versionMarker {
			if perr := d.noAnnotations(); perr != nil {
				return rec, perr
			}
			if ok, perr = d.next(); perr != nil {
				return rec, perr
			}
		}
	}
	if !ok {
		return rec, errorf("line holds no ion value")
	}
	if t := d.r.Type(); t != ion.StructType || d.r.IsNull() {
		return rec, errorf("an export line must be an ion struct, got %s", d.describe())
	}
	if perr := d.noAnnotations(); perr != nil {
		return rec, perr
	}
	if err := d.r.StepIn(); err != nil {
		return rec, ionError(err)
	}
	var shape ddbjson.LineShape
	for {
		ok, perr := d.next()
		if perr != nil {
			return rec, perr
		}
		if !ok {
			break
		}
		name, perr := d.fieldName()
		if perr != nil {
			return rec, perr
		}
		f, perr := shape.Field(name)
		if perr != nil {
			return rec, perr
		}
		switch f {
		case ddbjson.FieldItem:
			rec.Item, perr = d.attrMap()
		case ddbjson.FieldKeys:
			rec.Keys, perr = d.attrMap()
		case ddbjson.FieldNewImage:
			rec.NewImage, perr = d.attrMap()
		case ddbjson.FieldOldImage:
			rec.OldImage, perr = d.attrMap()
		case ddbjson.FieldMetadata:
			var have bool
			rec.WriteTimeMicros, have, perr = d.metadata()
			shape.Timestamp(have)
		}
		if perr != nil {
			return rec, perr.In(name)
		}
	}
	if err := d.r.StepOut(); err != nil {
		return rec, ionError(err)
	}
	if ok, perr := d.next(); perr != nil {
		return rec, perr
	} else if ok {
		return rec, errorf("unexpected %s after the export line's struct", d.describe())
	}
	if perr := shape.Finish(&rec); perr != nil {
		return rec, perr
	}
	return rec, nil
}

// metadata reads the Metadata struct of an incremental line; fields other
// than WriteTimestampMicros are skipped.
func (d *Decoder) metadata() (int64, bool, *pathError) {
	if d.r.Type() != ion.StructType || d.r.IsNull() {
		return 0, false, errorf("Metadata must be an ion struct, got %s", d.describe())
	}
	if err := d.r.StepIn(); err != nil {
		return 0, false, ionError(err)
	}
	var ts int64
	have := false
	for {
		ok, perr := d.next()
		if perr != nil {
			return 0, false, perr
		}
		if !ok {
			break
		}
		name, perr := d.fieldName()
		if perr != nil {
			return 0, false, perr
		}
		if name != "WriteTimestampMicros" {
			continue // Next skips the value, checking it
		}
		if have {
			return 0, false, errorf("duplicate field %q", name)
		}
		if perr := d.noAnnotations(); perr != nil {
			return 0, false, perr.In(name)
		}
		txt, perr := d.number()
		if perr != nil {
			return 0, false, perr.In(name)
		}
		if ts, perr = micros(txt); perr != nil {
			return 0, false, perr.In(name)
		}
		have = true
	}
	if err := d.r.StepOut(); err != nil {
		return 0, false, ionError(err)
	}
	return ts, have, nil
}

// micros converts a WriteTimestampMicros number text to int64 (the one rule
// of ddbitem.ParseMicros, shared with the JSON decoder).
func micros(s string) (int64, *pathError) {
	n, err := ddbitem.ParseMicros(s)
	if err != nil {
		return 0, errorf("%v", err)
	}
	return n, nil
}

func (d *Decoder) fieldName() (string, *pathError) {
	tok, err := d.r.FieldName()
	if err != nil {
		return "", ionError(err)
	}
	if tok == nil || tok.Text == nil {
		return "", errorf("field name is a symbol without text")
	}
	if !utf8.ValidString(*tok.Text) {
		return "", errorf("invalid utf-8 in field name %q", *tok.Text)
	}
	return *tok.Text, nil
}

// noAnnotations refuses annotations on the current value.
func (d *Decoder) noAnnotations() *pathError {
	as, err := d.r.Annotations()
	if err != nil {
		return ionError(err)
	}
	if len(as) > 0 {
		return errorf("unexpected annotation %s on %s", tokenText(as[0]), d.describe())
	}
	return nil
}

func tokenText(t ion.SymbolToken) string {
	if t.Text == nil {
		return "$" + strconv.FormatInt(t.LocalSID, 10)
	}
	return strconv.Quote(*t.Text)
}

// attrMap decodes the struct at the reader into an attribute map.
func (d *Decoder) attrMap() (map[string]ddbitem.Value, *pathError) {
	if d.r.Type() != ion.StructType || d.r.IsNull() {
		return nil, errorf("attribute map must be an ion struct, got %s", d.describe())
	}
	if perr := d.noAnnotations(); perr != nil {
		return nil, perr
	}
	return d.structBody()
}

func (d *Decoder) structBody() (map[string]ddbitem.Value, *pathError) {
	if err := d.r.StepIn(); err != nil {
		return nil, ionError(err)
	}
	start := len(d.kvs)
	defer func() {
		clear(d.kvs[start:])
		d.kvs = d.kvs[:start]
	}()
	for {
		ok, perr := d.next()
		if perr != nil {
			return nil, perr
		}
		if !ok {
			break
		}
		name, perr := d.fieldName()
		if perr != nil {
			return nil, perr
		}
		v, perr := d.value()
		if perr != nil {
			return nil, perr.In(name)
		}
		d.kvs = append(d.kvs, kv{name, v})
	}
	if err := d.r.StepOut(); err != nil {
		return nil, ionError(err)
	}
	entries := d.kvs[start:]
	m := make(map[string]ddbitem.Value, len(entries))
	for i := range entries {
		if _, dup := m[entries[i].k]; dup {
			return nil, errorf("duplicate attribute %q", entries[i].k)
		}
		m[entries[i].k] = entries[i].v
	}
	return m, nil
}

// value decodes the Ion value at the reader.
func (d *Decoder) value() (ddbitem.Value, *pathError) {
	as, err := d.r.Annotations()
	if err != nil {
		return ddbitem.Value{}, ionError(err)
	}
	t := d.r.Type()
	if len(as) > 0 {
		if len(as) > 1 {
			return ddbitem.Value{}, errorf("more than one annotation on one value (%s and %s)", tokenText(as[0]), tokenText(as[1]))
		}
		a := ""
		if as[0].Text != nil {
			a = *as[0].Text
		}
		if a != AnnotationSS && a != AnnotationNS && a != AnnotationBS {
			return ddbitem.Value{}, errorf("unknown annotation %s (expected $dynamodb_SS, $dynamodb_NS or $dynamodb_BS)", tokenText(as[0]))
		}
		if t != ion.ListType || d.r.IsNull() {
			return ddbitem.Value{}, errorf("annotation %s must be on a list, got %s", a, d.describe())
		}
		return d.set(a)
	}
	if d.r.IsNull() {
		if t != ion.NullType {
			return ddbitem.Value{}, errorf("typed null %s is not a DynamoDB value (NULL is plain null)", d.describe())
		}
		return ddbitem.Null(), nil
	}
	switch t {
	case ion.StringType:
		s, perr := d.str()
		return ddbitem.Value{Kind: ddbitem.S, Str: s}, perr
	case ion.DecimalType, ion.IntType:
		n, perr := d.number()
		return ddbitem.Value{Kind: ddbitem.N, Str: n}, perr
	case ion.BoolType:
		b, err := d.r.BoolValue()
		if err != nil {
			return ddbitem.Value{}, ionError(err)
		}
		return ddbitem.Bool(*b), nil
	case ion.BlobType:
		b, perr := d.blob()
		return ddbitem.Value{Kind: ddbitem.B, Bin: b}, perr
	case ion.StructType:
		if perr := d.push(); perr != nil {
			return ddbitem.Value{}, perr
		}
		m, perr := d.structBody()
		d.depth--
		return ddbitem.Value{Kind: ddbitem.M, Map: m}, perr
	case ion.ListType:
		if perr := d.push(); perr != nil {
			return ddbitem.Value{}, perr
		}
		l, perr := d.list()
		d.depth--
		return ddbitem.Value{Kind: ddbitem.L, List: l}, perr
	}
	if t == ion.FloatType {
		return ddbitem.Value{}, errorf("ion float is not a DynamoDB value (numbers are exact decimals)")
	}
	return ddbitem.Value{}, errorf("%s is not a DynamoDB value", d.describe())
}

func (d *Decoder) push() *pathError {
	if d.depth >= MaxDepth {
		return errorf("nesting deeper than %d levels", MaxDepth)
	}
	d.depth++
	return nil
}

func (d *Decoder) list() ([]ddbitem.Value, *pathError) {
	if err := d.r.StepIn(); err != nil {
		return nil, ionError(err)
	}
	start := len(d.vals)
	defer func() {
		clear(d.vals[start:])
		d.vals = d.vals[:start]
	}()
	for i := 0; ; i++ {
		ok, perr := d.next()
		if perr != nil {
			return nil, perr.At(i)
		}
		if !ok {
			break
		}
		v, perr := d.value()
		if perr != nil {
			return nil, perr.At(i)
		}
		d.vals = append(d.vals, v)
	}
	if err := d.r.StepOut(); err != nil {
		return nil, ionError(err)
	}
	out := make([]ddbitem.Value, len(d.vals)-start)
	copy(out, d.vals[start:])
	return out, nil
}

// set decodes the members of an annotated list.
func (d *Decoder) set(ann string) (ddbitem.Value, *pathError) {
	var v ddbitem.Value
	var want ion.Type
	switch ann {
	case AnnotationSS:
		v.Kind, want = ddbitem.SS, ion.StringType
		v.Strs = []string{}
	case AnnotationNS:
		v.Kind, want = ddbitem.NS, ion.DecimalType
		v.Strs = []string{}
	case AnnotationBS:
		v.Kind, want = ddbitem.BS, ion.BlobType
		v.Bins = [][]byte{}
	}
	if err := d.r.StepIn(); err != nil {
		return v, ionError(err)
	}
	for i := 0; ; i++ {
		ok, perr := d.next()
		if perr != nil {
			return v, perr.At(i)
		}
		if !ok {
			break
		}
		if perr := d.noAnnotations(); perr != nil {
			return v, perr.At(i)
		}
		t := d.r.Type()
		if d.r.IsNull() || (t != want && !(want == ion.DecimalType && t == ion.IntType)) {
			what := map[ion.Type]string{ion.StringType: "strings", ion.DecimalType: "numbers", ion.BlobType: "blobs"}[want]
			return v, errorf("%s members must be %s, got %s", v.Kind, what, d.describe()).At(i)
		}
		switch v.Kind {
		case ddbitem.SS:
			s, perr := d.str()
			if perr != nil {
				return v, perr.At(i)
			}
			v.Strs = append(v.Strs, s)
		case ddbitem.NS:
			n, perr := d.number()
			if perr != nil {
				return v, perr.At(i)
			}
			v.Strs = append(v.Strs, n)
		case ddbitem.BS:
			b, perr := d.blob()
			if perr != nil {
				return v, perr.At(i)
			}
			v.Bins = append(v.Bins, b)
		}
	}
	if err := d.r.StepOut(); err != nil {
		return v, ionError(err)
	}
	return v, nil
}

func (d *Decoder) str() (string, *pathError) {
	s, err := d.r.StringValue()
	if err != nil {
		return "", ionError(err)
	}
	if s == nil {
		return "", errorf("string is null")
	}
	if !utf8.ValidString(*s) {
		return "", errorf("invalid utf-8 in string %q", *s)
	}
	return *s, nil
}

func (d *Decoder) blob() ([]byte, *pathError) {
	b, err := d.r.ByteValue()
	if err != nil {
		return nil, ionError(err)
	}
	if b == nil {
		b = []byte{}
	}
	return b, nil
}

// maxPlain bounds the length of the plain text of a number; beyond it the
// number keeps an exponent. DynamoDB's numbers (1E-130 .. 9.99E+125, 38
// digits) are all far inside.
const maxPlain = 200

// number converts the Ion int or decimal at the reader to DynamoDB's decimal
// text, exactly.
func (d *Decoder) number() (string, *pathError) {
	var coef *big.Int
	var exp int32
	switch d.r.Type() {
	case ion.IntType:
		if d.r.IsNull() {
			return "", errorf("typed null %s is not a number", d.describe())
		}
		n, err := d.r.BigIntValue()
		if err != nil {
			return "", ionError(err)
		}
		coef = n
	case ion.DecimalType:
		if d.r.IsNull() {
			return "", errorf("typed null %s is not a number", d.describe())
		}
		dec, err := d.r.DecimalValue()
		if err != nil {
			return "", ionError(err)
		}
		coef, exp = dec.CoEx()
	default:
		return "", errorf("expected an ion decimal or int, got %s", d.describe())
	}
	b := coef.Append(d.num[:0], 10)
	if exp != 0 {
		b = append(b, 'E')
		b = strconv.AppendInt(b, int64(exp), 10)
	}
	d.num = b
	if exp == 0 {
		if len(b) == 2 && b[0] == '-' && b[1] == '0' {
			return "0", nil
		}
		return string(b), nil // an integer: already DynamoDB's text
	}
	dec, err := ddbitem.ParseNumber(string(b))
	if err != nil {
		return "", errorf("invalid number: %v", err)
	}
	if mag := len(dec.Digits) + dec.Exp; mag > maxPlain || mag < -maxPlain {
		return canonicalExp(dec), nil
	}
	return plainWithScale(coef, exp), nil
}

// plainWithScale writes coef×10^exp in plain notation keeping the decimal's
// scale, as the same number reads in a DYNAMODB_JSON export: Ion's 72.30 is
// "72.30" (jsonb and text columns keep what was written), 6d2 is "600".
func plainWithScale(coef *big.Int, exp int32) string {
	digits := new(big.Int).Abs(coef).String()
	var sb strings.Builder
	if coef.Sign() < 0 {
		sb.WriteByte('-')
	}
	switch {
	case exp >= 0:
		sb.WriteString(digits)
		sb.WriteString(strings.Repeat("0", int(exp)))
	case len(digits) <= int(-exp):
		sb.WriteString("0.")
		sb.WriteString(strings.Repeat("0", int(-exp)-len(digits)))
		sb.WriteString(digits)
	default:
		p := len(digits) + int(exp)
		sb.WriteString(digits[:p])
		sb.WriteByte('.')
		sb.WriteString(digits[p:])
	}
	return sb.String()
}

// canonicalExp renders a decimal far outside DynamoDB's range as
// "-D.DDDE+X", a text ddbitem.ParseNumber reads back to the same value.
func canonicalExp(dec ddbitem.Decimal) string {
	var sb strings.Builder
	if dec.Neg {
		sb.WriteByte('-')
	}
	sb.WriteString(dec.Digits[:1])
	if len(dec.Digits) > 1 {
		sb.WriteByte('.')
		sb.WriteString(dec.Digits[1:])
	}
	e := dec.Exp + len(dec.Digits) - 1
	sb.WriteByte('E')
	if e >= 0 {
		sb.WriteByte('+')
	}
	sb.WriteString(strconv.Itoa(e))
	return sb.String()
}

// describe names the current value for messages.
func (d *Decoder) describe() string {
	t := d.r.Type()
	if d.r.IsNull() {
		if t == ion.NullType {
			return "null"
		}
		return "null." + t.String()
	}
	switch t {
	case ion.SymbolType:
		if s, err := d.r.SymbolValue(); err == nil && s != nil && s.Text != nil {
			return "symbol " + strconv.Quote(*s.Text)
		}
		return "symbol"
	case ion.IntType, ion.DecimalType, ion.FloatType, ion.TimestampType, ion.StringType, ion.ClobType,
		ion.BlobType, ion.ListType, ion.SexpType, ion.StructType, ion.BoolType:
		return "ion " + t.String()
	}
	return "ion " + t.String()
}
