package main

import (
	"archive/zip"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// `make lambda GOARCH=x` builds the package for x on a machine of another
// architecture: the bootstrap is an x binary, the zip helper runs on the host.
func TestMakeLambdaOtherArch(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles the function (slow with a cold build cache)")
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make")
	}
	arch, machine := "arm64", elf.EM_AARCH64
	if runtime.GOARCH == "arm64" {
		arch, machine = "amd64", elf.EM_X86_64
	}
	dist := t.TempDir()
	cmd := exec.Command("make", "--no-print-directory", "-C", "..", "lambda", "GOARCH="+arch, "DIST="+dist,
		"MAPPING=examples/orders/mapping.yaml")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("make lambda GOARCH=%s on %s: %v\n%s", arch, runtime.GOARCH, err, out)
	}
	zr, err := zip.OpenReader(filepath.Join(dist, "ddb2pg-lambda.zip"))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	files := map[string]*zip.File{}
	for _, f := range zr.File {
		files[f.Name] = f
	}
	if len(files) != 2 || files["bootstrap"] == nil || files["mapping.yaml"] == nil {
		t.Fatalf("zip holds %v, want bootstrap and mapping.yaml", files)
	}
	if files["bootstrap"].Mode()&0o111 == 0 {
		t.Errorf("bootstrap mode %v: not executable", files["bootstrap"].Mode())
	}
	rc, err := files["bootstrap"].Open()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	ef, err := elf.NewFile(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("bootstrap is not an ELF binary: %v", err)
	}
	if ef.Machine != machine || ef.OSABI != elf.ELFOSABI_NONE && ef.OSABI != elf.ELFOSABI_LINUX {
		t.Errorf("bootstrap is %v/%v, want %v (linux/%s)", ef.Machine, ef.OSABI, machine, arch)
	}
	want, err := os.ReadFile("../examples/orders/mapping.yaml")
	if err != nil {
		t.Fatal(err)
	}
	rc, err = files["mapping.yaml"].Open()
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, want) {
		t.Error("mapping.yaml in the zip differs from the MAPPING file")
	}
}
