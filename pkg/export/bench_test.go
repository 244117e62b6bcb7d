package export

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
)

// BenchmarkReadFile streams a 20,000-line data file of ~1.3 KB orders
// through md5, gzip and line splitting; SetBytes counts uncompressed bytes.
// The lines differ only in their ids, so the file compresses far better
// than a real one: Read measures this package's overhead, not gzip's.
// The Decode variant adds ddbjson decoding: the backfill's reading side.
func BenchmarkReadFile(b *testing.B) {
	line, err := os.ReadFile("../ddbjson/testdata/order-item.json")
	if err != nil {
		b.Fatal(err)
	}
	l := strings.TrimSpace(string(line))
	lines := make([]string, 20000)
	for i := range lines {
		lines[i] = strings.ReplaceAll(l, "000123457", fmt.Sprintf("%09d", i*7919))
	}
	dir := writeTestExport(b, []testFile{{name: "bench.json.gz", lines: lines}}, nil)
	e, err := Open(context.Background(), dir)
	if err != nil {
		b.Fatal(err)
	}
	f := e.Files()[0]
	size := int64(len(lines) * (len(l) + 1)) // ids keep their width
	for _, decode := range []bool{false, true} {
		name := "Read"
		if decode {
			name = "ReadDecode"
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(size)
			b.ReportAllocs()
			var dec ddbjson.Decoder
			for b.Loop() {
				err := e.ReadFile(context.Background(), f, func(_ int64, data []byte) error {
					if decode {
						_, err := dec.DecodeExportLine(data)
						return err
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
