package verify

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/ddb2pg/ddb2pg/internal/pgerr"
	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
	"github.com/ddb2pg/ddb2pg/pkg/mapping"
	"github.com/ddb2pg/ddb2pg/pkg/report"
)

var errEOF = io.EOF

// present replaces an entry's item once its rows are computed.
var present = ddbitem.Item{}

// entry is one item (or one key DynamoDB does not have) being compared.
type entry struct {
	key     ddbitem.Key
	keyItem ddbitem.Item
	item    ddbitem.Item // nil: DynamoDB does not have the key
	only    int          // >= 0: compare only this table (extra pass)
	// prepared: exp, tuple and eligible are computed (prepare ran)
	prepared bool
	// claimed: claimShared ran for the entry
	claimed bool

	reject *mapping.Reject
	exp    [][]expRow // expected rows per table
	// tuple and eligible: per non-shared table, the canonical key-column
	// values and whether the item's rows there are found by them.
	tuple    []string
	tupleV   [][]string
	eligible []bool
	// owned: per shared table, the rows this entry saw first (it decides
	// their class); conflicts: rows an earlier item saw with other values.
	owned     [][]*expRow
	conflicts []conflict
}

type expRow struct {
	pk    string   // canonical primary key tuple
	pkV   []string // its values
	vals  []string
	nulls []bool
	hash  uint64 // of the non-key values
}

type conflict struct {
	ti    int
	row   *expRow
	owner ddbitem.Key
	ph    uint64
}

// sharedState is what verify remembers per distinct shared row.
type sharedState struct {
	valHash  uint64
	owner    ddbitem.Key
	status   uint8
	conflict bool
	pk       string // display, set once the owner committed
}

const (
	stPending uint8 = iota
	stMatched
	stMissing
	stMismatched
)

type colDiff struct {
	name    string
	ddb, pg *string
}

type finding struct {
	ti      int
	class   string
	row     string // primary key as JSON object
	cols    []colDiff
	ddb, pg *string
}

type sharedResult struct {
	ti     int
	ph     uint64
	status uint8
	row    string
	f      *finding
	pk     string
}

type outcome struct {
	e         *entry
	expected  []int64
	matched   []int64
	findings  []finding
	shared    []sharedResult
	divergent bool
	// withRows: per non-shared table, PostgreSQL had rows under the item's
	// key columns (the extra pass's shortcut counts these).
	withRows []bool
}

// lookups are the PostgreSQL rows fetched for a set of entries.
type lookups struct {
	byKey []map[string][]pgRow // non-shared: key tuple -> rows
	byPK  []map[string]pgRow   // shared: pk tuple -> row
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// fnvAdd folds s into an FNV-1a hash without allocating.
func fnvAdd(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= fnvPrime
	}
	return h
}

func fnvAddBytes(h uint64, s []byte) uint64 {
	for _, c := range s {
		h ^= uint64(c)
		h *= fnvPrime
	}
	return h
}

func fnvByte(h uint64, b byte) uint64 {
	h ^= uint64(b)
	return h * fnvPrime
}

func hashStr(s string) uint64 { return fnvAdd(fnvOffset, s) }

// slab hands out small slices from larger blocks, so the many short-lived
// per-row slices of a chunk cost few allocations.
type slab struct {
	strs  []string
	bools []bool
}

func (sl *slab) take(n int) ([]string, []bool) {
	if sl == nil {
		return make([]string, n), make([]bool, n)
	}
	if len(sl.strs) < n {
		sl.strs = make([]string, max(n, 512))
	}
	if len(sl.bools) < n {
		sl.bools = make([]bool, max(n, 512))
	}
	s, b := sl.strs[:n:n], sl.bools[:n:n]
	sl.strs, sl.bools = sl.strs[n:], sl.bools[n:]
	return s, b
}

// expRow converts a mapping row into canonical form.
func (tb *table) expRow(row mapping.Row) (*expRow, error) {
	er := &expRow{}
	if err := tb.fillExpRow(er, row, nil); err != nil {
		return nil, err
	}
	return er, nil
}

