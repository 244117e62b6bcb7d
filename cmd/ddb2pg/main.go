// Command ddb2pg moves a live DynamoDB table into normalized PostgreSQL
// tables: backfill from an S3 export, stream apply, verify. This package is
// wiring only: flags, logging, exit codes; the work is in pkg/.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes, documented in the README and docs/.
const (
	exitOK       = 0
	exitFailed   = 1
	exitUsage    = 2
	exitPartial  = 3 // backfill finished with rejected items; verify NO-GO
	exitShutdown = 130
)

// usageError marks an error as the user's invocation being wrong (exit 2).
type usageError struct{ error }

func (e usageError) Unwrap() error { return e.error }

// exitError carries a specific exit code with an optional message.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

type globalFlags struct {
	logLevel   string
	logFormat  string
	cpuProfile string
}

var globals globalFlags

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "ddb2pg",
		Short:         "Move a live DynamoDB table into normalized PostgreSQL tables",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
	}
	root.SetVersionTemplate("ddb2pg {{.Version}}\n")
	globals.logLevel = "info"
	root.PersistentFlags().Var(&levelValue{&globals.logLevel}, "log-level", "log level: debug, info, warn, error")
	choiceFlag(root.PersistentFlags(), &globals.logFormat, "log-format", "text", []string{"text", "json"}, "log format: text or json")
	root.PersistentFlags().StringVar(&globals.cpuProfile, "cpuprofile", "", "write a CPU profile to this file (for performance reports)")
	_ = root.PersistentFlags().MarkHidden("cpuprofile")
	root.PersistentPreRunE = func(*cobra.Command, []string) error { return startProfile() }
	root.PersistentPostRun = func(*cobra.Command, []string) { stopProfile() }
	root.SetFlagErrorFunc(flagError)
	root.AddCommand(newSchemaCmd(), newBackfillCmd(), newStreamCmd(), newVerifyCmd(), newExportCmd(), newInferCmd(), newVersionCmd(), newStatusCmd())
	return root
}

// logger builds the process logger from the global flags; logs go to stderr.
func logger() (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(globals.logLevel)); err != nil {
		return nil, usageError{fmt.Errorf("--log-level %q: %w", globals.logLevel, err)}
	}
	opts := &slog.HandlerOptions{Level: level}
	switch globals.logFormat {
	case "text":
		return slog.New(slog.NewTextHandler(os.Stderr, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(os.Stderr, opts)), nil
	}
	return nil, usageError{fmt.Errorf("--log-format %q: want text or json", globals.logFormat)}
}

var profileFile *os.File

func startProfile() error {
	if globals.cpuProfile == "" {
		return nil
	}
	f, err := os.Create(globals.cpuProfile)
	if err != nil {
		return usageError{fmt.Errorf("--cpuprofile: %w", err)}
	}
	profileFile = f
	return pprof.StartCPUProfile(f)
}

func stopProfile() {
	if profileFile != nil {
		pprof.StopCPUProfile()
		profileFile.Close()
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:]))
}

func run(ctx context.Context, args []string) int {
	root := newRootCmd()
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	stopProfile() // PersistentPostRun is skipped when the command fails
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(os.Stderr, "ddb2pg:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(os.Stderr, "ddb2pg:", err)
	var ue usageError
	if errors.As(err, &ue) || isCobraUsage(err) {
		return exitUsage
	}
	if ctx.Err() != nil {
		return exitShutdown
	}
	return exitFailed
}

// isCobraUsage recognises cobra's own argument errors (unknown command,
// wrong number of args), which it returns as plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "accepts ", "requires at least", "required flag"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}
