package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/ddb2pg/ddb2pg/pkg/schema"
)

func newSchemaCmd() *cobra.Command {
	var mappingPath, dbURL string
	var apply bool
	cmd := &cobra.Command{
		Use:   "schema --mapping mapping.yaml [--apply] [--database-url URL]",
		Short: "Print the DDL the mapping implies; with --apply, create what is missing",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			m, err := loadMapping(mappingPath)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
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
	return cmd
}
