// Package ddbjson decodes DynamoDB JSON (the typed form of exports and of the
// low-level API: {"price":{"N":"12.50"},"tags":{"SS":["a","b"]}}) into the
// shared ddbitem model.
//
// It sits on the backfill's hot path, so it is a hand-written scanner over
// the bytes rather than encoding/json: no map[string]any, no reflection, and
// no float64 anywhere (numbers stay text). It is strict, because a silently
// misread item would be migrated wrong:
//
//   - a value must be an object with exactly one known type descriptor
//     (S, N, B, BOOL, NULL, M, L, SS, NS, BS) holding the JSON type that
//     descriptor requires; NULL must be true;
//   - N and NS members must parse with ddbitem.ParseNumber; B and BS members
//     must be canonical standard base64 (padding required, no line breaks);
//   - strings must be valid UTF-8 (DynamoDB strings are), \u escapes must not
//     leave a surrogate unpaired; U+0000 is kept (the mapping decides);
//   - duplicate keys are rejected everywhere (attribute names, descriptors,
//     the line's own fields): DynamoDB never writes them, and "last wins"
//     would drop data without a word;
//   - nothing but whitespace may follow the document;
//   - nesting deeper than MaxDepth is refused (DynamoDB allows 32 levels).
//
// Empty sets and duplicate set members are accepted as they are: DynamoDB
// cannot hold them, but that is for the mapping to judge, not the decoder.
//
// Decoded strings (attribute names, S and N texts) share memory with one copy
// of the input made per call, so the input buffer may be reused by the caller
// right after the call returns, at the cost that keeping one small string of
// an item keeps that item's whole line alive.
package ddbjson

