package exportgen

import (
	"fmt"
	"math/rand/v2"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ddb2pg/ddb2pg/pkg/ddbitem"
)

// EdgeCase is one of the fixed edge-case orders present when
// Config.EdgeCases is set. Every one is valid input: the sample mapping must
// load it without a reject.
type EdgeCase struct {
	OrderID     string // ORD-000001, ORD-000002, ... in list order
	Name        string // short stable name, e.g. "null-items"
	Description string
}

type edgeCase struct {
	name, desc string
	apply      func(g *gen, it ddbitem.Item, r *rand.Rand)
}

// EdgeCases lists the edge-case orders of an export made with EdgeCases set.
// They are order numbers 1..len(EdgeCases()), whatever the seed.
func EdgeCases() []EdgeCase {
	out := make([]EdgeCase, len(edgeCases))
	for i, e := range edgeCases {
		out[i] = EdgeCase{OrderID: OrderID(i + 1), Name: e.name, Description: e.desc}
	}
	return out
}

// Edge customers and products: ids outside the regular pools (CUST-Ennn,
// PROD-Ennn), each with one fixed name, so shared tables stay consistent
// even though several edge orders use them.
var (
	custUnicode = customer{id: "CUST-E001", name: "王小明 🐉", email: "wang.xiaoming@example.cn", hasName: true}
	custSpecial = customer{id: "CUST-E002", name: "O'Brien, \"Bobby\"\t\\N\r\nJr. ; | \\", email: "bobby+orders@example.com", hasName: true}
	custNoName  = customer{id: "CUST-E003"} // never has a name or an email

	prodUnicode = product{id: "PROD-E001", name: "抹茶ラテ 🍵 (Matcha Latte)", cents: 650}
	prodShip    = product{id: "PROD-E002", name: "Container Ship Engine ⚓", cents: 99999999999}
	prodFree    = product{id: "PROD-E003", name: "Free Sticker", cents: 0}
	prodSpecial = product{id: "PROD-E004", name: "12\" Pizza Stone, \"Pro\" \\ edition\ttab", cents: 3499}
)

func setCustomer(it ddbitem.Item, c customer) {
	it["customerId"] = ddbitem.Str(c.id)
	delete(it, "customerName")
	delete(it, "customerEmail")
	if c.hasName {
		it["customerName"] = ddbitem.Str(c.name)
	}
	if c.email != "" {
		it["customerEmail"] = ddbitem.Str(c.email)
	}
}

func (p product) line(q int64) line { return line{p.id, p.name, q, p.cents} }

// createdAt reads back the order's creation time to re-render it.
func createdAt(it ddbitem.Item) time.Time {
	t, _ := time.Parse(isoMillis, it["createdAt"].Str)
	return t
}

// text builds about n bytes of prose; with fancy it mixes in multi-byte
// characters so byte and character lengths differ.
func text(r *rand.Rand, n int, fancy bool) string {
	words := []string{"order", "parcel", "delivery", "customer", "warehouse", "please", "fragile", "gift",
		"window", "door", "neighbour", "tuesday", "morning", "evening", "box", "label"}
	if fancy {
		words = append(words, "café", "naïve", "—", "📦", "🚚", "配達", "Grüße", "ünïcödé")
	}
	var sb strings.Builder
	sb.Grow(n + 32)
	for sb.Len() < n {
		sb.WriteString(pick(r, words))
		switch r.IntN(12) {
		case 0:
			sb.WriteString(". ")
		case 1:
			sb.WriteString(".\n")
		default:
			sb.WriteByte(' ')
		}
	}
	s := sb.String()[:n]
	for !utf8.ValidString(s) { // the cut split a character: drop its head
		s = s[:len(s)-1]
	}
	return s
}

func emptyItems(it ddbitem.Item, items ddbitem.Value, present bool) {
	delete(it, "items")
	if present {
		it["items"] = items
	}
	it["total"] = ddbitem.Num("0.00")
}

func nest(depth int, leaf ddbitem.Value) ddbitem.Value {
	v := leaf
	for d := depth; d >= 1; d-- {
		v = ddbitem.MapOf(map[string]ddbitem.Value{fmt.Sprintf("level%d", d): v})
	}
	return v
}

func deepLeaf() ddbitem.Value {
	return ddbitem.MapOf(map[string]ddbitem.Value{
		"value":   ddbitem.Str("deep"),
		"count":   ddbitem.Num("5"),
		"flag":    ddbitem.Bool(true),
		"nothing": ddbitem.Null(),
		"list":    ddbitem.ListOf(ddbitem.Num("1"), ddbitem.MapOf(map[string]ddbitem.Value{"k": ddbitem.Str("v")})),
	})
}

func randomBytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return b
}

// maxItemBytes is DynamoDB's item size limit (400 KB, names included).
const maxItemBytes = 400 * 1024

