package exportgen

import (
	"strconv"
	"strings"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// statsAcc counts one worker's share of an export. Distinct customers and
// products are bitsets over the regular pools (a few bits per id, so a
// million orders stay cheap) plus a small set for the edge ids.
type statsAcc struct {
	g                 *gen
	st                Stats
	cust, prod        []uint64
	extraC, extraProd map[string]bool
}

func (g *gen) newStatsAcc() *statsAcc {
	return &statsAcc{
		g:         g,
		cust:      make([]uint64, (g.cfg.Customers+63)/64),
		prod:      make([]uint64, (g.cfg.Products+63)/64),
		extraC:    map[string]bool{},
		extraProd: map[string]bool{},
	}
}

// index parses "CUST-00042" to 41; ok is false for ids outside the pool.
func index(id, prefix string, size int) (int, bool) {
	s, found := strings.CutPrefix(id, prefix)
	if !found {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > size {
		return 0, false
	}
	return n - 1, true
}

func mark(bits []uint64, extra map[string]bool, id, prefix string, size int) {
	if i, ok := index(id, prefix, size); ok {
		bits[i/64] |= 1 << (i % 64)
	} else {
		extra[id] = true
	}
}

// add counts order index n, whose item is it, the way the sample mapping
// turns it into rows.
func (a *statsAcc) add(n int, it ddbitem.Item) {
	a.st.Items++
	if _, bad := a.g.bad[n]; bad {
		a.st.Rejected++
		return
	}
	a.st.Orders++
	if c, ok := it["customerId"]; ok && c.Kind == ddbitem.S {
		mark(a.cust, a.extraC, c.Str, "CUST-", a.g.cfg.Customers)
	}
	if items := it["items"]; items.Kind == ddbitem.L {
		a.st.OrderItems += int64(len(items.List))
		for _, l := range items.List {
			if p, ok := l.Map["productId"]; ok && p.Kind == ddbitem.S {
				mark(a.prod, a.extraProd, p.Str, "PROD-", a.g.cfg.Products)
			}
		}
	}
}

func popcount(bits []uint64) int64 {
	var n int64
	for _, w := range bits {
		for ; w != 0; w &= w - 1 {
			n++
		}
	}
	return n
}

func (g *gen) mergeStats(accs ...*statsAcc) Stats {
	var st Stats
	cust := make([]uint64, (g.cfg.Customers+63)/64)
	prod := make([]uint64, (g.cfg.Products+63)/64)
	extraC, extraP := map[string]bool{}, map[string]bool{}
	for _, a := range accs {
		if a == nil {
			continue
		}
		st.Items += a.st.Items
		st.Rejected += a.st.Rejected
		st.Orders += a.st.Orders
		st.OrderItems += a.st.OrderItems
		for i := range cust {
			cust[i] |= a.cust[i]
		}
		for i := range prod {
			prod[i] |= a.prod[i]
		}
		for k := range a.extraC {
			extraC[k] = true
		}
		for k := range a.extraProd {
			extraP[k] = true
		}
	}
	st.Customers = popcount(cust) + int64(len(extraC))
	st.Products = popcount(prod) + int64(len(extraP))
	return st
}