import (
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// MaxDepth bounds how deeply M and L values may nest. DynamoDB allows 32
// levels; the bound only protects the stack against hostile input.
const MaxDepth = 64

// Record is one decoded data line of an export.
//
// A full export line ({"Item":{...}}) fills Item. An incremental export line
// ({"Metadata":{"WriteTimestampMicros":{"N":"..."}},"Keys":{...},
// "NewImage":{...},"OldImage":{...}}) sets Incremental and fills Keys and
// WriteTimeMicros, plus NewImage and/or OldImage when present: an insert has
// only NewImage, a delete only OldImage, and with the NEW_IMAGE view a delete
// has neither. An absent image is nil.
type Record struct {
	Item            ddbitem.Item // full export
	Keys            ddbitem.Item
	NewImage        ddbitem.Item
	OldImage        ddbitem.Item
	WriteTimeMicros int64
	Incremental     bool
}

// Decoder holds scratch space reused across calls, so decoding many lines
// allocates little beyond the values it returns. A Decoder is not safe for
// concurrent use; the package-level functions draw Decoders from a pool.
type Decoder struct {
	data  []byte
	s     string // string(data): unescaped strings are substrings of it
	pos   int
	depth int

	// Stacks of elements of the maps, lists and sets being decoded: a
	// container takes its elements from its own start offset and truncates
	// back, so nested containers share them and the final map or slice is
	// allocated once at its exact size.
	kvs  []kv
	vals []ddbitem.Value
	strs []string
	bins [][]byte
	buf  []byte // unescaping

	// Maps of items handed back by Recycle, cleared, for later lines:
	// small ones (one group of slots) apart from grown ones, so a nested
	// map of three attributes does not take a root map's table.
	freeSmall, freeLarge []map[string]ddbitem.Value
	// lineMaps are the maps of the item decoded last, for RecycleLast.
	lineMaps []map[string]ddbitem.Value
}

// maxFreeMaps bounds the maps a Decoder keeps for reuse, per size.
const maxFreeMaps = 256

// smallMap is the most entries a map holds in its first group of slots.
const smallMap = 8

// RecycleLast hands back the maps of the item the last call decoded, so
// that later lines reuse them instead of allocating: building maps is most
// of what decoding allocates. The caller must be done with that item: it
// and every map inside it must not be used afterwards; strings, binaries
// and slices taken from it stay valid. Calling it twice, or after a failed
// decode, is harmless.
func (d *Decoder) RecycleLast() {
	for i, m := range d.lineMaps {
		free := &d.freeSmall
		if len(m) > smallMap {
			free = &d.freeLarge
		}
		clear(m)
		if len(*free) < maxFreeMaps {
			*free = append(*free, m)
		}
		d.lineMaps[i] = nil
	}
	d.lineMaps = d.lineMaps[:0]
}

// forgetMaps drops the record of the last item's maps without reusing them.
func (d *Decoder) forgetMaps() {
	clear(d.lineMaps)
	d.lineMaps = d.lineMaps[:0]
}

// newMap returns an empty map for n entries, reused when one is free.
func (d *Decoder) newMap(n int) map[string]ddbitem.Value {
	free := &d.freeSmall
	if n > smallMap {
		free = &d.freeLarge
	}
	var m map[string]ddbitem.Value
	if k := len(*free); k > 0 {
		m = (*free)[k-1]
		(*free)[k-1] = nil
		*free = (*free)[:k-1]
	} else {
		m = make(map[string]ddbitem.Value, n)
	}
	d.lineMaps = append(d.lineMaps, m)
	return m
}

type kv struct {
	k string
	v ddbitem.Value
}

var pool = sync.Pool{New: func() any { return new(Decoder) }}

// DecodeAttributeMap decodes a DynamoDB JSON attribute map such as
// {"id":{"S":"o-1"},"total":{"N":"12.5"}}. Errors are *DecodeError.
func DecodeAttributeMap(b []byte) (ddbitem.Item, error) {
	d := pool.Get().(*Decoder)
	it, err := d.DecodeAttributeMap(b)
	d.forgetMaps()
	pool.Put(d)
	return it, err
}

// DecodeExportLine decodes one data line of a DYNAMODB_JSON export, full or
// incremental. Errors are *DecodeError.
func DecodeExportLine(b []byte) (Record, error) {
	d := pool.Get().(*Decoder)
	r, err := d.DecodeExportLine(b)
	d.forgetMaps()
	pool.Put(d)
	return r, err
}

// DecodeAttributeMap is the package-level DecodeAttributeMap reusing d's
// scratch space.
func (d *Decoder) DecodeAttributeMap(b []byte) (ddbitem.Item, error) {
	d.reset(b)
	defer d.release()
	d.ws()
	if d.pos == len(d.data) {
		return nil, &DecodeError{Reason: "empty document"}
	}
	m, perr := d.attrMap()
	if perr == nil {
		perr = d.end()
	}
	if perr != nil {
		return nil, toDecodeError(perr)
	}
	return m, nil
}

// DecodeExportLine is the package-level DecodeExportLine reusing d's scratch
// space.
func (d *Decoder) DecodeExportLine(b []byte) (Record, error) {
	d.reset(b)
	defer d.release()
	r, perr := d.line()
	if perr == nil {
		perr = d.end()
	}
	if perr != nil {
		return Record{}, toDecodeError(perr)
	}
	return r, nil
}

func (d *Decoder) reset(b []byte) {
	d.forgetMaps() // the previous item's maps are the caller's now
	d.data = b
	d.s = string(b)
	d.pos = 0
	d.depth = 0
}

// release drops the references to the input. The scratch stacks are
// already empty and cleared (every container clears its part on the way
// out, errors included), so a pooled Decoder keeps no values alive; stacks
// grown by an unusually large item are dropped so it stays small, too.
func (d *Decoder) release() {
	d.data, d.s = nil, ""
	const keep = 1024
	if cap(d.kvs) > keep {
		d.kvs = nil
	}
	if cap(d.vals) > keep {
		d.vals = nil
	}
	if cap(d.strs) > keep {
		d.strs = nil
	}
	if cap(d.bins) > keep {
		d.bins = nil
	}
	if cap(d.buf) > 64<<10 {
		d.buf = nil
	}
}

func (d *Decoder) line() (Record, *pathError) {
	var r Record
	d.ws()
	if d.pos == len(d.data) {
		return r, errorf("empty line")
	}
	if d.data[d.pos] != '{' {
		return r, errorf("an export line must be a JSON object, got %s", d.describe())
	}
	d.pos++
	var shape LineShape
	for first := true; ; first = false {
		name, ok, perr := d.nextKey(first)
		if perr != nil {
			return r, perr
		}
		if !ok {
			break
		}
		f, perr := shape.Field(name)
		if perr != nil {
			return r, perr
		}
		switch f {
		case FieldItem:
			r.Item, perr = d.attrMap()
		case FieldKeys:
			r.Keys, perr = d.attrMap()
		case FieldNewImage:
			r.NewImage, perr = d.attrMap()
		case FieldOldImage:
			r.OldImage, perr = d.attrMap()
		case FieldMetadata:
			var have bool
			r.WriteTimeMicros, have, perr = d.metadata()
			shape.Timestamp(have)
		}
		if perr != nil {
			return r, perr.In(name)
		}
	}
	if perr := shape.Finish(&r); perr != nil {
		return r, perr
	}
	return r, nil
}

// metadata reads the Metadata object of an incremental line. Fields other
// than WriteTimestampMicros are skipped (after checking they are valid JSON)
// so that AWS adding one does not stop a migration.
func (d *Decoder) metadata() (int64, bool, *pathError) {
	d.ws()
	if d.pos == len(d.data) || d.data[d.pos] != '{' {
		return 0, false, errorf("Metadata must be a JSON object, got %s", d.describe())
	}
	d.pos++
	var ts int64
	have := false
	for first := true; ; first = false {
		name, ok, perr := d.nextKey(first)
		if perr != nil {
			return 0, false, perr
		}
		if !ok {
			return ts, have, nil
		}
		if name != "WriteTimestampMicros" {
			if perr := d.skip(); perr != nil {
				return 0, false, perr.In(name)
			}
			continue
		}
		if have {
			return 0, false, errorf("duplicate field %q", name)
		}
		v, perr := d.value()
		if perr != nil {
			return 0, false, perr.In(name)
		}
		if v.Kind != ddbitem.N {
			return 0, false, errorf("must be a number (N), got %s", v.Kind).In(name)
		}
		ts, perr = micros(v.Str)
		if perr != nil {
			return 0, false, perr.In(name)
		}
		have = true
	}
}

// micros converts a WriteTimestampMicros number text to int64 (the one rule
// of ddbitem.ParseMicros).
func micros(s string) (int64, *pathError) {
	n, err := ddbitem.ParseMicros(s)
	if err != nil {
		return 0, errorf("%v", err)
	}
	return n, nil
}

// nextKey advances to the next member of an object whose '{' is consumed
// and returns its key with the ':' consumed; ok is false at the closing '}'.
func (d *Decoder) nextKey(first bool) (string, bool, *pathError) {
	d.ws()
	if d.pos == len(d.data) {
		return "", false, d.eof()
	}
	c := d.data[d.pos]
	if c == '}' {
		d.pos++
		return "", false, nil
	}
	if !first {
		if c != ',' {
			return "", false, d.syntax("expected ',' or '}' after object member")
		}
		d.pos++
		d.ws()
		if d.pos == len(d.data) {
			return "", false, d.eof()
		}
		c = d.data[d.pos]
	}
	if c != '"' {
		return "", false, d.syntax("expected a string object key")
	}
	k, perr := d.str()
	if perr != nil {
		return "", false, perr
	}
	d.ws()
	if d.pos == len(d.data) {
		return "", false, d.eof()
	}
	if d.data[d.pos] != ':' {
		return "", false, d.syntax("expected ':' after object key")
	}
	d.pos++
	return k, true, nil
}

// attrMap decodes {"name": value, ...} into a map sized exactly.
func (d *Decoder) attrMap() (map[string]ddbitem.Value, *pathError) {
	d.ws()
	if d.pos == len(d.data) {
		return nil, d.eof()
	}
	if d.data[d.pos] != '{' {
		return nil, errorf("attribute map must be a JSON object, got %s", d.describe())
	}
	d.pos++
	start := len(d.kvs)
	defer d.truncKVs(start)
	for first := true; ; first = false {
		name, ok, perr := d.nextKey(first)
		if perr != nil {
			return nil, perr
		}
		if !ok {
			break
		}
		v, perr := d.value()
		if perr != nil {
			return nil, perr.In(name)
		}
		d.kvs = append(d.kvs, kv{name, v})
	}
	entries := d.kvs[start:]
	m := d.newMap(len(entries))
	for i := range entries {
		m[entries[i].k] = entries[i].v
	}
	if len(m) != len(entries) {
		return nil, errorf("duplicate attribute %q", firstDuplicate(entries))
	}
	return m, nil
}

func (d *Decoder) truncKVs(start int) {
	clear(d.kvs[start:])
	d.kvs = d.kvs[:start]
}

func firstDuplicate(entries []kv) string {
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if seen[e.k] {
			return e.k
		}
		seen[e.k] = true
	}
	return ""
}

