package export

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Store is where an export's objects are read from.
//
// Keys are slash-separated: bucket-relative for S3 (exactly the keys the
// manifests contain when the export has not been moved), relative to the
// store's root directory for a local folder. Open returns a stream of the
// whole object, which the caller must close; a missing object is a
// *NotFoundError naming the key. Reads go through the returned stream only,
// so a Store never holds a whole object in memory. Implementations must be
// safe for concurrent use: the backfill reads several files at once.
type Store interface {
	Open(ctx context.Context, key string) (io.ReadCloser, error)
}

// LocalStore reads keys as files below Root. Keys cannot escape Root
// ("../x" or a symlink out is refused), since they come from manifests.
type LocalStore struct {
	Root string
}

// Open opens Root/key.
func (s LocalStore) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	name := filepath.FromSlash(key)
	f, err := os.OpenInRoot(s.Root, name)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, &NotFoundError{Key: key, URL: filepath.Join(s.Root, name)}
		}
		return nil, fmt.Errorf("opening %s: %w", filepath.Join(s.Root, name), err)
	}
	if st, err := f.Stat(); err == nil && st.IsDir() {
		f.Close()
		return nil, fmt.Errorf("opening %s: is a directory", filepath.Join(s.Root, name))
	}
	return f, nil
}

// S3GetObjectAPI is the part of *s3.Client that S3Store uses, so tests can
// put a fake behind it.
type S3GetObjectAPI interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, optFns ...func(*s3.Options)) (*s3.GetObjectOutput, error)
}

// S3Store reads keys from one S3 bucket.
type S3Store struct {
	Client S3GetObjectAPI
	Bucket string
}

// NewS3Store makes an S3Store with the default AWS configuration (the
// environment, shared config files, instance roles...). When a custom
// endpoint is configured (AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, as for
// MinIO or LocalStack) it uses path-style addressing, which such servers
// need, and a default region of us-east-1 if none is set.
func NewS3Store(ctx context.Context, bucket string) (*S3Store, error) {
	if bucket == "" {
		return nil, errors.New("s3 store: empty bucket name")
	}
	cfg, err := config.LoadDefaultConfig(ctx)
	if err != nil {
		return nil, fmt.Errorf("loading aws configuration: %w", err)
	}
	custom := os.Getenv("AWS_ENDPOINT_URL_S3") != "" || os.Getenv("AWS_ENDPOINT_URL") != "" || cfg.BaseEndpoint != nil
	if cfg.Region == "" {
		if !custom {
			return nil, errors.New("no aws region configured: set AWS_REGION to the bucket's region")
		}
		cfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(cfg, func(o *s3.Options) {
		if custom {
			o.UsePathStyle = true
		}
		// Export data files are multipart uploads without a whole-object
		// checksum; we check their md5 ourselves, so the SDK's notice that
		// it skipped validation is noise.
		o.DisableLogOutputChecksumValidationSkipped = true
	})
	return &S3Store{Client: client, Bucket: bucket}, nil
}

// Open gets s3://Bucket/key.
func (s *S3Store) Open(ctx context.Context, key string) (io.ReadCloser, error) {
	out, err := s.Client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key)})
	if err != nil {
		url := "s3://" + s.Bucket + "/" + key
		var nsk *types.NoSuchKey
		var api smithy.APIError
		if errors.As(err, &nsk) || (errors.As(err, &api) && (api.ErrorCode() == "NoSuchKey" || api.ErrorCode() == "NotFound")) {
			return nil, &NotFoundError{Key: key, URL: url}
		}
		return nil, fmt.Errorf("getting %s: %w", url, err)
	}
	return out.Body, nil
}
