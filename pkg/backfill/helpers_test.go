package backfill_test

import (
	"context"
	"encoding/json"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/internal/teststack"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

type exportgenItem = ddbitem.Item

func strValue(s string) ddbitem.Value { return ddbitem.Str(s) }

func seq[T any](s []T) iter.Seq[T] {
	return func(yield func(T) bool) {
		for _, v := range s {
			if !yield(v) {
				return
			}
		}
	}
}

func readFile(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeFile(t *testing.T, p string, b []byte) {
	t.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// uploadDir puts every file under dir into the test's bucket, keyed by its
// path relative to dir (dir stands for the bucket root).
func uploadDir(t *testing.T, env teststack.S3Env, dir string) {
	t.Helper()
	client := env.Client(t)
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(env.Bucket), Key: aws.String(filepath.ToSlash(rel)), Body: f})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

// bumpItemCount raises the manifest's itemCount of data file i and of the
// summary by one, and drops the manifests' checksum sidecars (which would
// otherwise give the edit away before any data file is read).
func bumpItemCount(t *testing.T, w *exportgen.Written, i int) {
	t.Helper()
	rewrite := func(name string, edit func(map[string]any) bool) {
		p := filepath.Join(w.Folder, name)
		var out []string
		for _, line := range strings.Split(strings.TrimSpace(string(readFile(t, p))), "\n") {
			var m map[string]any
			if err := json.Unmarshal([]byte(line), &m); err != nil {
				t.Fatal(err)
			}
			if edit(m) {
				m["itemCount"] = m["itemCount"].(float64) + 1
			}
			b, _ := json.Marshal(m)
			out = append(out, string(b))
		}
		writeFile(t, p, []byte(strings.Join(out, "\n")+"\n"))
		for _, ext := range []string{".md5", ".checksum"} {
			_ = os.Remove(strings.TrimSuffix(p, ".json") + ext)
		}
	}
	base := filepath.Base(w.Files[i])
	rewrite("manifest-files.json", func(m map[string]any) bool { return strings.HasSuffix(m["dataFileS3Key"].(string), base) })
	rewrite("manifest-summary.json", func(map[string]any) bool { return true })
}

// normalizeNumbers returns it with every number in the canonical form
// DynamoDB stores ("12.50" -> "12.5", "1E+2" -> "100").
func normalizeNumbers(t *testing.T, it ddbitem.Item) ddbitem.Item {
	t.Helper()
	var norm func(v ddbitem.Value) ddbitem.Value
	canon := func(s string) string {
		c, err := ddbitem.CanonicalNumber(s)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	norm = func(v ddbitem.Value) ddbitem.Value {
		switch v.Kind {
		case ddbitem.N:
			v.Str = canon(v.Str)
		case ddbitem.NS:
			strs := make([]string, len(v.Strs))
			for i, s := range v.Strs {
				strs[i] = canon(s)
			}
			v.Strs = strs
		case ddbitem.L:
			l := make([]ddbitem.Value, len(v.List))
			for i, e := range v.List {
				l[i] = norm(e)
			}
			v.List = l
		case ddbitem.M:
			m := make(map[string]ddbitem.Value, len(v.Map))
			for k, e := range v.Map {
				m[k] = norm(e)
			}
			v.Map = m
		}
		return v
	}
	out := make(ddbitem.Item, len(it))
	for k, v := range it {
		out[k] = norm(v)
	}
	return out
}