// value decodes one attribute value: an object with exactly one descriptor.
func (d *Decoder) value() (ddbitem.Value, *pathError) {
	d.ws()
	if d.pos == len(d.data) {
		return ddbitem.Value{}, d.eof()
	}
	if d.data[d.pos] != '{' {
		return ddbitem.Value{}, errorf("attribute value must be an object like {\"S\":...}, got %s", d.describe())
	}
	d.pos++
	desc, ok, perr := d.nextKey(true)
	if perr != nil {
		return ddbitem.Value{}, perr
	}
	if !ok {
		return ddbitem.Value{}, errorf("attribute value has no type descriptor")
	}
	var v ddbitem.Value
	switch desc {
	case "S":
		v.Kind = ddbitem.S
		v.Str, perr = d.strValue("S")
	case "N":
		v.Kind = ddbitem.N
		v.Str, perr = d.strValue("N")
		if perr == nil {
			perr = checkNumber(v.Str)
		}
	case "B":
		v.Kind = ddbitem.B
		var s string
		if s, perr = d.strValue("B"); perr == nil {
			v.Bin, perr = decodeBase64(s)
		}
	case "BOOL":
		v.Kind = ddbitem.BOOL
		v.Bool, perr = d.boolValue()
	case "NULL":
		v.Kind = ddbitem.NULL
		var b bool
		if b, perr = d.boolValue(); perr == nil && !b {
			perr = errorf("NULL must be true")
		}
	case "M":
		v.Kind = ddbitem.M
		if perr = d.push(); perr == nil {
			v.Map, perr = d.attrMap()
			d.depth--
		}
	case "L":
		v.Kind = ddbitem.L
		if perr = d.push(); perr == nil {
			v.List, perr = d.list()
			d.depth--
		}
	case "SS":
		v.Kind = ddbitem.SS
		v.Strs, perr = d.strSet("SS", nil)
	case "NS":
		v.Kind = ddbitem.NS
		v.Strs, perr = d.strSet("NS", checkNumber)
	case "BS":
		v.Kind = ddbitem.BS
		v.Bins, perr = d.binSet()
	default:
		return v, errorf("unknown type descriptor %q", desc)
	}
	if perr != nil {
		return v, perr
	}
	d.ws()
	if d.pos == len(d.data) {
		return v, d.eof()
	}
	switch d.data[d.pos] {
	case '}':
		d.pos++
		return v, nil
	case ',':
		// Report the second descriptor by name: "more than one" is the
		// error whether or not the second one is a known descriptor.
		d.pos++
		d.ws()
		other := "?"
		if d.pos < len(d.data) && d.data[d.pos] == '"' {
			if s, perr := d.str(); perr == nil {
				other = s
			}
		}
		return v, errorf("more than one type descriptor in one value (%s and %q)", v.Kind, other)
	}
	return v, d.syntax("expected '}' after the type descriptor's value")
}

