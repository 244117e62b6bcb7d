package mapping

// PKString renders a row's primary key values as a string that is equal for
// rows PostgreSQL would consider the same key; callers use it to dedupe
// rows in memory.
func (t *Table) PKString(r Row) string { return t.pkString(r) }
