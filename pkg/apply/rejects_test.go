package apply_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ddb2pg/ddb2pg/pkg/apply"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/stream"
)

// Rejects of any bytes are recorded and the batch goes on: a rejected value
// of more than 64 KiB of multi-byte text, U+0000, bytes that are not UTF-8.
func TestRejectsOfAnyBytes(t *testing.T) {
	e := setup(t, apply.Config{})
	long := order("o1", "c1", "x")
	long["total"] = ddbitem.Str(strings.Repeat("€", 30_000)) // not a number; 90,000 bytes, cut at 64 KiB inside a character
	nul := order("o2", "c1", "a\x00b")
	nul["attrs\x00"] = ddbitem.Str("x")
	notUTF8 := order("o3", "c1\xff", "\xfe")
	r := e.apply(put(1, long), put(2, nul), put(3, notUTF8), put(4, order("o4", "c1", "fine")))
	if r.Committed != 4 || r.Applied != 1 || r.Rejected != 3 {
		t.Fatalf("%s committed=%d", stats(r), r.Committed)
	}
	rows, err := e.pool.Query(e.ctx, `SELECT item_key, coalesce(raw_value, ''), reason FROM ddb2pg.rejects ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var keys []string
	for rows.Next() {
		var key, raw, reason string
		if err := rows.Scan(&key, &raw, &reason); err != nil {
			t.Fatal(err)
		}
		keys = append(keys, key)
		if !utf8.ValidString(raw) || len(raw) > ledger.MaxRawValue {
			t.Errorf("%s: raw value of %d bytes", key, len(raw))
		}
	}
	if len(keys) != 3 || !strings.Contains(keys[0], "o1") || !strings.Contains(keys[2], "o3") {
		t.Errorf("rejects recorded for %q", keys)
	}
}

// An unreadable record is recorded once however often it is delivered.
func TestUnreadableRecordRecordedOnce(t *testing.T) {
	e := setup(t, apply.Config{})
	bad := stream.Record{EventName: stream.Modify, Seq: seq(1), Err: errors.New("Keys: unsupported attribute type"),
		StreamViewType: stream.ViewNewAndOldImages}
	e.apply(bad, put(2, order("o1", "c1", "new")))
	r := e.apply(bad, put(2, order("o1", "c1", "new")))
	if r.Rejected != 0 || r.Skipped != 2 {
		t.Errorf("redelivery: %s", stats(r))
	}
	if n := e.count(`SELECT count(*) FROM ddb2pg.rejects`); n != 1 {
		t.Errorf("%d rejects after a redelivery, want 1", n)
	}
}

// An unreadable record whose item and sequence number are known is the
// item's newest change all the same: as with a rejected image, the item's
// old rows go, its version advances and the reject names the item.
func TestUnreadableRecordOfKnownItemRemovesRows(t *testing.T) {
	e := setup(t, apply.Config{})
	e.apply(put(1, order("o1", "c1", "new", "p1")))
	bad := put(2, order("o1", "c1", "newer", "p1"))
	bad.NewImage = nil
	bad.Err = errors.New(`NewImage: attribute "total": unsupported attribute type`)
	r := e.apply(bad)
	if r.Rejected != 1 {
		t.Fatalf("%s", stats(r))
	}
	if n := e.count(`SELECT count(*) FROM orders WHERE id = 'o1'`) + e.count(`SELECT count(*) FROM order_items WHERE order_id = 'o1'`); n != 0 {
		t.Errorf("%d rows of the older version remain", n)
	}
	if v := e.version("o1"); v.Seq != "2" {
		t.Errorf("version not advanced: %+v", v)
	}
	if n := e.count(`SELECT count(*) FROM ddb2pg.rejects WHERE item_key LIKE '%o1%' AND seq = $1`, seq(2)); n != 1 {
		t.Errorf("%d rejects naming o1", n)
	}
}

// A REMOVE needs no image: one whose old image is unreadable deletes the
// item as any REMOVE (a tombstone, no reject).
func TestRemoveWithUnreadableOldImageDeletes(t *testing.T) {
	e := setup(t, apply.Config{})
	e.apply(put(1, order("o1", "c1", "new", "p1")))
	rm := del(2, "o1")
	rm.Err = errors.New(`OldImage: attribute "total": DynamoDBAttributeValue: N type should contain a string`)
	if r := e.apply(rm); r.Applied != 1 || r.Rejected != 0 {
		t.Fatalf("%s", stats(r))
	}
	if n := e.count(`SELECT count(*) FROM orders WHERE id = 'o1'`) + e.count(`SELECT count(*) FROM ddb2pg.rejects`); n != 0 {
		t.Errorf("%d rows or rejects remain", n)
	}
	if v := e.version("o1"); !v.Deleted || v.Seq != "2" {
		t.Errorf("version %+v, want the REMOVE's tombstone", v)
	}
}
