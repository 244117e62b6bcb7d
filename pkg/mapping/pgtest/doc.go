// Package pgtest holds the mapping engine's PostgreSQL round-trip tests:
// every Go value Rows produces is written to a real PostgreSQL table, by
// COPY and by query parameters, and read back. It is a package of its own
// so the mapping's unit tests need no database.
package pgtest