func (d *Decoder) push() *pathError {
	if d.depth >= MaxDepth {
		return errorf("nesting deeper than %d levels", MaxDepth)
	}
	d.depth++
	return nil
}

func (d *Decoder) strValue(desc string) (string, *pathError) {
	d.ws()
	if d.pos == len(d.data) {
		return "", d.eof()
	}
	if d.data[d.pos] != '"' {
		return "", errorf("%s must hold a JSON string, got %s", desc, d.describe())
	}
	return d.str()
}

func (d *Decoder) boolValue() (bool, *pathError) {
	d.ws()
	rest := d.data[d.pos:]
	switch {
	case len(rest) >= 4 && string(rest[:4]) == "true":
		d.pos += 4
		return true, nil
	case len(rest) >= 5 && string(rest[:5]) == "false":
		d.pos += 5
		return false, nil
	}
	return false, errorf("expected true or false, got %s", d.describe())
}

func (d *Decoder) list() ([]ddbitem.Value, *pathError) {
	return arrayOf(d, &d.vals, member{desc: "L"}, listMember)
}

// member says what arrayOf decodes: desc is the type descriptor, strs
// whether members are strings, check validates a string member. A value,
// not a closure, so that decoding an array allocates nothing but its result.
type member struct {
	desc  string
	strs  bool
	check func(string) *pathError
}

func listMember(d *Decoder, _ member) (ddbitem.Value, *pathError) { return d.value() }

func strMember(d *Decoder, m member) (string, *pathError) {
	s, perr := d.strValue(m.desc + " member")
	if perr == nil && m.check != nil {
		perr = m.check(s)
	}
	return s, perr
}

