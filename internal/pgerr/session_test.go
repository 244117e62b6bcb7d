package pgerr

import (
	"maps"
	"testing"
	"time"
)

func TestSessionTimeoutsApply(t *testing.T) {
	t.Parallel()
	st := SessionTimeouts{LockTimeout: 30 * time.Second, IdleInTransaction: 5 * time.Minute}
	cases := []struct {
		name       string
		params, to map[string]string
	}{
		{"defaults", map[string]string{"application_name": "x"},
			map[string]string{"application_name": "x", "lock_timeout": "30000ms", "idle_in_transaction_session_timeout": "300000ms"}},
		{"URL parameter wins", map[string]string{"lock_timeout": "5s"},
			map[string]string{"lock_timeout": "5s", "idle_in_transaction_session_timeout": "300000ms"}},
		{"options wins", map[string]string{"options": "-c idle_in_transaction_session_timeout=1min"},
			map[string]string{"options": "-c idle_in_transaction_session_timeout=1min", "lock_timeout": "30000ms"}},
		{"empty sends nothing", map[string]string{"lock_timeout": "", "idle_in_transaction_session_timeout": ""},
			map[string]string{}},
	}
	for _, c := range cases {
		st.Apply(c.params)
		if !maps.Equal(c.params, c.to) {
			t.Errorf("%s: %v, want %v", c.name, c.params, c.to)
		}
	}
}