var edgeCases = []edgeCase{
	{"big-numbers", "numbers with 38 significant digits, extreme exponents and above 2^53 in attrs (must stay exact in jsonb)",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			it["ledgerBalance"] = ddbitem.Num("1234567890123456789012345678.9012345678")
			it["maxCounter"] = ddbitem.Num("99999999999999999999999999999999999999")
			it["negativeBig"] = ddbitem.Num("-9876543210987654321098765432109876543.2")
			it["tinyRate"] = ddbitem.Num("0.0000000000000000000000000000000000012345678901234567890123456789012345678")
			it["maxMagnitude"] = ddbitem.Num("9.9999999999999999999999999999999999999E+125")
			it["counter2p53"] = ddbitem.Num("9007199254740993")
			it["bigSet"] = ddbitem.NumSet("12345678901234567890123456789012345678", "1E-130", "0.5")
		}},
	{"exponent-numbers", "numbers written in exponent form (1E+2, 2.5E-3, -1.25e1, 1e0) in attrs",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			it["loyaltyPoints"] = ddbitem.Num("1E+2")
			it["discountRate"] = ddbitem.Num("2.5E-3")
			it["weightKg"] = ddbitem.Num("-1.25e1")
			it["scale"] = ddbitem.Num("1e0")
		}},
	{"empty-items", "items is an empty list: no order_items rows, total 0.00",
		func(g *gen, it ddbitem.Item, r *rand.Rand) { emptyItems(it, ddbitem.ListOf(), true) }},
	{"missing-items", "no items attribute: no order_items rows, total 0.00",
		func(g *gen, it ddbitem.Item, r *rand.Rand) { emptyItems(it, ddbitem.Value{}, false) }},
	{"null-items", "items is NULL: no order_items rows, total 0.00",
		func(g *gen, it ddbitem.Item, r *rand.Rand) { emptyItems(it, ddbitem.Null(), true) }},
	{"unicode-names", "CJK and emoji in the customer (CUST-E001) and product (PROD-E001) names, notes and a tag set",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			setCustomer(it, custUnicode)
			setLines(it, []line{prodUnicode.line(2), g.product(g.pickProduct(r)).line(1)})
			it["notes"] = ddbitem.Str("请在门口放下 📦 — merci! 🙏🏽")
			it["tags"] = ddbitem.StrSet("礼物", "🎁", "gift")
		}},
	{"special-characters", "quotes, comma, tab, CR/LF, backslash and a literal \\N in the customer (CUST-E002) and product (PROD-E004) names (COPY/CSV hazards)",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			setCustomer(it, custSpecial)
			setLines(it, []line{prodSpecial.line(1)})
			it["notes"] = ddbitem.Str("Line one\nLine two\r\n\"quoted\" \\ backslash \\N tab\there, comma; pipe |")
		}},
	{"long-notes", "notes of about 100 KB with multi-byte characters",
		func(g *gen, it ddbitem.Item, r *rand.Rand) { it["notes"] = ddbitem.Str(text(r, 100*1024, true)) }},
	{"max-size-item", "an item just under DynamoDB's 400 KB limit (ASCII notes of ~398 KB): one JSON line of ~400 KB",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			it["notes"] = ddbitem.Str("")
			it["notes"] = ddbitem.Str(text(r, int(maxItemBytes-itemSize(it)-256), false))
		}},
	{"binary-and-sets", "B (with 0x00 and 0xFF bytes), BS, NS and SS (all unsorted) in attrs; customer CUST-E001 again",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			setCustomer(it, custUnicode)
			sig := randomBytes(r, 32)
			sig[0], sig[31] = 0x00, 0xFF
			it["signature"] = ddbitem.Bin(sig)
			it["attachments"] = ddbitem.BinSet([]byte{0xff, 0x01}, []byte{0x00}, []byte("hello"))
			it["ratings"] = ddbitem.NumSet("5", "-1.5", "10", "0.25", "3")
			it["labels"] = ddbitem.StrSet("zebra", "Äpfel", "apple", "日本", "Zulu")
		}},
	{"deep-nesting", "metadata: maps nested 5 levels deep, a list and NULL at the bottom",
		func(g *gen, it ddbitem.Item, r *rand.Rand) { it["metadata"] = nest(5, deepLeaf()) }},
	{"mixed-list", "a list holding every type: S, N, BOOL, NULL, M, L, SS, NS, B",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			it["history"] = ddbitem.ListOf(
				ddbitem.Str("created"), ddbitem.Num("1"), ddbitem.Bool(true), ddbitem.Null(),
				ddbitem.MapOf(map[string]ddbitem.Value{"at": it["createdAt"], "by": ddbitem.Str("system")}),
				ddbitem.ListOf(ddbitem.Str("nested"), ddbitem.Num("2")),
				ddbitem.StrSet("b", "a"), ddbitem.NumSet("2", "1"), ddbitem.Bin([]byte{1, 2, 3}),
			)
		}},
	{"empty-strings", "empty strings: notes, couponCode, giftMessage and a map member",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			it["notes"] = ddbitem.Str("")
			it["couponCode"] = ddbitem.Str("")
			it["giftMessage"] = ddbitem.Str("")
			it["preferences"] = ddbitem.MapOf(map[string]ddbitem.Value{"deliveryWindow": ddbitem.Str("")})
		}},
	{"string-numbers", "quantity, price and total stored as S holding numbers (\"3\", \"12.50\")",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			p1, p2 := g.product(g.pickProduct(r)), g.product(g.pickProduct(r))
			it["items"] = ddbitem.ListOf(
				ddbitem.MapOf(map[string]ddbitem.Value{"productId": ddbitem.Str(p1.id), "productName": ddbitem.Str(p1.name),
					"quantity": ddbitem.Str("3"), "price": ddbitem.Str("12.50")}),
				ddbitem.MapOf(map[string]ddbitem.Value{"productId": ddbitem.Str(p2.id), "productName": ddbitem.Str(p2.name),
					"quantity": ddbitem.Str("1"), "price": ddbitem.Str("0.99")}),
			)
			it["total"] = ddbitem.Str("38.49")
		}},
	{"duplicate-product-lines", "the same productId on two lines (a shared products table sees it twice in one item)",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			p := g.product(g.pickProduct(r))
			q := g.product(g.pickProduct(r))
			setLines(it, []line{p.line(1), q.line(2), p.line(3)})
		}},
	{"boundary-amounts", "total 9999999999.90, the largest numeric(12,2) magnitude class (10 x 999999999.99), and a 0.00 line of quantity 1000",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			setLines(it, []line{prodShip.line(10), prodFree.line(1000)})
		}},
	{"many-lines", "250 lines in one order (a wholesale order)",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			lines := make([]line, 250)
			for i := range lines {
				lines[i] = g.product(i % g.cfg.Products).line(int64(1 + weighted(r, quantityWeights)))
			}
			setLines(it, lines)
		}},
	{"timestamp-offset", "createdAt with a +09:00 offset and no fraction",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			it["createdAt"] = ddbitem.Str(createdAt(it).In(time.FixedZone("JST", 9*3600)).Format(time.RFC3339))
		}},
	{"timestamp-micros", "createdAt with microseconds (6 fraction digits)",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			t := createdAt(it).Add(time.Duration(r.IntN(1000)) * time.Microsecond)
			it["createdAt"] = ddbitem.Str(t.Format("2006-01-02T15:04:05.000000Z07:00"))
		}},
	{"timestamp-date-only", "createdAt as a bare date (YYYY-MM-DD)",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			it["createdAt"] = ddbitem.Str(createdAt(it).Format(time.DateOnly))
		}},
	{"epoch-attributes", "epoch numbers in attrs (seconds, milliseconds, fractional seconds); createdAt stays ISO",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			t := createdAt(it)
			it["paidAt"] = ddbitem.Num(fmt.Sprint(t.Add(time.Minute).Unix()))
			it["updatedAtMillis"] = ddbitem.Num(fmt.Sprint(t.Add(time.Hour).UnixMilli()))
			it["deliveredAtEpoch"] = ddbitem.Num(fmt.Sprintf("%d.5", t.Add(72*time.Hour).Unix()))
		}},
	{"null-columns", "mapped attributes absent or NULL: customer CUST-E003 has no name, customerEmail and status are NULL, createdAt is missing",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			setCustomer(it, custNoName)
			it["customerEmail"] = ddbitem.Null()
			it["status"] = ddbitem.Null()
			delete(it, "createdAt")
			it["shippingAddress"] = ddbitem.Null()
		}},
	{"unusual-attribute-names", "attribute names with CJK, emoji, spaces, a dot, a $ and 200 characters (jsonb keys)",
		func(g *gen, it ddbitem.Item, r *rand.Rand) {
			setCustomer(it, custUnicode)
			it["备注"] = ddbitem.Str("请小心轻放")
			it["gift message"] = ddbitem.Str("Happy birthday!")
			it["utm.source"] = ddbitem.Str("newsletter")
			it["🎁"] = ddbitem.Bool(true)
			it["$meta"] = ddbitem.MapOf(map[string]ddbitem.Value{"a b": ddbitem.Num("1")})
			it[strings.Repeat("x", 200)] = ddbitem.Str("long name")
		}},
}