func binMember(d *Decoder, m member) ([]byte, *pathError) {
	s, perr := d.strValue(m.desc + " member")
	if perr != nil {
		return nil, perr
	}
	return decodeBase64(s)
}

// arrayOf decodes a JSON array whose elements elem decodes. Elements are
// staged on stack, which nested arrays share (each takes its part from its
// own start and truncates back), so the result is allocated once at its
// exact size.
func arrayOf[T any](d *Decoder, stack *[]T, m member, elem func(*Decoder, member) (T, *pathError)) ([]T, *pathError) {
	d.ws()
	if d.pos == len(d.data) {
		return nil, d.eof()
	}
	if d.data[d.pos] != '[' {
		if m.strs {
			return nil, errorf("%s must hold a JSON array of strings, got %s", m.desc, d.describe())
		}
		return nil, errorf("%s must hold a JSON array, got %s", m.desc, d.describe())
	}
	d.pos++
	start := len(*stack)
	defer func() {
		clear((*stack)[start:])
		*stack = (*stack)[:start]
	}()
	for i := 0; ; i++ {
		more, perr := d.nextElem(i == 0)
		if perr != nil {
			return nil, perr
		}
		if !more {
			break
		}
		v, perr := elem(d, m)
		if perr != nil {
			return nil, perr.At(i)
		}
		*stack = append(*stack, v)
	}
	out := make([]T, len(*stack)-start)
	copy(out, (*stack)[start:])
	return out, nil
}

// nextElem advances to the next element of an array whose '[' is consumed;
// false at the closing ']'.
func (d *Decoder) nextElem(first bool) (bool, *pathError) {
	d.ws()
	if d.pos == len(d.data) {
		return false, d.eof()
	}
	c := d.data[d.pos]
	if c == ']' {
		d.pos++
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, d.syntax("expected ',' or ']' after array element")
		}
		d.pos++
	}
	return true, nil
}

// strSet decodes an SS or NS array; check validates each member.
func (d *Decoder) strSet(desc string, check func(string) *pathError) ([]string, *pathError) {
	return arrayOf(d, &d.strs, member{desc: desc, strs: true, check: check}, strMember)
}

func (d *Decoder) binSet() ([][]byte, *pathError) {
	return arrayOf(d, &d.bins, member{desc: "BS", strs: true}, binMember)
}

func checkNumber(s string) *pathError {
	if _, err := ddbitem.SplitNumber(s); err != nil { // checks without allocating
		return errorf("invalid number: %v", err)
	}
	return nil
}

// strictBase64 refuses non-zero padding bits, so one binary value has one
// text form; line breaks, which even the strict decoder skips, are refused
// separately.
var strictBase64 = base64.StdEncoding.Strict()

func decodeBase64(s string) ([]byte, *pathError) {
	if strings.ContainsAny(s, "\r\n") {
		return nil, errorf("invalid base64: line break in binary value")
	}
	out := make([]byte, strictBase64.DecodedLen(len(s)))
	n, err := strictBase64.Decode(out, []byte(s))
	if err != nil {
		return nil, errorf("invalid base64: %v", err)
	}
	return out[:n:n], nil
}

// end checks that only whitespace follows the document.
func (d *Decoder) end() *pathError {
	d.ws()
	if d.pos != len(d.data) {
		return errorf("unexpected %s after the end of the document at byte %d", d.describe(), d.pos)
	}
	return nil
}

func (d *Decoder) ws() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *Decoder) eof() *pathError {
	return errorf("invalid json: unexpected end of input")
}

func (d *Decoder) syntax(what string) *pathError {
	return errorf("invalid json: %s, got %s at byte %d", what, d.describe(), d.pos)
}

// describe names the JSON token at the current position, for messages.
func (d *Decoder) describe() string {
	if d.pos >= len(d.data) {
		return "end of input"
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		return "string"
	case c == '{':
		return "object"
	case c == '[':
		return "array"
	case c == 't' || c == 'f':
		return "boolean"
	case c == 'n':
		return "null"
	case c == '-' || (c >= '0' && c <= '9'):
		return "number"
	default:
		return fmt.Sprintf("character %q", rune(c))
	}
}

