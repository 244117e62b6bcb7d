// Package decode picks the line decoder for an export's outputFormat. Both
// formats decode to the same ddbjson.Record, so whatever reads exports
// (backfill, infer) is format-blind past this point.
package decode

import (
	"fmt"

	"github.com/ddb2pg/ddb2pg/pkg/ddbion"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
	"github.com/ddb2pg/ddb2pg/pkg/export"
)

// LineDecoder decodes one data line of an export. Implementations keep
// scratch space between lines and are not safe for concurrent use: each
// goroutine gets its own from the constructor For returns.
type LineDecoder interface {
	DecodeExportLine(b []byte) (ddbjson.Record, error)
}

// Recycler is a LineDecoder that can reuse the maps of the item it decoded
// last once its caller is done with it (ddbjson.Decoder does). After
// RecycleLast, that item and the maps inside it must not be used; its
// strings, binaries and slices stay valid.
type Recycler interface {
	RecycleLast()
}

// For returns a constructor of decoders for the export output format
// ("" is DYNAMODB_JSON, which exports without the field use).
func For(format string) (func() LineDecoder, error) {
	switch format {
	case export.FormatDynamoDBJSON, "":
		return func() LineDecoder { return new(ddbjson.Decoder) }, nil
	case export.FormatION:
		return func() LineDecoder { return new(ddbion.Decoder) }, nil
	}
	return nil, fmt.Errorf("export output format %q is not supported (DYNAMODB_JSON or ION)", format)
}
