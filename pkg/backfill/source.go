package backfill

import "fmt"

// SourceTableError refuses an export of another table than the mapping's
// source table, before anything is written: loading it would put another
// table's items into the mapped tables (or reject them all) and record the
// export under the wrong table.
type SourceTableError struct {
	ExportID     string
	ExportTable  string // the table the manifest names
	MappingTable string // the mapping's source.table
	RenamedFrom  string // what the caller accepted instead, if anything
}

func (e *SourceTableError) Error() string {
	if e.RenamedFrom != "" {
		return fmt.Sprintf("export %s is of table %q, not %q (the mapping's source table) nor %q (accepted as its former name): check the export path",
			e.ExportID, e.ExportTable, e.MappingTable, e.RenamedFrom)
	}
	return fmt.Sprintf("export %s is of table %q but the mapping's source table is %q: check the export path and source.table; if the table was renamed, accept its former name %q explicitly",
		e.ExportID, e.ExportTable, e.MappingTable, e.ExportTable)
}

// checkSourceTable compares the table the export's manifest names (its
// tableArn) with the mapping's source table. A manifest that names no table
// is accepted.
func checkSourceTable(cfg Config) error {
	s := cfg.Export.Summary()
	got, want := s.TableName(), cfg.Mapping.Source.Table
	if got == "" || got == want || (cfg.RenamedFrom != "" && got == cfg.RenamedFrom) {
		return nil
	}
	return &SourceTableError{ExportID: s.ID(), ExportTable: got, MappingTable: want, RenamedFrom: cfg.RenamedFrom}
}

// exportTable is what the bookkeeping records as the export's own table:
// its manifest's, when it differs from the mapping's source table.
func exportTable(cfg Config) string {
	if got := cfg.Export.Summary().TableName(); got != cfg.Mapping.Source.Table {
		return got
	}
	return ""
}
