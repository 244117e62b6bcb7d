// Command upload copies a local folder to S3, keys relative to the folder
// and joined to --prefix, creating the bucket when it is missing. It is how
// the demo and the tests put a generated export into MinIO:
//
//	go run ./scripts/upload --bucket demo-exports --prefix exports/orders DIR
//
// It uses the standard aws-sdk-go-v2 configuration (region, credentials
// chain). With AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL set it addresses
// buckets path-style, which MinIO and most S3-compatible stores need.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

func main() {
	bucket := flag.String("bucket", "", "destination `bucket` (created when missing; required)")
	prefix := flag.String("prefix", "", "key `prefix` the folder's relative paths are joined to")
	workers := flag.Int("concurrency", 8, "parallel uploads")
	flag.Usage = func() {
		fmt.Fprintf(flag.CommandLine.Output(), "usage: upload --bucket B [--prefix P] DIR\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *bucket == "" || flag.NArg() != 1 || *workers < 1 {
		flag.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	n, size, err := run(ctx, *bucket, strings.Trim(*prefix, "/"), flag.Arg(0), *workers)
	if err != nil {
		fmt.Fprintf(os.Stderr, "upload: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("uploaded %d files (%d bytes) to s3://%s/%s\n", n, size, *bucket, *prefix)
}

func newClient(ctx context.Context) (*s3.Client, string, error) {
	cfg, err := config.LoadDefaultConfig(ctx, config.WithDefaultRegion("us-east-1"))
	if err != nil {
		return nil, "", fmt.Errorf("load aws config: %w", err)
	}
	endpoint := os.Getenv("AWS_ENDPOINT_URL_S3")
	if endpoint == "" {
		endpoint = os.Getenv("AWS_ENDPOINT_URL")
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
			// Checksums only where S3 requires them: S3-compatible stores
			// do not all accept the SDK's default trailing checksums.
			o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		}
	}), cfg.Region, nil
}

func ensureBucket(ctx context.Context, c *s3.Client, bucket, region string) error {
	if _, err := c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &bucket}); err == nil {
		return nil
	}
	in := &s3.CreateBucketInput{Bucket: &bucket}
	if region != "us-east-1" { // us-east-1 rejects an explicit constraint
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)}
	}
	_, err := c.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	if err != nil && !errors.As(err, &owned) {
		return fmt.Errorf("create bucket %s: %w", bucket, err)
	}
	return nil
}

func run(ctx context.Context, bucket, prefix, dir string, workers int) (int, int64, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("list %s: %w", dir, err)
	}
	c, region, err := newClient(ctx)
	if err != nil {
		return 0, 0, err
	}
	if err := ensureBucket(ctx, c, bucket, region); err != nil {
		return 0, 0, err
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		wg    sync.WaitGroup
		total atomic.Int64
		jobs  = make(chan string)
	)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range jobs {
				n, err := put(ctx, c, bucket, prefix, dir, p)
				if err != nil {
					cancel(err)
					continue
				}
				total.Add(n)
			}
		}()
	}
	for _, p := range files {
		if ctx.Err() != nil {
			break
		}
		jobs <- p
	}
	close(jobs)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return 0, 0, err
	}
	return len(files), total.Load(), nil
}

func put(ctx context.Context, c *s3.Client, bucket, prefix, dir, p string) (int64, error) {
	rel, err := filepath.Rel(dir, p)
	if err != nil {
		return 0, err
	}
	key := path.Join(prefix, filepath.ToSlash(rel))
	f, err := os.Open(p)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	ct := "application/octet-stream"
	switch {
	case strings.HasSuffix(key, ".gz"):
		ct = "application/gzip"
	case strings.HasSuffix(key, ".json"):
		ct = "application/json"
	}
	_, err = c.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &bucket, Key: &key, Body: f, ContentLength: aws.Int64(fi.Size()), ContentType: &ct,
	})
	if err != nil {
		return 0, fmt.Errorf("put s3://%s/%s: %w", bucket, key, err)
	}
	return fi.Size(), nil
}