// strSafe marks bytes that can be copied through a JSON string as they are:
// printable ASCII other than '"' and '\\'.
var strSafe = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// str reads the JSON string at d.pos. Strings without escapes, the vast
// majority, are substrings of d.s and cost nothing.
func (d *Decoder) str() (string, *pathError) {
	data := d.data
	start := d.pos + 1
	i := start
	high := false
	for {
		for i < len(data) && strSafe[data[i]] {
			i++
		}
		if i == len(data) {
			return "", errorf("invalid json: unterminated string")
		}
		switch c := data[i]; {
		case c == '"':
			s := d.s[start:i]
			if high && !utf8.ValidString(s) {
				return "", errorf("invalid utf-8 in string %q", s)
			}
			d.pos = i + 1
			return s, nil
		case c == '\\':
			return d.strEscaped(start, i)
		case c < 0x20:
			return "", errorf("invalid json: control character %#02x in string at byte %d", c, i)
		default:
			high = true
			i++
		}
	}
}

// strEscaped finishes a string that has escapes, from its first backslash
// at i.
func (d *Decoder) strEscaped(start, i int) (string, *pathError) {
	data := d.data
	buf := append(d.buf[:0], data[start:i]...)
	for {
		if i >= len(data) {
			return "", errorf("invalid json: unterminated string")
		}
		c := data[i]
		switch {
		case c == '"':
			d.buf = buf
			if !utf8.Valid(buf) {
				return "", errorf("invalid utf-8 in string %q", buf)
			}
			d.pos = i + 1
			return string(buf), nil
		case c < 0x20:
			return "", errorf("invalid json: control character %#02x in string at byte %d", c, i)
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(data) {
			return "", errorf("invalid json: unterminated string")
		}
		e := data[i+1]
		i += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := hex4(data, i)
			if !ok {
				return "", errorf("invalid json: bad \\u escape at byte %d", i-2)
			}
			i += 4
			switch {
			case r >= 0xDC00 && r <= 0xDFFF:
				return "", errorf("invalid \\u escape: unpaired surrogate \\u%04x at byte %d", r, i-6)
			case r >= 0xD800 && r <= 0xDBFF:
				lo, ok := rune(0), false
				if i+1 < len(data) && data[i] == '\\' && data[i+1] == 'u' {
					lo, ok = hex4(data, i+2)
				}
				if !ok || lo < 0xDC00 || lo > 0xDFFF {
					return "", errorf("invalid \\u escape: unpaired surrogate \\u%04x at byte %d", r, i-6)
				}
				i += 6
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", errorf("invalid json: bad escape \\%c at byte %d", e, i-2)
		}
	}
}

func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// skip checks and passes over any JSON value (unknown Metadata fields).
func (d *Decoder) skip() *pathError {
	d.ws()
	if d.pos == len(d.data) {
		return d.eof()
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		_, perr := d.str()
		return perr
	case c == '{':
		if perr := d.push(); perr != nil {
			return perr
		}
		defer func() { d.depth-- }()
		d.pos++
		for first := true; ; first = false {
			name, ok, perr := d.nextKey(first)
			if perr != nil || !ok {
				return perr
			}
			if perr := d.skip(); perr != nil {
				return perr.In(name)
			}
		}
	case c == '[':
		if perr := d.push(); perr != nil {
			return perr
		}
		defer func() { d.depth-- }()
		d.pos++
		for i := 0; ; i++ {
			more, perr := d.nextElem(i == 0)
			if perr != nil || !more {
				return perr
			}
			if perr := d.skip(); perr != nil {
				return perr.At(i)
			}
		}
	case c == 't' || c == 'f':
		_, perr := d.boolValue()
		return perr
	case c == 'n':
		if len(d.data)-d.pos >= 4 && string(d.data[d.pos:d.pos+4]) == "null" {
			d.pos += 4
			return nil
		}
	case c == '-' || (c >= '0' && c <= '9'):
		return d.skipNumber()
	}
	return d.syntax("expected a JSON value")
}

// skipNumber passes over a JSON number, checking its grammar.
func (d *Decoder) skipNumber() *pathError {
	data, i := d.data, d.pos
	digits := func() int {
		n := 0
		for i < len(data) && data[i] >= '0' && data[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(data) && data[i] == '-' {
		i++
	}
	if i < len(data) && data[i] == '0' {
		i++
	} else if digits() == 0 {
		return d.syntax("invalid number")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if digits() == 0 {
			return d.syntax("invalid number")
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if digits() == 0 {
			return d.syntax("invalid number")
		}
	}
	d.pos = i
	return nil
}
