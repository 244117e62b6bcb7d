package export

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Lister is a Store that can list its keys. Both built-in stores are; a
// Store without it only loses the "exports found below" hint.
type Lister interface {
	// List calls fn with every key below prefix (a folder key without a
	// trailing slash; "" is the store's root), in no particular order,
	// until fn returns false.
	List(ctx context.Context, prefix string, fn func(key string) bool) error
}

// maxListed bounds how many keys a search for exports reads, so pointing
// at the root of a huge bucket costs a bounded number of list calls.
const maxListed = 100_000

// NoExportError: no manifest-summary.json where the export was expected.
// Found names the export folders found below that place (newest first, by
// export id), which is what the caller most likely meant.
type NoExportError struct {
	Location string   // what was opened
	Found    []string // export folders below it, as Open takes them
	Err      error    // the *ManifestError of the missing summary
}

func (e *NoExportError) Error() string {
	if len(e.Found) == 0 {
		return fmt.Sprintf("%v (no AWSDynamoDB/<exportId> folder below %s either: the export folder is the one holding manifest-summary.json)", e.Err, e.Location)
	}
	shown := e.Found
	if len(shown) > 10 {
		shown = shown[:10]
	}
	more := ""
	if len(e.Found) > len(shown) {
		more = fmt.Sprintf(" (and %d more)", len(e.Found)-len(shown))
	}
	return fmt.Sprintf("no export at %s (no manifest-summary.json there); export folders found below it, newest first: %s%s: pass one of them",
		e.Location, strings.Join(shown, ", "), more)
}

func (e *NoExportError) Unwrap() error { return e.Err }

// findExports lists the export folders (…/AWSDynamoDB/<exportId>, holding
// a manifest-summary.json) below dir in store, newest first. When dir lies
// inside an AWSDynamoDB folder (an export's data/ folder, say), the search
// starts at that AWSDynamoDB folder.
func findExports(ctx context.Context, store Store, dir string) ([]string, error) {
	l, ok := store.(Lister)
	if !ok {
		return nil, nil
	}
	if slashed := "/" + dir + "/"; strings.Contains(slashed, "/AWSDynamoDB/") {
		i := strings.Index(slashed, "/AWSDynamoDB/")
		dir = strings.Trim(slashed[:i]+"/AWSDynamoDB", "/")
	}
	var found []string
	n := 0
	err := l.List(ctx, dir, func(key string) bool {
		n++
		parts := strings.Split(key, "/")
		if k := len(parts); k >= 3 && parts[k-1] == summaryName && parts[k-3] == "AWSDynamoDB" {
			found = append(found, strings.Join(parts[:k-1], "/"))
		}
		return n < maxListed
	})
	// Export ids start with the export's time in milliseconds.
	sort.Slice(found, func(i, j int) bool { return filepath.Base(found[i]) > filepath.Base(found[j]) })
	return found, err
}

// noExport builds the error for a missing summary at dir, with the exports
// found below it; display turns a folder key into what Open takes.
func noExport(ctx context.Context, store Store, dir, location string, missing error, display func(string) string) error {
	if !errors.Is(missing, fs.ErrNotExist) {
		return missing
	}
	found, err := findExports(ctx, store, dir)
	if err != nil {
		return fmt.Errorf("%w (looking for exports below it: %v)", missing, err)
	}
	for i, f := range found {
		found[i] = display(f)
	}
	return &NoExportError{Location: location, Found: found, Err: missing}
}

// List walks the files below Root/prefix; symbolic links are not followed.
func (s LocalStore) List(ctx context.Context, prefix string, fn func(key string) bool) error {
	base := filepath.Join(s.Root, filepath.FromSlash(prefix))
	errStop := errors.New("stop")
	err := filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) {
				return nil
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if d.IsDir() || d.Type()&os.ModeSymlink != 0 {
			return nil
		}
		rel, err := filepath.Rel(s.Root, p)
		if err != nil {
			return err
		}
		if !fn(filepath.ToSlash(rel)) {
			return errStop
		}
		return nil
	})
	if errors.Is(err, errStop) {
		return nil
	}
	return err
}

// List pages through ListObjectsV2 below prefix, when the client can list.
func (s *S3Store) List(ctx context.Context, prefix string, fn func(key string) bool) error {
	c, ok := s.Client.(s3.ListObjectsV2APIClient)
	if !ok {
		return nil
	}
	if prefix != "" {
		prefix += "/"
	}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(s.Bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing s3://%s/%s: %w", s.Bucket, prefix, err)
		}
		for _, o := range page.Contents {
			if !fn(aws.ToString(o.Key)) {
				return nil
			}
		}
	}
	return nil
}
