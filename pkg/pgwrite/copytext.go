package pgwrite

// The primitives of PostgreSQL's COPY text format that every bulk writer
// shares (this package's COPY path and the ledger's): escaping a field, and
// sending prepared COPY data; the server parses the text as it does psql's
// \copy.

import (
	"bytes"
	"context"

	"github.com/jackc/pgx/v5/pgconn"
)

// needsEscape marks the bytes COPY's text format escapes.
var needsEscape = [256]bool{'\\': true, '\n': true, '\r': true, '\t': true}

// AppendText appends s escaped as one field of COPY's text format.
func AppendText[S string | []byte](b []byte, s S) []byte {
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !needsEscape[c] {
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '\\':
			b = append(b, '\\', '\\')
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		}
		start = i + 1
	}
	return append(b, s[start:]...)
}

// Send runs sql ("COPY t (cols) FROM STDIN") with data, complete rows of
// tab-separated fields ending in newlines, and returns the rows written.
func Send(ctx context.Context, conn *pgconn.PgConn, sql string, data []byte) (int64, error) {
	tag, err := conn.CopyFrom(ctx, bytes.NewReader(data), sql)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
