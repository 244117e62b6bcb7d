package ddbion

import (
	"os"
	"testing"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
)

// orderLine is ddbjson's benchmark item (testdata/order-item.json, a
// realistic ~1.3 KB order) as an ION export line, so the two benchmarks
// decode the same item.
func orderLine(b *testing.B) []byte {
	j, err := os.ReadFile("../ddbjson/testdata/order-item.json")
	if err != nil {
		b.Fatal(err)
	}
	rec, err := ddbjson.DecodeExportLine(j)
	if err != nil {
		b.Fatal(err)
	}
	line, err := exportgen.EncodeRecordION(rec)
	if err != nil {
		b.Fatal(err)
	}
	return line
}

// BenchmarkDecodeIONLine is ddbjson's BenchmarkDecodeExportLine for the ION
// form of the same order.
func BenchmarkDecodeIONLine(b *testing.B) {
	line := orderLine(b)
	var d Decoder
	if _, err := d.DecodeExportLine(line); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.DecodeExportLine(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeIONLineParallel is what the backfill's workers see.
func BenchmarkDecodeIONLineParallel(b *testing.B) {
	line := orderLine(b)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		var d Decoder
		for pb.Next() {
			if _, err := d.DecodeExportLine(line); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
