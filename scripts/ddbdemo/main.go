// Command ddbdemo drives the demo's "live" DynamoDB table (DynamoDB Local in
// the demo's stack). It uses the standard aws-sdk-go-v2 configuration, so
// AWS_ENDPOINT_URL_DYNAMODB points it at DynamoDB Local.
//
//	ddbdemo seed --table Orders --orders N --seed S --edge-cases --bad-items K
//
// creates the table (key orderId S, on-demand, a NEW_AND_OLD_IMAGES stream)
// when missing and writes exactly the items internal/exportgen generates for
// the same configuration, so the table and the generated export hold the
// same data. It prints the table's stream ARN.
//
//	ddbdemo live --table Orders --orders N --seed S [--edge-cases --bad-items K]
//
// makes a burst of live changes (new orders, a shrunk and a grown item list,
// a status change, a customer rename, two deletes and one item the sample
// mapping rejects), prints each, and ends with a JSON summary of the keys it
// touched.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
)

func usage() {
	fmt.Fprint(os.Stderr, `usage:
  ddbdemo seed --table T --orders N --seed S [--edge-cases] [--bad-items K] [--concurrency 8]
  ddbdemo live --table T --orders N --seed S [--edge-cases] [--bad-items K]
`)
	os.Exit(2)
}

// common holds the flags both subcommands share: the table and the
// exportgen configuration.
type common struct {
	table string
	cfg   exportgen.Config
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.table, "table", "Orders", "DynamoDB `table`")
	fs.IntVar(&c.cfg.Orders, "orders", 3000, "orders of the generated export (as genexport --orders)")
	fs.Int64Var(&c.cfg.Seed, "seed", 1, "generator seed (as genexport --seed)")
	fs.BoolVar(&c.cfg.EdgeCases, "edge-cases", false, "include the edge-case orders (as genexport --edge-cases)")
	fs.IntVar(&c.cfg.BadItems, "bad-items", 0, "items the sample mapping must reject (as genexport --bad-items)")
}

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	var c common
	fs := flag.NewFlagSet("ddbdemo "+os.Args[1], flag.ExitOnError)
	c.register(fs)
	var err error
	switch os.Args[1] {
	case "seed":
		workers := fs.Int("concurrency", 8, "parallel BatchWriteItem calls")
		_ = fs.Parse(os.Args[2:])
		if err = check(fs, c); err == nil {
			err = withClient(ctx, func(cl *dynamodb.Client) error { return seed(ctx, cl, c, *workers) })
		}
	case "live":
		_ = fs.Parse(os.Args[2:])
		if err = check(fs, c); err == nil {
			err = withClient(ctx, func(cl *dynamodb.Client) error { return live(ctx, cl, c) })
		}
	default:
		usage()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "ddbdemo %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func check(fs *flag.FlagSet, c common) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.table == "" {
		return errors.New("--table is required")
	}
	return c.cfg.Validate()
}

func withClient(ctx context.Context, f func(*dynamodb.Client) error) error {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithDefaultRegion("us-east-1"))
	if err != nil {
		return fmt.Errorf("load aws config: %w", err)
	}
	return f(dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		// DynamoDB Local's x-amz-crc32 does not always match its body,
		// which only makes the SDK log a warning per response.
		if os.Getenv("AWS_ENDPOINT_URL_DYNAMODB") != "" {
			o.DisableValidateResponseChecksum = true
		}
	}))
}

// since formats an elapsed time for the progress lines.
func since(t time.Time) string { return time.Since(t).Round(10 * time.Millisecond).String() }