func (tb *table) fillExpRow(er *expRow, row mapping.Row, sl *slab) error {
	n := len(tb.t.Columns)
	er.vals, er.nulls = sl.take(n)
	for i, c := range tb.t.Columns {
		s, null, err := norm(c.Type, row[i])
		if err != nil {
			return err
		}
		er.vals[i], er.nulls[i] = s, null
	}
	er.pkV, _ = sl.take(len(tb.t.PKIndexes))
	for i, ci := range tb.t.PKIndexes {
		er.pkV[i] = er.vals[ci]
	}
	er.pk = joinTuple(er.pkV)
	h := uint64(fnvOffset)
	for i := range er.vals {
		if er.nulls[i] {
			h = fnvByte(h, 0)
		} else {
			h = fnvAdd(fnvByte(h, 1), er.vals[i])
		}
		h = fnvByte(h, 0xff)
	}
	er.hash = h
	return nil
}

// prepare computes an entry's expected rows and key tuples.
func (v *verifier) prepare(e *entry) error { return v.prepareWith(e, nil) }

func (v *verifier) prepareWith(e *entry, sl *slab) error {
	nt := len(v.tables)
	e.exp = make([][]expRow, nt)
	e.tuple, e.eligible = sl.take(nt)
	e.tupleV = make([][]string, nt)
	if e.item != nil {
		rows, rej := v.m.Rows(e.item)
		e.item = present // the rows are computed: let the item go
		if rej != nil {
			// A rejected item expects no rows: its key tuples are still
			// computed below, so rows PostgreSQL holds for it are extra.
			e.reject = rej
			rows = make(mapping.Rows, nt)
		}
		total := 0
		for ti := range v.tables {
			if e.only < 0 || ti == e.only {
				total += len(rows[ti])
			}
		}
		all := make([]expRow, total)
		for ti, tb := range v.tables {
			if e.only >= 0 && ti != e.only {
				continue
			}
			n := len(rows[ti])
			exp := all[:n:n]
			all = all[n:]
			for ri, row := range rows[ti] {
				if err := tb.fillExpRow(&exp[ri], row, sl); err != nil {
					return err
				}
			}
			if n > 0 {
				e.exp[ti] = exp
			}
		}
	}
	for ti, tb := range v.tables {
		if tb.t.Shared || (e.only >= 0 && ti != e.only) {
			continue
		}
		vals, ok, err := v.m.KeyValues(tb.t, e.keyItem)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		tv, _ := sl.take(len(vals))
		for i, ci := range tb.t.KeyColumns {
			s, _, err := norm(tb.t.Columns[ci].Type, vals[i])
			if err != nil {
				return err
			}
			tv[i] = s
		}
		e.tupleV[ti], e.tuple[ti], e.eligible[ti] = tv, joinTuple(tv), true
	}
	return nil
}

// claimShared records the entry's shared rows: first sightings become the
// entry's to classify; a row seen before with other values is a possible
// conflict.
func (v *verifier) claimShared(chunk []*entry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, e := range chunk {
		if e.reject != nil || e.claimed {
			continue
		}
		e.claimed = true
		e.owned = make([][]*expRow, len(v.tables))
		for ti, tb := range v.tables {
			if !tb.t.Shared {
				continue
			}
			for ri := range e.exp[ti] {
				er := &e.exp[ti][ri]
				ph := hashStr(er.pk)
				st, ok := v.shared[ti][ph]
				if !ok {
					v.shared[ti][ph] = sharedState{valHash: er.hash, owner: e.key}
					e.owned[ti] = append(e.owned[ti], er)
					continue
				}
				if st.valHash == er.hash || st.conflict || st.owner == e.key {
					continue
				}
				e.conflicts = append(e.conflicts, conflict{ti: ti, row: er, owner: st.owner, ph: ph})
			}
		}
	}
}

