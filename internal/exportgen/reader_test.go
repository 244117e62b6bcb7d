package exportgen

import (
	"context"
	"iter"
	"testing"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
	"github.com/ddb2pg/ddb2pg/pkg/export"
)

// The generated export must pass the project's own reader (manifests,
// sidecars, md5, item counts) and decode back to the very items generated.
func TestRoundTripThroughExportReader(t *testing.T) {
	ctx := context.Background()
	cfg := Config{Orders: 500, Files: 5, Seed: 11, Prefix: "exports/orders", EdgeCases: true, BadItems: 9}
	w, err := WriteExport(t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	ex, err := export.Open(ctx, w.Folder)
	if err != nil {
		t.Fatalf("export.Open: %v", err)
	}
	if ex.ID() != w.ExportID || ex.Summary().ItemCount != w.Items || len(ex.Files()) != cfg.Files {
		t.Fatalf("reader sees id %s, %d items, %d files", ex.ID(), ex.Summary().ItemCount, len(ex.Files()))
	}
	next, stop := iter.Pull(Orders(cfg))
	defer stop()
	n := 0
	for _, f := range ex.Files() {
		err := ex.ReadFile(ctx, f, func(line int64, data []byte) error {
			rec, err := ddbjson.DecodeExportLine(data)
			if err != nil {
				t.Fatalf("%s line %d: %v", f.Key, line, err)
			}
			want, ok := next()
			if !ok {
				t.Fatalf("more lines than orders")
			}
			if !ddbitem.Equal(ddbitem.MapOf(rec.Item), ddbitem.MapOf(want)) {
				t.Fatalf("%s line %d decodes to another item:\n%.300s\n%.300s", f.Key, line, rec.Item, want)
			}
			n++
			return nil
		})
		if err != nil {
			t.Fatalf("ReadFile %s: %v", f.Key, err)
		}
	}
	if n != cfg.Orders {
		t.Errorf("read %d items, want %d", n, cfg.Orders)
	}
}
