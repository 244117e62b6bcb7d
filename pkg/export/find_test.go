package export

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddb2pg/ddb2pg/internal/teststack"
)

// TestNoExportListsExportsBelow: pointed at the bucket root, an export's
// data/ folder or any folder without manifest-summary.json, Open lists the
// export folders found below it, newest first, locally and on S3.
func TestNoExportListsExportsBelow(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	copyTree(t, "testdata/scylla", root)
	copyTree(t, "testdata/awslabs/unicornactiviti-data-export", root)
	older := filepath.Join(root, "dynamodb-export", "AWSDynamoDB", "01715685260608-c488b4e1")
	newer := filepath.Join(root, "AWSDynamoDB", "01716791487000-6ddcf8cf")
	ctx := context.Background()

	check := func(t *testing.T, err error, want ...string) {
		t.Helper()
		var ne *NoExportError
		if !errors.As(err, &ne) {
			t.Fatalf("want *NoExportError, got %T %v", err, err)
		}
		if strings.Join(ne.Found, "|") != strings.Join(want, "|") {
			t.Fatalf("found %q, want %q", ne.Found, want)
		}
		var me *ManifestError
		if !errors.As(err, &me) || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the missing summary is no longer in the chain: %v", err)
		}
		if len(want) > 0 && !strings.Contains(err.Error(), want[0]) {
			t.Errorf("message does not name %s: %v", want[0], err)
		}
	}
	_, err := Open(ctx, root)
	check(t, err, newer, older)
	_, err = Open(ctx, filepath.Join(older, "data"))
	check(t, err, older)
	_, err = Open(ctx, filepath.Join(root, "dynamodb-export"))
	check(t, err, older)
	empty := t.TempDir()
	_, err = Open(ctx, empty)
	check(t, err)
	if !strings.Contains(err.Error(), "no AWSDynamoDB/<exportId> folder below") {
		t.Errorf("empty folder: %v", err)
	}
}

func TestS3NoExportListsExportsBelow(t *testing.T) {
	env := teststack.S3(t)
	client := env.Client(t)
	uploadTree(t, client, env.Bucket, "testdata/scylla")
	uploadTree(t, client, env.Bucket, "testdata/awslabs/unicornactiviti-data-export")
	env.Setenv(t)
	ctx := context.Background()
	b := "s3://" + env.Bucket + "/"
	for uri, want := range map[string]string{
		b:                              b + "AWSDynamoDB/01716791487000-6ddcf8cf|" + b + "dynamodb-export/AWSDynamoDB/01715685260608-c488b4e1",
		b + "AWSDynamoDB/data/":        b + "AWSDynamoDB/01716791487000-6ddcf8cf",
		b + "dynamodb-export":          b + "dynamodb-export/AWSDynamoDB/01715685260608-c488b4e1",
		b + "elsewhere/AWSDynamoDB/x/": "",
	} {
		_, err := Open(ctx, uri)
		var ne *NoExportError
		if !errors.As(err, &ne) {
			t.Fatalf("%s: want *NoExportError, got %v", uri, err)
		}
		if got := strings.Join(ne.Found, "|"); got != want {
			t.Errorf("%s: found %q, want %q", uri, got, want)
		}
	}
}