// sprinkle adds rarer shapes to regular orders when EdgeCases is set, so the
// demo and benchmark data are not only the fixed cases. All are loadable.
func (g *gen) sprinkle(it ddbitem.Item, r *rand.Rand) {
	switch v := r.IntN(1000); {
	case v < 10:
		emptyItems(it, ddbitem.ListOf(), true)
	case v < 15:
		emptyItems(it, ddbitem.Value{}, false)
	case v < 20:
		emptyItems(it, ddbitem.Null(), true)
	}
	if r.IntN(1000) < 20 {
		it["metadata"] = nest(5, deepLeaf())
	}
	if r.IntN(1000) < 10 {
		it["signature"] = ddbitem.Bin(randomBytes(r, 16))
		it["attachments"] = ddbitem.BinSet(randomBytes(r, 8), randomBytes(r, 12))
	}
	if r.IntN(1000) < 10 {
		it["ratings"] = ddbitem.NumSet(fmt.Sprint(1+r.IntN(5)), fmt.Sprintf("%d.5", r.IntN(5)))
	}
	if r.IntN(1000) < 5 {
		it["ledgerBalance"] = ddbitem.Num(fmt.Sprintf("%d.%018d", r.Int64N(1e18), r.Int64N(1e18)))
	}
	if r.IntN(1000) < 10 {
		it["loyaltyPoints"] = ddbitem.Num(fmt.Sprintf("%dE+%d", 1+r.IntN(9), r.IntN(4)))
	}
	if r.IntN(2000) == 0 {
		it["notes"] = ddbitem.Str(text(r, 100*1024, true))
	}
}