// lookup fetches the PostgreSQL rows the entries need: one query per
// table, the tables in parallel.
func (v *verifier) lookup(ctx context.Context, chunk []*entry) (*lookups, error) {
	nt := len(v.tables)
	lk := &lookups{byKey: make([]map[string][]pgRow, nt), byPK: make([]map[string]pgRow, nt)}
	g, gctx := errgroup.WithContext(ctx)
	for ti, tb := range v.tables {
		seen := map[string]bool{}
		var tuples [][]string
		if tb.t.Shared {
			add := func(er *expRow) {
				if !seen[er.pk] {
					seen[er.pk] = true
					tuples = append(tuples, er.pkV)
				}
			}
			for _, e := range chunk {
				if e.owned != nil {
					for _, er := range e.owned[ti] {
						add(er)
					}
				}
				for _, c := range e.conflicts {
					if c.ti == ti {
						add(c.row)
					}
				}
			}
			g.Go(func() error {
				rows, err := tb.lookup(gctx, v.pool, tb.byPK, len(tb.t.PKIndexes), tuples)
				if err != nil {
					return err
				}
				m := make(map[string]pgRow, len(rows))
				for _, r := range rows {
					m[tupleOf(r, tb.t.PKIndexes)] = r
				}
				lk.byPK[ti] = m
				return nil
			})
			continue
		}
		for _, e := range chunk {
			if !e.eligible[ti] || seen[e.tuple[ti]] {
				continue
			}
			seen[e.tuple[ti]] = true
			tuples = append(tuples, e.tupleV[ti])
		}
		g.Go(func() error {
			rows, err := tb.lookup(gctx, v.pool, tb.byKey, len(tb.t.KeyColumns), tuples)
			if err != nil {
				return err
			}
			m := make(map[string][]pgRow, len(tuples))
			for _, r := range rows {
				k := tupleOf(r, tb.t.KeyColumns)
				m[k] = append(m[k], r)
			}
			lk.byKey[ti] = m
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return lk, nil
}

func strp(s string) *string { return &s }

func valp(s string, null bool) *string {
	if null {
		return nil
	}
	return &s
}

// rowJSON renders values of the columns as a JSON object.
func rowJSON(t *mapping.Table, cols []int, vals []string, nulls []bool) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, ci := range cols {
		if i > 0 {
			sb.WriteByte(',')
		}
		b, _ := json.Marshal(t.Columns[ci].Name)
		sb.Write(b)
		sb.WriteByte(':')
		if nulls != nil && nulls[ci] {
			sb.WriteString("null")
		} else {
			b, _ = json.Marshal(vals[ci])
			sb.Write(b)
		}
	}
	sb.WriteByte('}')
	return sb.String()
}

func allCols(t *mapping.Table) []int {
	c := make([]int, len(t.Columns))
	for i := range c {
		c[i] = i
	}
	return c
}

func pkJSON(t *mapping.Table, er *expRow) string {
	idx := make([]int, len(t.PKIndexes))
	vals := make([]string, len(t.Columns))
	for i, ci := range t.PKIndexes {
		idx[i] = ci
		vals[ci] = er.pkV[i]
	}
	return rowJSON(t, idx, vals, nil)
}

func pgPKJSON(t *mapping.Table, r pgRow) string {
	return rowJSON(t, t.PKIndexes, r.vals, r.nulls)
}

// compareRow returns the columns whose values differ.
func compareRow(t *mapping.Table, er *expRow, r pgRow) []colDiff {
	var d []colDiff
	for i, c := range t.Columns {
		if er.nulls[i] == r.nulls[i] && (er.nulls[i] || er.vals[i] == r.vals[i]) {
			continue
		}
		d = append(d, colDiff{name: c.Name, ddb: valp(er.vals[i], er.nulls[i]), pg: valp(r.vals[i], r.nulls[i])})
	}
	return d
}

// evaluate compares one entry with the PostgreSQL rows.
func (v *verifier) evaluate(e *entry, lk *lookups) *outcome {
	nt := len(v.tables)
	o := &outcome{e: e, expected: make([]int64, nt), matched: make([]int64, nt), withRows: make([]bool, nt)}
	// A rejected item has no expected rows (e.exp is empty, e.owned nil):
	// whatever PostgreSQL holds under its key is extra.
	for ti, tb := range v.tables {
		t := tb.t
		if e.only >= 0 && ti != e.only {
			continue
		}
		if t.Shared {
			if e.owned == nil {
				continue
			}
			for _, er := range e.owned[ti] {
				sr := sharedResult{ti: ti, ph: hashStr(er.pk), row: pkJSON(t, er)}
				// the current expectation for this row (a recheck re-reads the item)
				cur := er
				for ri := range e.exp[ti] {
					if e.exp[ti][ri].pk == er.pk {
						cur = &e.exp[ti][ri]
						break
					}
				}
				r, ok := lk.byPK[ti][er.pk]
				switch {
				case !ok:
					sr.status = stMissing
					sr.f = &finding{ti: ti, class: report.Missing, row: sr.row,
						ddb: strp(rowJSON(t, allCols(t), cur.vals, cur.nulls))}
					o.divergent = true
				default:
					if d := compareRow(t, cur, r); len(d) > 0 {
						sr.status = stMismatched
						sr.f = &finding{ti: ti, class: report.Mismatched, row: sr.row, cols: d}
						o.divergent = true
					} else {
						sr.status = stMatched
					}
				}
				o.shared = append(o.shared, sr)
			}
			continue
		}
		exp := e.exp[ti]
		o.expected[ti] = int64(len(exp))
		var pg []pgRow
		if e.eligible[ti] {
			pg = lk.byKey[ti][e.tuple[ti]]
			o.withRows[ti] = len(pg) > 0
		}
		// an item has few rows: match them by primary key linearly
		var usedBuf [8]bool
		used := usedBuf[:0]
		if len(pg) > len(usedBuf) {
			used = make([]bool, len(pg))
		} else {
			used = usedBuf[:len(pg)]
		}
		for ri := range exp {
			er := &exp[ri]
			i := -1
			for j := range pg {
				if !used[j] && tupleOf(pg[j], t.PKIndexes) == er.pk {
					i = j
					break
				}
			}
			if i < 0 {
				o.findings = append(o.findings, finding{ti: ti, class: report.Missing, row: pkJSON(t, er),
					ddb: strp(rowJSON(t, allCols(t), er.vals, er.nulls))})
				o.divergent = true
				continue
			}
			used[i] = true
			if d := compareRow(t, er, pg[i]); len(d) > 0 {
				o.findings = append(o.findings, finding{ti: ti, class: report.Mismatched, row: pkJSON(t, er), cols: d})
				o.divergent = true
			} else {
				o.matched[ti]++
			}
		}
		for i := range pg {
			if used[i] {
				continue
			}
			r := pg[i]
			o.findings = append(o.findings, finding{ti: ti, class: report.Extra, row: pgPKJSON(t, r),
				pg: strp(rowJSON(t, allCols(t), r.vals, r.nulls))})
			o.divergent = true
		}
	}
	return o
}

// process compares a chunk of entries: expected rows, one PostgreSQL query
// per table, classification, rechecks of suspects, then the counts.
func (v *verifier) process(ctx context.Context, chunk []*entry) error {
	if len(chunk) == 0 {
		return nil
	}
	sl := &slab{}
	for _, e := range chunk {
		if e.prepared {
			continue
		}
		if err := v.prepareWith(e, sl); err != nil {
			return err
		}
	}
	v.claimShared(chunk)
	lk, err := v.lookup(ctx, chunk)
	if err != nil {
		return err
	}
	var final, suspects []*outcome
	for _, e := range chunk {
		o := v.evaluate(e, lk)
		if o.divergent && v.opts.Recheck > 0 {
			suspects = append(suspects, o)
		} else {
			final = append(final, o)
		}
	}
	var resolved, persisted int64
	nSuspects := int64(len(suspects))
	delay := v.opts.RecheckDelay
	for round := 0; round < v.opts.Recheck && len(suspects) > 0; round++ {
		if err := pgerr.Sleep(ctx, delay); err != nil {
			return err
		}
		delay *= 2
		fresh := make([]*entry, len(suspects))
		for i, s := range suspects {
			it, err := v.getItem(ctx, s.e.keyItem)
			if err != nil {
				return err
			}
			fe := &entry{key: s.e.key, keyItem: s.e.keyItem, item: it, only: s.e.only, owned: s.e.owned}
			if err := v.prepare(fe); err != nil {
				return err
			}
			if fe.reject != nil {
				fe.owned = nil
			}
			fresh[i] = fe
		}
		lk, err := v.lookup(ctx, fresh)
		if err != nil {
			return err
		}
		var still []*outcome
		for _, fe := range fresh {
			o := v.evaluate(fe, lk)
			if o.divergent {
				still = append(still, o)
			} else {
				resolved++
				final = append(final, o)
			}
		}
		suspects = still
	}
	persisted = int64(len(suspects))
	final = append(final, suspects...)
	for _, e := range chunk {
		for _, c := range e.conflicts {
			if err := v.checkConflict(ctx, e, c, lk); err != nil {
				return err
			}
		}
	}
	v.mu.Lock()
	v.res.Recheck.Suspects += nSuspects
	v.res.Recheck.Resolved += resolved
	v.res.Recheck.Persisted += persisted
	for _, o := range final {
		v.commit(o)
	}
	v.mu.Unlock()
	v.progress()
	return nil
}

// checkConflict confirms that the item that first saw a shared row (re-read
// consistently) still disagrees with e about its values, and records it.
func (v *verifier) checkConflict(ctx context.Context, e *entry, c conflict, lk *lookups) error {
	tb := v.tables[c.ti]
	ki, err := v.m.KeyItem(c.owner)
	if err != nil {
		return err
	}
	it, err := v.getItem(ctx, ki)
	if err != nil || it == nil {
		return err
	}
	rows, rej := v.m.Rows(it)
	if rej != nil {
		return nil
	}
	var other *expRow
	for _, row := range rows[c.ti] {
		er, err := tb.expRow(row)
		if err != nil {
			return err
		}
		if er.pk == c.row.pk {
			other = er
			break
		}
	}
	if other == nil || other.hash == c.row.hash {
		return nil
	}
	pg, havePG := lk.byPK[c.ti][c.row.pk]
	row := pkJSON(tb.t, c.row)
	v.mu.Lock()
	defer v.mu.Unlock()
	st := v.shared[c.ti][c.ph]
	if st.conflict {
		return nil
	}
	st.conflict = true
	cnt := v.counts[c.ti]
	switch st.status {
	case stMatched:
		cnt.Matched--
		cnt.SharedConflict++
	case stMismatched:
		cnt.Mismatched--
		cnt.SharedConflict++
		v.dropSamples(tb.name, report.Mismatched, row)
	}
	v.shared[c.ti][c.ph] = st
	for i, col := range tb.t.Columns {
		if other.nulls[i] == c.row.nulls[i] && (other.nulls[i] || other.vals[i] == c.row.vals[i]) {
			continue
		}
		s := report.Sample{Key: string(c.owner), Table: tb.name, Class: report.SharedConflict, Row: row, Column: col.Name,
			DynamoDBValue: valp(other.vals[i], other.nulls[i]), OtherKey: string(e.key),
			OtherValue: valp(c.row.vals[i], c.row.nulls[i])}
		if havePG {
			s.PostgresValue = valp(pg.vals[i], pg.nulls[i])
		}
		v.addSample(s)
	}
	return nil
}

func (v *verifier) addSample(s report.Sample) {
	k := s.Table + "\x00" + s.Class
	if v.samples[k] >= v.opts.SamplesPerClass {
		v.res.SamplesOmitted++
		return
	}
	v.samples[k]++
	v.res.Samples = append(v.res.Samples, s)
}

func (v *verifier) dropSamples(table, class, row string) {
	out := v.res.Samples[:0]
	for _, s := range v.res.Samples {
		if s.Table == table && s.Class == class && s.Row == row {
			v.samples[table+"\x00"+class]--
			continue
		}
		out = append(out, s)
	}
	v.res.Samples = out
}

func (v *verifier) addFinding(key ddbitem.Key, f *finding) {
	tb := v.tables[f.ti]
	if len(f.cols) == 0 {
		v.addSample(report.Sample{Key: string(key), Table: tb.name, Class: f.class, Row: f.row, DynamoDBValue: f.ddb, PostgresValue: f.pg})
		return
	}
	for _, c := range f.cols {
		v.addSample(report.Sample{Key: string(key), Table: tb.name, Class: f.class, Row: f.row, Column: c.name,
			DynamoDBValue: c.ddb, PostgresValue: c.pg})
	}
}

func (v *verifier) countRead() {
	v.read.Add(1)
	if v.live != &v.read {
		v.live.Add(1)
	}
}

// commit adds an outcome to the counts; v.mu is held.
func (v *verifier) commit(o *outcome) {
	e := o.e
	switch {
	case e.reject != nil:
		v.countRead()
		v.res.Items.Rejected++
		if c, ok := v.res.Tables[e.reject.Table]; ok {
			c.Rejected++
		}
		if len(v.res.Rejected) < v.opts.MaxRejected {
			v.res.Rejected = append(v.res.Rejected, report.Rejected{Key: string(e.key), Table: e.reject.Table,
				Column: e.reject.Column, Path: e.reject.Path, Value: e.reject.Raw, Reason: e.reject.Reason})
		} else {
			v.res.RejectedOmitted++
		}
		// its rows, if PostgreSQL still holds any, are counted below as extra
	case e.item == nil:
		v.res.Items.Absent++
	default:
		v.countRead()
	}
	for ti := range v.tables {
		c := v.counts[ti]
		c.ExpectedRows += o.expected[ti]
		c.Matched += o.matched[ti]
		if o.withRows[ti] {
			v.itemsWithRows[ti]++
			v.tupleSum[ti] += hashStr(e.tuple[ti])
		}
	}
	divergent := len(o.findings) > 0 && e.item != nil
	for i := range o.findings {
		f := &o.findings[i]
		c := v.counts[f.ti]
		switch f.class {
		case report.Missing:
			c.Missing++
		case report.Extra:
			c.Extra++
		case report.Mismatched:
			c.Mismatched++
		}
		v.addFinding(e.key, f)
	}
	for _, sr := range o.shared {
		c := v.counts[sr.ti]
		st := v.shared[sr.ti][sr.ph]
		c.ExpectedRows++
		switch {
		case sr.status == stMissing:
			c.Missing++
		case st.conflict:
			c.SharedConflict++
			sr.f = nil
		case sr.status == stMatched:
			c.Matched++
		case sr.status == stMismatched:
			c.Mismatched++
		}
		if sr.f != nil {
			v.addFinding(e.key, sr.f)
		}
		st.status = sr.status
		if sr.status != stMatched {
			st.pk = sr.row
		}
		v.shared[sr.ti][sr.ph] = st
	}
	if divergent {
		v.res.Items.Divergent++
	}
}

func hexBytes(s string) ([]byte, error) {
	return hex.DecodeString(strings.TrimPrefix(s, `\x`))
}

func randPerm(n int) []int { return rand.Perm(n) }

// sortSamples orders samples by table (mapping order), class, key, row and
// column so reports are stable.
func sortSamples(r *report.Result, m *mapping.Mapping) {
	order := map[string]int{}
	for i, t := range m.Tables {
		order[t.Name] = i
	}
	sort.SliceStable(r.Samples, func(i, j int) bool {
		a, b := r.Samples[i], r.Samples[j]
		if order[a.Table] != order[b.Table] {
			return order[a.Table] < order[b.Table]
		}
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		if a.Key != b.Key {
			return a.Key < b.Key
		}
		if a.Row != b.Row {
			return a.Row < b.Row
		}
		return a.Column < b.Column
	})
	sort.SliceStable(r.Rejected, func(i, j int) bool { return r.Rejected[i].Key < r.Rejected[j].Key })
}

// orphanPass reads every row of the shared tables: a row no item read in
// this run refers to is orphaned (a customer whose last order was deleted).
// Only a run that read every item can tell.
func (v *verifier) orphanPass(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for ti, tb := range v.tables {
		if !tb.t.Shared {
			continue
		}
		g.Go(func() error {
			rows, err := v.pool.Query(gctx, "SELECT "+strings.Join(tb.sel, ", ")+" FROM "+tb.t.Ident.Sanitize())
			if err != nil {
				return fmt.Errorf("reading the rows of shared table %s: %w", tb.name, err)
			}
			defer rows.Close()
			all := allCols(tb.t)
			dest := tb.dest(all)
			for rows.Next() {
				r, err := tb.scanInto(rows, all, dest)
				if err != nil {
					return err
				}
				ph := hashStr(tupleOf(r, tb.t.PKIndexes))
				v.mu.Lock()
				if _, ok := v.shared[ti][ph]; !ok {
					v.counts[ti].Orphaned++
					v.addSample(report.Sample{Table: tb.name, Class: report.Orphaned, Row: pgPKJSON(tb.t, r),
						PostgresValue: strp(rowJSON(tb.t, all, r.vals, r.nulls))})
				}
				v.mu.Unlock()
			}
			if err := rows.Err(); err != nil {
				return fmt.Errorf("reading the rows of shared table %s: %w", tb.name, err)
			}
			return nil
		})
	}
	return g.Wait()
}
