package load

import (
	"fmt"

	"github.com/ddb2pg/ddb2pg/pkg/ddbion"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
	"github.com/ddb2pg/ddb2pg/pkg/export"
)

// lineDecoder decodes one data line of an export. Implementations keep
// scratch space between lines, so each goroutine has its own.
type lineDecoder interface {
	DecodeExportLine(b []byte) (ddbjson.Record, error)
}

// decoderFor returns a constructor of decoders for the export's output
// format. Both formats decode to the same records, so everything after this
// point is format-blind.
func decoderFor(format string) (func() lineDecoder, error) {
	switch format {
	case export.FormatDynamoDBJSON, "":
		return func() lineDecoder { return new(ddbjson.Decoder) }, nil
	case export.FormatION:
		return func() lineDecoder { return new(ddbion.Decoder) }, nil
	}
	return nil, fmt.Errorf("export output format %q is not supported (DYNAMODB_JSON or ION)", format)
}