// BadOrder is an item of the export that the sample mapping must reject,
// with the table and column whose conversion fails.
type BadOrder struct {
	OrderID string `json:"orderId"`
	Kind    string `json:"kind"`   // e.g. "nul-in-name"
	Table   string `json:"table"`  // sample mapping table
	Column  string `json:"column"` // sample mapping column
}

type badKind struct {
	kind, table, column string
	apply               func(it ddbitem.Item, r *rand.Rand)
}

func firstLine(it ddbitem.Item) map[string]ddbitem.Value { return it["items"].List[0].Map }

// badKinds are cycled through: bad order k gets badKinds[k % len]. Each
// breaks exactly one mapped column, so the reject names one table/column.
var badKinds = []badKind{
	{"nul-in-name", "customers", "name", func(it ddbitem.Item, r *rand.Rand) {
		name := it["customerName"].Str
		i := strings.IndexByte(name, ' ')
		if i < 0 {
			i = len(name)
		}
		it["customerName"] = ddbitem.Str(name[:i] + "\x00" + name[i:])
	}},
	{"total-overflow", "orders", "total", func(it ddbitem.Item, r *rand.Rand) {
		it["total"] = ddbitem.Num("123456789012.34") // 12 integer digits: numeric(12,2) holds 10
	}},
	{"quantity-not-a-number", "order_items", "quantity", func(it ddbitem.Item, r *rand.Rand) {
		firstLine(it)["quantity"] = ddbitem.Str("abc")
	}},
	{"quantity-fraction", "order_items", "quantity", func(it ddbitem.Item, r *rand.Rand) {
		firstLine(it)["quantity"] = ddbitem.Num("1.5")
	}},
	{"price-too-precise", "order_items", "price_at_purchase", func(it ddbitem.Item, r *rand.Rand) {
		firstLine(it)["price"] = ddbitem.Num("19.999") // a third decimal cannot be kept exactly
	}},
	{"price-overflow", "order_items", "price_at_purchase", func(it ddbitem.Item, r *rand.Rand) {
		firstLine(it)["price"] = ddbitem.Num("12345678901.00") // total left as it was, so only price fails
	}},
	{"bad-timestamp", "orders", "created_at", func(it ddbitem.Item, r *rand.Rand) {
		it["createdAt"] = ddbitem.Str("yesterday afternoon")
	}},
	{"missing-customer-id", "customers", "id", func(it ddbitem.Item, r *rand.Rand) {
		delete(it, "customerId") // customers.id is required
	}},
	{"quantity-out-of-range", "order_items", "quantity", func(it ddbitem.Item, r *rand.Rand) {
		firstLine(it)["quantity"] = ddbitem.Num("3000000000") // above integer's 2147483647
	}},
}

// BadOrders lists the items of cfg's export that the sample mapping must
// reject, by orderId. Nil for an invalid Config.
func BadOrders(cfg Config) []BadOrder {
	if cfg.Validate() != nil {
		return nil
	}
	g := newGen(cfg)
	nums := make([]int, 0, len(g.bad))
	for n := range g.bad {
		nums = append(nums, n)
	}
	sort.Ints(nums)
	out := make([]BadOrder, 0, len(nums))
	for _, n := range nums {
		k := g.bad[n]
		b := badKinds[k]
		out = append(out, BadOrder{OrderID: OrderID(n + 1), Kind: b.kind, Table: b.table, Column: b.column})
	}
	return out
}
