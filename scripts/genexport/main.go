// Command genexport writes a generated DynamoDB full export of the order
// model (see internal/exportgen) to a local folder that stands for the
// bucket root, and prints the export folder (the path backfill --export
// takes). Upload the folder with scripts/upload to serve it from S3.
//
//	go run ./scripts/genexport --out /tmp/exp --orders 3000 --files 4 --edge-cases --bad-items 5
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
)

func main() {
	var (
		cfg        exportgen.Config
		out        = flag.String("out", "", "output `dir`: the bucket root; the export lands in DIR/PREFIX/AWSDynamoDB/<exportId> (required)")
		exportTime = flag.String("export-time", "", "export time, RFC 3339 or \"now\" (default "+exportgen.DefaultExportTime.Format(time.RFC3339)+")")
		asJSON     = flag.Bool("json", false, "print a JSON summary (folder, export id, S3 URL, expected rows) instead of the folder path")
	)
	flag.IntVar(&cfg.Orders, "orders", 3000, "number of items (orders), bad items included")
	flag.IntVar(&cfg.Files, "files", 4, "number of data files")
	flag.IntVar(&cfg.Customers, "customers", 0, "customer pool size (default orders*2/5)")
	flag.IntVar(&cfg.Products, "products", 0, "product catalogue size (default orders/10, at most 20000)")
	flag.Int64Var(&cfg.Seed, "seed", 1, "random seed: the same flags give the same bytes")
	flag.StringVar(&cfg.Prefix, "prefix", "exports/orders", "S3 prefix recorded in the export (\"\" for none)")
	flag.StringVar(&cfg.Bucket, "bucket", exportgen.DefaultBucket, "S3 bucket recorded in the export")
	flag.BoolVar(&cfg.EdgeCases, "edge-cases", false, "include the edge-case orders (ORD-000001..) and rarer shapes")
	flag.IntVar(&cfg.BadItems, "bad-items", 0, "number of items the sample mapping must reject")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: genexport --out DIR [flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *out == "" || flag.NArg() > 0 {
		flag.Usage()
		os.Exit(2)
	}
	switch *exportTime {
	case "":
	case "now":
		cfg.ExportTime = time.Now().UTC().Truncate(time.Millisecond)
	default:
		t, err := time.Parse(time.RFC3339Nano, *exportTime)
		if err != nil {
			fmt.Fprintf(os.Stderr, "genexport: --export-time: %v\n", err)
			os.Exit(2)
		}
		cfg.ExportTime = t
	}
	if err := cfg.Validate(); err != nil {
		fmt.Fprintf(os.Stderr, "genexport: %v\n", err)
		os.Exit(2)
	}
	w, err := exportgen.WriteExport(*out, cfg)
	if err != nil {
		fmt.Fprintf(os.Stderr, "genexport: %v\n", err)
		os.Exit(1)
	}
	if !*asJSON {
		fmt.Println(w.Folder)
		return
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	err = enc.Encode(map[string]any{
		"folder":   w.Folder,
		"exportId": w.ExportID,
		"s3Url":    w.S3URL(),
		"bucket":   w.Bucket,
		"prefix":   w.Prefix,
		"items":    w.Items,
		"files":    w.Files,
		"expected": map[string]int64{
			"orders":      w.Stats.Orders,
			"order_items": w.Stats.OrderItems,
			"customers":   w.Stats.Customers,
			"products":    w.Stats.Products,
			"rejected":    w.Stats.Rejected,
		},
		"badOrders": exportgen.BadOrders(cfg),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "genexport: %v\n", err)
		os.Exit(1)
	}
}
