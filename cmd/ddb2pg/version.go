package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at release time with -ldflags "-X main.version=...".
var version = "dev"

// versionString is the release version, or for a build from source the
// module version and the commit it was built from (with "+dirty" when the
// work tree had changes), from the binary's build info.
func versionString() string {
	info, ok := debug.ReadBuildInfo()
	if version != "dev" || !ok {
		return version
	}
	v := version
	if mv := info.Main.Version; mv != "" && mv != "(devel)" {
		v = mv
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev != "" {
		v += " (commit " + rev + modified + ")"
	}
	return v + " " + info.GoVersion
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version (also ddb2pg --version, -v)",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), "ddb2pg", versionString())
			return nil
		},
	}
}

// noArgs refuses positional arguments: every input is a flag. A mapping
// file given as an argument gets the flag to use.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	a := args[0]
	if f := cmd.Flags().Lookup("mapping"); f != nil && (hasSuffix(a, ".yaml") || hasSuffix(a, ".yml")) {
		return usageError{fmt.Errorf("%s takes no arguments, got %q: pass the mapping as --mapping %s", cmd.Name(), a, a)}
	}
	return usageError{fmt.Errorf("%s takes no arguments, got %q: every input is a flag (see ddb2pg %s --help)", cmd.Name(), a, cmd.Name())}
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}
