package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ddb2pg/ddb2pg/internal/exportgen"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
)

func runInfer(args ...string) (stdout, stderr string, err error) {
	cmd := newInferCmd()
	var out, errb bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errb)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func TestInferCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	w, err := exportgen.WriteExport(filepath.Join(dir, "orders"), exportgen.Config{Orders: 120, Files: 3, Seed: 4, EdgeCases: true})
	if err != nil {
		t.Fatal(err)
	}
	out, report, err := runInfer("--export", w.Folder, "--sample", "60", "--table-name", "shop_orders")
	if err != nil {
		t.Fatalf("infer: %v\n%s", err, report)
	}
	m, err := mapping.Parse("stdout", []byte(out))
	if err != nil {
		t.Fatalf("stdout is not a valid mapping: %v\n%s", err, out)
	}
	if m.Source.Table != "Orders" || m.Table("shop_orders") == nil || strings.Join(m.Source.Key, ",") != "orderId" {
		t.Errorf("unexpected proposal:\n%s", out)
	}
	for _, want := range []string{"ATTRIBUTE", "orderId", "sample check: 60 of 60"} {
		if !strings.Contains(report, want) {
			t.Errorf("stderr report lacks %q:\n%s", want, report)
		}
	}

	// An ambiguous key is a usage error naming --key; --key resolves it.
	var items []ddbitem.Item
	for i := range 10 {
		items = append(items, ddbitem.Item{"userId": ddbitem.Str(fmt.Sprint("u", i)), "accountId": ddbitem.Str(fmt.Sprint("a", i))})
	}
	amb, err := exportgen.WriteExportFromItems(filepath.Join(dir, "amb"), exportgen.ExportOptions{Table: "Users"}, func(yield func(ddbitem.Item) bool) {
		for _, it := range items {
			if !yield(it) {
				return
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = runInfer("--export", amb.Folder)
	var ue usageError
	if !errors.As(err, &ue) || !strings.Contains(err.Error(), "--key") {
		t.Errorf("ambiguous key: want a usage error naming --key, got %v", err)
	}
	out, _, err = runInfer("--export", amb.Folder, "--key", "userId")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "key: [userId]") {
		t.Errorf("--key not used:\n%s", out)
	}

	if _, _, err := runInfer("--sample", "5"); !errors.As(err, &ue) {
		t.Errorf("missing --export: want a usage error, got %v", err)
	}
}
