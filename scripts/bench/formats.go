package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jackc/pgx/v5"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
)

func init() { register(suite{name: "formats", run: benchFormats}) }

// benchFormats loads the same data exported as DYNAMODB_JSON and as ION and
// reports ION's throughput relative to JSON's, measured in the same run.
func benchFormats(ctx context.Context, o *options) ([]measure, error) {
	admin, err := pgx.Connect(ctx, o.databaseURL)
	if err != nil {
		return nil, err
	}
	defer admin.Close(ctx)
	orders := o.orders / 4
	files := max(o.files/4, 1)
	cfg := exportgen.Config{Orders: orders, Files: files, Seed: 1, EdgeCases: true, Prefix: "bench"}
	write := map[string]func(string, exportgen.Config) (*exportgen.Written, error){
		"json": exportgen.WriteExport, "ion": exportgen.WriteExportION,
	}
	rate := map[string]float64{}
	var ms []measure
	for _, f := range []string{"json", "ion"} {
		dir := filepath.Join(o.cache, "bench", fmt.Sprintf("%s-orders-%d-files-%d-seed-1", f, orders, files))
		marker := filepath.Join(dir, "complete")
		var folder string
		if _, err := os.Stat(marker); err == nil {
			m, _ := filepath.Glob(filepath.Join(dir, "bench", "AWSDynamoDB", "*", "manifest-summary.json"))
			if len(m) == 1 {
				folder = filepath.Dir(m[0])
			}
		}
		if folder == "" {
			_ = os.RemoveAll(dir)
			fmt.Fprintf(os.Stderr, "bench: generating a %s export of %d orders in %s\n", f, orders, dir)
			w, err := write[f](dir, cfg)
			if err != nil {
				return nil, err
			}
			if err := os.WriteFile(marker, nil, 0o644); err != nil {
				return nil, err
			}
			folder = w.Folder
		}
		db, err := freshDB(ctx, admin, o.databaseURL, "bench_format_"+f)
		if err != nil {
			return nil, err
		}
		wall, rss, err := runBackfill(o, db, folder)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		rate[f] = float64(orders) / wall.Seconds()
		ms = append(ms,
			measure{name: fmt.Sprintf("backfill %s export, %d orders", f, orders), value: rate[f], unit: "items/s"},
			measure{name: fmt.Sprintf("peak RSS, %s export", f), value: float64(rss) / 1024, unit: "MiB"})
	}
	ms = append(ms, measure{name: "ION items/s / JSON items/s", value: rate["ion"] / rate["json"], unit: "x"})
	return ms, nil
}
