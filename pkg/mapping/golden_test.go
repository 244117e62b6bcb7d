package mapping

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// golden compares got with the file, or rewrites it with -update.
func golden(t *testing.T, file string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(file, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (go test ./pkg/mapping -run %s -update rewrites it)\n--- got\n%s\n--- want\n%s", file, t.Name(), got, want)
	}
}

// TestGoldenBadMappings checks every validation error, with its line and
// column, of each testdata/bad/*.yaml.
func TestGoldenBadMappings(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no bad mappings: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Parse(filepath.Base(f), data)
			if err == nil {
				t.Fatal("parsed without error")
			}
			var sb strings.Builder
			for _, e := range Errors(err) {
				if e.Line == 0 {
					t.Errorf("error without a line: %v", e)
				}
				sb.WriteString(e.Error())
				sb.WriteByte('\n')
			}
			if sb.String() != err.Error()+"\n" {
				t.Errorf("Errors(err) does not list every joined error")
			}
			golden(t, strings.TrimSuffix(f, ".yaml")+".golden", []byte(sb.String()))
		})
	}
}

// TestGoldenExamples runs the example mappings over sample items: DDL and
// every item's rows (or reject) as JSON.
func TestGoldenExamples(t *testing.T) {
	for _, ex := range []struct{ name, mapping string }{
		{"orders", "../../examples/orders/mapping.yaml"},
		{"single-table", "../../examples/single-table/mapping.yaml"},
	} {
		t.Run(ex.name, func(t *testing.T) {
			m, err := Load(ex.mapping)
			if err != nil {
				t.Fatal(err)
			}
			m.File = "mapping.yaml" // the DDL header names it; keep goldens path-independent
			golden(t, "testdata/"+ex.name+".ddl.sql", []byte(m.DDL()))

			data, err := os.ReadFile("testdata/" + ex.name + ".items.json")
			if err != nil {
				t.Fatal(err)
			}
			var raws []json.RawMessage
			if err := json.Unmarshal(data, &raws); err != nil {
				t.Fatal(err)
			}
			type tableRows struct {
				Table string              `json:"table"`
				Rows  []map[string]string `json:"rows"`
			}
			type result struct {
				Key    string      `json:"key"`
				Tables []tableRows `json:"tables,omitempty"`
				Reject *Reject     `json:"reject,omitempty"`
			}
			var out []result
			for _, raw := range raws {
				it := item(t, string(raw))
				k, err := m.KeyOf(it)
				if err != nil {
					t.Fatal(err)
				}
				r := result{Key: string(k)}
				rows, rej := m.Rows(it)
				r.Reject = rej
				for ti, tr := range rows {
					if len(tr) == 0 {
						continue
					}
					tb := tableRows{Table: m.Tables[ti].Name}
					for _, row := range tr {
						obj := map[string]string{}
						for ci, v := range row {
							obj[m.Tables[ti].Columns[ci].Name] = render(v)
						}
						tb.Rows = append(tb.Rows, obj)
					}
					r.Tables = append(r.Tables, tb)
				}
				out = append(out, r)
			}
			got, err := json.MarshalIndent(out, "", "  ")
			if err != nil {
				t.Fatal(err)
			}
			golden(t, "testdata/"+ex.name+".rows.json", append(got, '\n'))
		})
	}
}
