package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ddb2pg/ddb2pg/pkg/export"
	"github.com/ddb2pg/ddb2pg/pkg/infer"
)

func newInferCmd() *cobra.Command {
	var (
		exportURI, tableName string
		sample               int
		key                  []string
	)
	cmd := &cobra.Command{
		Use:   "infer --export EXPORT [--sample N] [--table-name NAME] [--key a[,b]] > mapping.yaml",
		Short: "Propose a mapping from a sample of an export's items",
		Long: `Reads a sample of items spread over all data files of a DynamoDB export and writes a
proposed mapping (YAML, with comments) to stdout: the key found in the data, one table with typed
columns for common scalar attributes, child tables for lists of maps, jsonb for maps and rare
attributes, one table per entity prefix for single-table designs. A report of every attribute
(types, frequency, examples, conflicts) goes to stderr. Review the proposal before loading.

When the key cannot be told from the data, pass --key (partition key[,sort key]).
Exit codes: 0 proposed; 1 failed; 2 usage error (including an ambiguous key).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if exportURI == "" {
				return usageError{errors.New("--export is required")}
			}
			if len(key) > 2 {
				return usageError{fmt.Errorf("--key %s: one or two attributes (partition key[,sort key])", strings.Join(key, ","))}
			}
			ctx := cmd.Context()
			if err := checkS3Credentials(ctx, exportURI); err != nil {
				return err
			}
			exp, err := export.Open(ctx, exportURI)
			if err != nil {
				return err
			}
			items, err := infer.SampleExport(ctx, exp, sample)
			if err != nil {
				return err
			}
			if len(items) == 0 {
				return fmt.Errorf("export %s holds no items to infer a mapping from", exp.Location())
			}
			res, err := infer.Infer(items, infer.Options{
				SourceTable: tableFromARN(exp.Summary().TableARN),
				TableName:   tableName,
				Key:         key,
				Origin:      fmt.Sprintf("%d data files of export %s", len(exp.Files()), exp.ID()),
			})
			var ke *infer.KeyError
			if errors.As(err, &ke) {
				return usageError{err}
			}
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.ErrOrStderr(), res.Report)
			_, err = cmd.OutOrStdout().Write(res.YAML)
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&exportURI, "export", "", "the export: a local folder or s3://bucket/prefix/AWSDynamoDB/<exportId>")
	intFlag(f, &sample, "sample", infer.DefaultSample, 1, noMax, "number of items to read, spread over all data files")
	f.StringVar(&tableName, "table-name", "", "name of the root PostgreSQL table (single-table designs: prefix of every table)")
	f.StringSliceVar(&key, "key", nil, "the DynamoDB key: partition key attribute[,sort key attribute]")
	return cmd
}

// tableFromARN returns the table name of arn:aws:dynamodb:...:table/NAME.
func tableFromARN(arn string) string {
	if i := strings.LastIndex(arn, ":table/"); i >= 0 {
		name := arn[i+len(":table/"):]
		if j := strings.IndexByte(name, '/'); j >= 0 {
			name = name[:j]
		}
		return name
	}
	return ""
}
