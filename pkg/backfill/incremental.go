package backfill

import (
	"context"
	"maps"
	"slices"
	"sort"
	"time"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/ddbjson"
	"github.com/ddb2pg/ddb2pg/pkg/ledger"
	"github.com/ddb2pg/ddb2pg/pkg/pgwrite"
)

// An incremental export (exportType INCREMENTAL_EXPORT) holds changes, not
// items: each line is one item's last change in the export's window, with
// its write time (WriteTimestampMicros), its Keys, and NewImage (insert,
// modify) or only OldImage (delete). Lines are in no particular order.
//
// Files are loaded exactly as a full export's (one transaction per file,
// file bookkeeping, integrity checks, rejects with file and line); only the
// flush differs: a change applies under ledger.ClaimForIncremental's guard
// (the item is unknown, or its applied version came from an export and is
// strictly older than the change's write time; a stream-applied version
// always wins), and its rows are written as the stream writes them
// (pgwrite.Writer.WriteItems): the item's non-shared rows are replaced as a
// set, or deleted for a delete (a tombstone stays in the ledger), and shared
// rows are upserted. Write times alone decide, so applying an incremental
// export twice, or windows out of order, never regresses an item.

// change is one incremental export line's change of an item.
type change struct {
	keys      ddbitem.Item
	writeTime time.Time
	deleted   bool // only OldImage: the item was deleted
}

// handleChange decodes an incremental export's line into a change, or
// rejects it.
func (fl *fileLoad) handleChange(c *lineChunk, line int64, data []byte, rec ddbjson.Record) {
	if !fl.r.incremental {
		fl.reject(c, line, "", ledger.Problem{Raw: string(data), Reason: "an incremental export's change line in a full export"})
		return
	}
	if !rec.Incremental {
		fl.reject(c, line, "", ledger.Problem{Raw: string(data), Reason: `line is not a change (no "Metadata", "Keys", "NewImage" or "OldImage"): is this a full export's line?`})
		return
	}
	keys := rec.Keys
	if keys == nil {
		keys = rec.NewImage
	}
	if keys == nil {
		keys = rec.OldImage
	}
	if keys == nil {
		fl.reject(c, line, "", ledger.Problem{Raw: string(data), Reason: `change has no "Keys" and no image`})
		return
	}
	m := fl.r.cfg.Mapping
	key, err := m.KeyOf(keys)
	if err != nil {
		fl.reject(c, line, "", ledger.Problem{Raw: keys.String(), Reason: "reading the item's key: " + err.Error()})
		return
	}
	if rec.WriteTimeMicros <= 0 {
		fl.reject(c, line, string(key), ledger.Problem{Raw: string(data), Reason: "change has no Metadata.WriteTimestampMicros"})
		return
	}
	ch := &change{keys: keys, writeTime: time.UnixMicro(rec.WriteTimeMicros).UTC(), deleted: rec.NewImage == nil}
	p := pendingItem{key: string(key), chg: ch, line: line}
	if !ch.deleted {
		rows, rej := m.Rows(rec.NewImage)
		if rej != nil {
			// Kept as a change: if it is the item's newest, its rows go
			// and the reject is recorded, as the stream does.
			r := fl.newReject(line, string(key), ledger.FromMapping(rej))
			p.rej = &r
		} else {
			p.rows, p.pks = rows, fl.sharedPKs(rows)
		}
	}
	c.items = append(c.items, p)
}

// flushChanges applies a chunk of changes: per item the newest change in
// the chunk is claimed, and the claimed ones are written.
func (fl *fileLoad) flushChanges(ctx context.Context, chunk []pendingItem) error {
	// The newest change of each item (equal write times: the later line).
	winner := make(map[string]int, len(chunk))
	for i, p := range chunk {
		if w, ok := winner[p.key]; !ok || !p.chg.writeTime.Before(chunk[w].chg.writeTime) {
			winner[p.key] = i
		}
	}
	claims := make([]ledger.IncrementalClaim, 0, len(winner))
	for k, i := range winner {
		claims = append(claims, ledger.IncrementalClaim{Key: k, WriteTime: chunk[i].chg.writeTime, Deleted: chunk[i].chg.deleted})
	}
	sort.Slice(claims, func(a, b int) bool { return claims[a].Key < claims[b].Key })
	out, err := fl.r.cfg.Ledger.ClaimForIncremental(ctx, fl.tx, fl.r.cfg.Mapping.Source.Table, claims)
	if err != nil {
		return err
	}
	var writes []pgwrite.ItemWrite
	var owners []int // per write: its change in chunk
	for i, p := range chunk {
		o := out[p.key]
		win := winner[p.key] == i
		// A change superseded in this chunk counts as applied when it is
		// newer than what was applied before (as the stream counts them).
		applies := o.Won && (win || o.PrevOrigin == "" || o.PrevTime.Before(p.chg.writeTime))
		if !applies {
			fl.res.Skipped++
			continue
		}
		if p.rej != nil {
			fl.addReject(*p.rej)
		} else {
			fl.res.Loaded++
		}
		if !win {
			continue
		}
		// Shared rows are inserted when absent, never overwritten: an
		// export's copy may be older than the stream's row.
		w := pgwrite.ItemWrite{Keys: p.chg.keys, Fresh: o.Fresh, SharedIfAbsent: true}
		if !p.chg.deleted && p.rej == nil {
			w.Rows = p.rows
			for ti, rt := range fl.r.tables {
				fl.res.TableRows[rt.T.Name] += int64(len(p.rows[ti]))
			}
		}
		writes = append(writes, w)
		owners = append(owners, i)
	}
	written := make(map[int]bool, len(owners)) // changes whose shared rows the writes carry
	for _, i := range owners {
		written[i] = true
	}
	if !fl.isolate {
		if err := fl.r.writer.WriteItems(ctx, fl.tx, writes, fl.careful); err != nil {
			return err
		}
	} else {
		// Item by item (see fileLoad.load): a change whose rows PostgreSQL
		// refuses is rejected, as the stream rejects a record: the item's
		// rows go, its claimed version stays, its shared rows are left out.
		refused, err := fl.r.writer.WriteItemsIsolated(ctx, fl.tx, writes)
		if err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(refused)) {
			why := refused[k]
			p := chunk[owners[k]]
			if p.rej != nil {
				continue // rejected already; its old rows could not be deleted
			}
			for ti, rt := range fl.r.tables {
				fl.res.TableRows[rt.T.Name] -= int64(len(p.rows[ti]))
			}
			fl.res.Loaded--
			reason := "PostgreSQL refused the item's rows: "
			if p.chg.deleted {
				reason = "PostgreSQL refused deleting the item's rows: "
			}
			fl.addReject(fl.newReject(p.line, p.key, ledger.Problem{Reason: reason + why.Error()}))
		}
	}
	// The shared rows of the changes not written (skipped as older than
	// what is applied, or superseded in this chunk) are inserted when
	// absent at the file's end, as a full export's skipped copies are: an
	// item's change never deletes shared rows, so the rows an older change
	// referenced are there whatever order the exports and the stream ran in.
	for ti, rt := range fl.r.tables {
		if rt.T.Shared {
			if err := fl.addShared(ctx, chunk, ti, rt, func(i int, p *pendingItem) bool { return !written[i] }); err != nil {
				return err
			}
		}
	}
	return nil
}
