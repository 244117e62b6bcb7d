package export

import (
	"errors"
	"os"
	"testing"
)

func FuzzParseManifest(f *testing.F) {
	for _, p := range [][2]string{
		{"testdata/scylla/dynamodb-export/AWSDynamoDB/01715685260608-c488b4e1/manifest-summary.json", "testdata/scylla/dynamodb-export/AWSDynamoDB/01715685260608-c488b4e1/manifest-files.json"},
		{"testdata/awslabs/unicornactiviti-data-export/AWSDynamoDB/01716791487000-6ddcf8cf/manifest-summary.json", "testdata/awslabs/unicornactiviti-data-export/AWSDynamoDB/01716791487000-6ddcf8cf/manifest-files.json"},
		{"testdata/raido-ion-manifest-summary.pretty.json", "testdata/raido-ion-manifest-files.pretty.json"},
	} {
		s, err := os.ReadFile(p[0])
		if err != nil {
			f.Fatal(err)
		}
		m, err := os.ReadFile(p[1])
		if err != nil {
			f.Fatal(err)
		}
		f.Add(s, m)
	}
	f.Add([]byte(`{"version":"2023-08-01","exportArn":"a/export/x","exportFromTime":"2024-01-01T00:00:00Z","exportToTime":"2024-01-01T00:00:00Z","manifestFilesS3Key":"k","itemCount":0,"outputFormat":"ION"}`), []byte(""))
	f.Add([]byte(`{}`), []byte("{\"itemCount\":9223372036854775807,\"dataFileS3Key\":\"a\"}\n{\"itemCount\":1,\"dataFileS3Key\":\"b\"}"))
	f.Fuzz(func(t *testing.T, summary, files []byte) {
		s, fs, err := ParseManifest(summary, files)
		if err != nil {
			var me *ManifestError
			if !errors.As(err, &me) {
				t.Fatalf("error %T is not *ManifestError: %v", err, err)
			}
			return
		}
		var sum int64
		seen := map[string]bool{}
		for i, f := range fs {
			if f.Index != i || f.Key == "" || f.ItemCount < 0 || seen[f.Key] {
				t.Fatalf("bad file %d: %+v", i, f)
			}
			seen[f.Key] = true
			sum += f.ItemCount
		}
		if sum != s.ItemCount || s.ID() == "" || s.ManifestFilesS3Key == "" {
			t.Fatalf("accepted inconsistent manifest: %+v, %d files summing to %d", s, len(fs), sum)
		}
		if s.Incremental() && (s.ExportFromTime.IsZero() || s.ExportToTime.IsZero()) || !s.Incremental() && s.ExportTime.IsZero() {
			t.Fatalf("accepted summary without its times: %+v", s)
		}
	})
}
