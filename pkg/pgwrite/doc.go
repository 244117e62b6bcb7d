// Package pgwrite is the one writer of mapped tables: every row that the
// backfill, an incremental export or the stream applier puts into (or takes
// out of) the user's tables goes through it, so all paths write rows the same
// way. It builds each table's statements from a validated mapping (identifiers
// quoted, values only as parameters or COPY data), reads the order to write
// the tables in from the user's foreign keys (children deleted first, parents
// written first), and encodes COPY text for first loads.
//
// The caller owns the transaction: nothing here begins, commits or rolls
// back; an error leaves the transaction for the caller to roll back.
package pgwrite
