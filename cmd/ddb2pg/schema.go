package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ddb2pg/ddb2pg/pkg/export"
	"github.com/ddb2pg/ddb2pg/pkg/schema"
)

func newSchemaCmd() *cobra.Command {
	var mappingPath, dbURL, exportURI string
	var apply bool
	cmd := &cobra.Command{
		Use:   "schema --mapping mapping.yaml [--export EXPORT] [--apply] [--database-url URL]",
		Short: "Print the DDL the mapping implies; with --apply, create what is missing",
		Long: `Prints the DDL the mapping implies; with --apply, creates the tables that are missing and
checks the existing ones. With --export, first checks the mapping against the export's first
items as backfill does (e.g. a from: path into a list outside for_each is refused, exit 2).`,
		Args: noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := loadMapping(mappingPath)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if exportURI != "" {
				log, err := logger()
				if err != nil {
					return err
				}
				ctx := cmd.Context()
				if err := checkS3Credentials(ctx, exportURI); err != nil {
					return err
				}
				exp, err := export.Open(ctx, exportURI)
				if err != nil {
					return err
				}
				n, err := checkMappingOnExport(ctx, m, exp, log)
				if err != nil {
					return err
				}
				if n > 0 {
					fmt.Fprintf(cmd.ErrOrStderr(), "the mapping fits the first %d items of export %s\n", n, exp.Location())
				}
			}
			if !apply {
				fmt.Fprint(out, m.DDL())
				return nil
			}
			url, err := databaseURL(dbURL)
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			pool, err := openPool(ctx, url, 2)
			if err != nil {
				return err
			}
			defer pool.Close()
			states, err := schema.Ensure(ctx, pool, m)
			if err != nil {
				return err
			}
			for _, s := range states {
				switch {
				case s.Created:
					fmt.Fprintf(out, "created table %s\n", s.Table.Name)
				default:
					fmt.Fprintf(out, "table %s exists and fits the mapping\n", s.Table.Name)
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&mappingPath, "mapping", "", "mapping file (YAML)")
	cmd.Flags().BoolVar(&apply, "apply", false, "create the tables that are missing (and check existing ones)")
	cmd.Flags().StringVar(&dbURL, "database-url", "", "PostgreSQL URL (default $DATABASE_URL)")
	cmd.Flags().StringVar(&exportURI, "export", "", "check the mapping against this export's first items (local folder or s3://...)")
	return cmd
}
