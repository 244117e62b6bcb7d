package ddbjson

import (
	"encoding/json"
	"os"
	"testing"
)

func loadOrder(b *testing.B) []byte {
	line, err := os.ReadFile("testdata/order-item.json")
	if err != nil {
		b.Fatal(err)
	}
	return line
}

// BenchmarkDecodeExportLine decodes a realistic order (~1.3 KB, nested
// customer and shipping maps, a 3-element items list of maps, sets, a binary).
func BenchmarkDecodeExportLine(b *testing.B) {
	line := loadOrder(b)
	if _, err := DecodeExportLine(line); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeExportLine(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeExportLineParallel is what the backfill's workers see.
func BenchmarkDecodeExportLineParallel(b *testing.B) {
	line := loadOrder(b)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := DecodeExportLine(line); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkEncodingJSONBaseline is a yardstick only: encoding/json into
// map[string]any, the approach this package avoids, doing less work (no
// typed values, no number or base64 checks).
func BenchmarkEncodingJSONBaseline(b *testing.B) {
	line := loadOrder(b)
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		var v map[string]any
		if err := json.Unmarshal(line, &v); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeExportLineRecycled is the backfill's way: one Decoder per
// goroutine, each item's maps handed back once mapped.
func BenchmarkDecodeExportLineRecycled(b *testing.B) {
	line := loadOrder(b)
	var d Decoder
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.DecodeExportLine(line); err != nil {
			b.Fatal(err)
		}
		d.RecycleLast()
	}
}
