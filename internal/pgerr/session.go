package pgerr

import (
	"strconv"
	"strings"
	"time"
)

// SessionTimeouts are the bounds the product puts on its own PostgreSQL
// sessions, the server-side half of its failure policy: no statement waits
// for a lock forever (it fails with LockNotAvailable, which the retry
// policy waits out), and no session that stopped in the middle of a
// transaction (a frozen Lambda sandbox, a stalled process) holds its locks
// forever (the server ends it with IdleInTransactionTimeout and rolls its
// transaction back).
type SessionTimeouts struct {
	LockTimeout       time.Duration // lock_timeout
	IdleInTransaction time.Duration // idle_in_transaction_session_timeout
}

// CLISessions suit the ddb2pg commands: a backfill's file transaction may
// wait on S3 between round trips, but never for minutes.
var CLISessions = SessionTimeouts{LockTimeout: 30 * time.Second, IdleInTransaction: 5 * time.Minute}

// LambdaSessions suit the stream function, whose transactions are short and
// whose sandbox may be frozen at any moment.
var LambdaSessions = SessionTimeouts{LockTimeout: 10 * time.Second, IdleInTransaction: time.Minute}

// Apply sets the timeouts as startup parameters in params (a connection
// config's RuntimeParams), except where the connection string already
// chose: a parameter of the same name (lock_timeout=5s in the URL), or a
// -c setting of it in options (options=-c%20lock_timeout%3D5s, or
// PGOPTIONS). An empty value in the URL (lock_timeout=) sends nothing, so
// the server's, database's or role's setting applies: that is also the way
// through a pooler that refuses unknown startup parameters.
func (s SessionTimeouts) Apply(params map[string]string) {
	set := func(name string, d time.Duration) {
		if v, ok := params[name]; ok {
			if v == "" {
				delete(params, name)
			}
			return
		}
		if strings.Contains(params["options"], name) || d <= 0 {
			return
		}
		params[name] = strconv.FormatInt(max(d.Milliseconds(), 1), 10) + "ms"
	}
	set("lock_timeout", s.LockTimeout)
	set("idle_in_transaction_session_timeout", s.IdleInTransaction)
}
