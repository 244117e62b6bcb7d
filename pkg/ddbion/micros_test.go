package ddbion

import (
	"fmt"
	"testing"

	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
)

// TestWriteTimestampMicrosAgrees: one incremental line's timestamp, spelled
// as each format can spell it, decodes to the same microseconds in both
// decoders, and both refuse the same bad values.
func TestWriteTimestampMicrosAgrees(t *testing.T) {
	for _, c := range []struct {
		json, ion string // the number as written in each format
		want      int64  // -1: both refuse it
	}{
		{`"1700000000000000"`, `1700000000000000`, 1700000000000000},
		{`"1.7E15"`, `1.7d15`, 1700000000000000},
		{`"1.7e15"`, `17d14`, 1700000000000000},
		{`"1700000000000000.0"`, `1700000000000000.0`, 1700000000000000},
		{`"1700000000000000.000"`, `1700000000000000.000`, 1700000000000000},
		{`"0"`, `0.`, 0},
		{`"1.5"`, `1.5`, -1},
		{`"-1"`, `-1`, -1},
		{`"1E19"`, `1d19`, -1}, // beyond int64
	} {
		t.Run(c.json, func(t *testing.T) {
			jl := fmt.Sprintf(`{"Metadata":{"WriteTimestampMicros":{"N":%s}},"Keys":{"pk":{"S":"a"}},"OldImage":{"pk":{"S":"a"}}}`, c.json)
			il := fmt.Sprintf(`$ion_1_0 {Metadata:{WriteTimestampMicros:%s},Keys:{pk:"a"},OldImage:{pk:"a"}}`, c.ion)
			jr, jerr := ddbjson.DecodeExportLine([]byte(jl))
			ir, ierr := DecodeExportLine([]byte(il))
			if c.want < 0 {
				if jerr == nil || ierr == nil {
					t.Fatalf("want both refused: json %v (%d), ion %v (%d)", jerr, jr.WriteTimeMicros, ierr, ir.WriteTimeMicros)
				}
				return
			}
			if jerr != nil || ierr != nil {
				t.Fatalf("json %v, ion %v", jerr, ierr)
			}
			if jr.WriteTimeMicros != c.want || ir.WriteTimeMicros != c.want {
				t.Fatalf("json %d, ion %d, want %d", jr.WriteTimeMicros, ir.WriteTimeMicros, c.want)
			}
		})
	}
}
